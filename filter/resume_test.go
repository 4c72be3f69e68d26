package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/internal/testjwt"
)

// coreRemoteConfig is one remote_jwks provider with a claim header.
func coreRemoteConfig(extra string) string {
	return `{"providers":[{"name":"idp","issuer":"` + testIssuer + `",
	  "remote_jwks":{"cluster":"idp","uri":"https://idp.example.com/certs"` + extra + `},
	  "claim_to_headers":[{"claim":"sub","header":"x-jwt-sub"}]}]}`
}

// calloutLog remembers, per context, how many of its callouts were answered.
// (proxytest reuses callout ids once answered, so ids cannot be the key.)
type calloutLog map[uint32]int

// answerAll answers every callout not yet answered, from the root context and
// the given stream contexts, with status and body (status "": a failed call,
// delivered with no headers and no body). It returns how many it answered.
func (h *coreHarness) answerAll(log calloutLog, status string, body []byte, streams ...uint32) int {
	n := 0
	for _, ctx := range append([]uint32{proxytest.PluginContextID}, streams...) {
		all := h.host.GetCalloutAttributesFromContext(ctx)
		for _, c := range all[log[ctx]:] {
			log[ctx]++
			n++
			if status == "" {
				h.host.CallOnHttpCallResponse(c.CalloutID, nil, nil, nil)
				continue
			}
			h.host.CallOnHttpCallResponse(c.CalloutID, [][2]string{{":status", status}}, nil, body)
		}
	}
	return n
}

func TestRequestsWaitForTheFirstKeyFetch(t *testing.T) {
	outcomes := []struct {
		name   string
		status string
		body   []byte
		want   int
	}{
		{"answered OK resumes the request", "200", testjwt.JWKS(rsKey()), 200},
		{"a failed status answers 503", "500", []byte("oops"), 503},
		{"a malformed JWKS answers 503", "200", []byte("<html>"), 503},
		{"a failed or timed-out call answers 503", "", nil, 503},
	}
	for _, o := range outcomes {
		t.Run(o.name, func(t *testing.T) {
			h := startFilter(t, coreRemoteConfig(""))
			r := h.get("/x", h.token(rsKey(), "alice"))
			if r.action != types.ActionPause || r.local != nil {
				t.Fatalf("before any key: action %v local %+v, want a paused request", r.action, r.local)
			}
			h.host.Tick()
			answered := calloutLog{}
			if n := h.answerAll(answered, o.status, o.body, r.id); n == 0 {
				t.Fatal("no key fetch was dispatched on the first tick")
			}
			after := h.result(r.id, h.host.GetCurrentHttpStreamAction(r.id))
			if after.status() != o.want {
				t.Fatalf("status %d, want %d", after.status(), o.want)
			}
			if o.want == 200 {
				if after.action != types.ActionContinue {
					t.Fatal("the request was not resumed")
				}
				if v, _ := after.upstreamHeader("x-jwt-sub"); v != "alice" {
					t.Errorf("x-jwt-sub = %q", v)
				}
				if _, ok := after.upstreamHeader("authorization"); ok {
					t.Error("the token reached the upstream")
				}
			} else if after.header("www-authenticate") != "" {
				t.Errorf("503 with a challenge: %q", after.header("www-authenticate"))
			}
		})
	}
}

func TestUnknownKidRefetchesOnceThenRateLimits(t *testing.T) {
	h := startFilter(t, coreRemoteConfig(`,"refetch_min_interval_s":30`))
	answered := calloutLog{}
	h.host.Tick()
	h.answerAll(answered, "200", testjwt.JWKS(rsKey()))
	if r := h.get("/x", h.token(rsKey(), "a")); r.status() != 200 {
		t.Fatalf("known kid: %d", r.status())
	}
	rotated := testjwt.CachedKey("RS256", "rs-2")
	r := h.get("/x", h.token(rotated, "b"))
	if r.action != types.ActionPause || r.local != nil {
		t.Fatalf("unknown kid: action %v local %+v, want a paused request", r.action, r.local)
	}
	h.host.Tick()
	if n := h.answerAll(answered, "200", testjwt.JWKS(rsKey(), rotated), r.id); n != 1 {
		t.Fatalf("%d refetches, want 1", n)
	}
	if after := h.result(r.id, h.host.GetCurrentHttpStreamAction(r.id)); after.status() != 200 || after.action != types.ActionContinue {
		t.Fatalf("after the refetch: status %d action %v", after.status(), after.action)
	}
	// Another unknown kid within refetch_min_interval_s: no refetch, 401.
	stranger := testjwt.CachedKey("RS256", "rs-3")
	r = h.get("/x", h.token(stranger, "c"))
	h.host.Tick()
	h.answerAll(answered, "200", testjwt.JWKS(rsKey(), rotated), r.id)
	after := h.result(r.id, h.host.GetCurrentHttpStreamAction(r.id))
	if after.status() != 401 || !strings.Contains(after.header("www-authenticate"), `error="invalid_token"`) {
		t.Fatalf("rate-limited unknown kid: status %d %q, want 401 invalid_token", after.status(), after.header("www-authenticate"))
	}
}

func TestACachedTokenDiesWithItsKey(t *testing.T) {
	h := startFilter(t, coreRemoteConfig(`,"cache_duration_s":60`))
	log := calloutLog{}
	h.host.Tick()
	h.answerAll(log, "200", testjwt.JWKS(rsKey(), esKey()))
	tok := h.token(rsKey(), "a")
	for i := 0; i < 2; i++ {
		if r := h.get("/x", tok); r.status() != 200 {
			t.Fatalf("request %d: %d", i, r.status())
		}
	}
	if h.counter(metricCacheHit) != 1 {
		t.Fatalf("cache hits = %d, want 1", h.counter(metricCacheHit))
	}
	t.Run("a refresh that keeps the key keeps the cache", func(t *testing.T) {
		h.clock.now = h.clock.now.Add(61 * time.Second)
		h.host.Tick()
		h.answerAll(log, "200", testjwt.JWKS(esKey(), rsKey()))
		if r := h.get("/x", tok); r.status() != 200 || h.counter(metricCacheHit) != 2 {
			t.Fatalf("status %d hits %d, want 200 from the cache", r.status(), h.counter(metricCacheHit))
		}
	})
	t.Run("a refresh that drops the key drops the cached token", func(t *testing.T) {
		h.clock.now = h.clock.now.Add(61 * time.Second)
		h.host.Tick()
		h.answerAll(log, "200", testjwt.JWKS(esKey()))
		hits := h.counter(metricCacheHit)
		r := h.get("/x", tok)
		// The kid is now unknown: one refetch, which still lacks it.
		h.host.Tick()
		h.answerAll(log, "200", testjwt.JWKS(esKey()), r.id)
		after := h.result(r.id, h.host.GetCurrentHttpStreamAction(r.id))
		if after.status() != 401 {
			t.Fatalf("status %d, want 401", after.status())
		}
		if h.counter(metricCacheHit) != hits {
			t.Error("the token was served from the cache after its key left the set")
		}
	})
}

// Envoy treats Continue from on_request_body or on_request_trailers as
// "continue the headers too": a stream paused for keys (or answered) must
// keep answering Pause there, or its body would carry it upstream unverified.
func TestAHeldRequestStaysHeldThroughItsBodyAndTrailers(t *testing.T) {
	h := startFilter(t, coreRemoteConfig(""))
	r := h.get("/x", h.token(rsKey(), "alice"))
	if r.action != types.ActionPause || r.local != nil {
		t.Fatalf("before any key: action %v local %+v, want a paused request", r.action, r.local)
	}
	if a := h.host.CallOnRequestBody(r.id, []byte(`{"a":1}`), false); a != types.ActionPause {
		t.Fatalf("body of a request waiting for keys: action %v, want Pause", a)
	}
	if a := h.host.CallOnRequestTrailers(r.id, nil); a != types.ActionPause {
		t.Fatalf("trailers of a request waiting for keys: action %v, want Pause", a)
	}
	h.host.Tick()
	if n := h.answerAll(calloutLog{}, "200", testjwt.JWKS(rsKey()), r.id); n == 0 {
		t.Fatal("no key fetch was dispatched on the first tick")
	}
	if after := h.result(r.id, h.host.GetCurrentHttpStreamAction(r.id)); after.status() != 200 || after.action != types.ActionContinue {
		t.Fatalf("after the keys arrived: status %d action %v", after.status(), after.action)
	}
	if a := h.host.CallOnRequestBody(r.id, []byte(`{"a":2}`), true); a != types.ActionContinue {
		t.Errorf("body of an allowed request: action %v, want Continue", a)
	}

	denied := h.get("/x", "")
	if denied.status() != 401 {
		t.Fatalf("no token: %d", denied.status())
	}
	if a := h.host.CallOnRequestBody(denied.id, []byte("x"), true); a != types.ActionPause {
		t.Errorf("body of a denied request: action %v, want Pause", a)
	}
}
