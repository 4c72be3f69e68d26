package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/internal/testjwt"
)

func TestTheFirstFetchWaitsForTheFirstTickAndCarriesTheCalloutHeaders(t *testing.T) {
	k := startKeys(t, remoteConfig(""))
	if n := len(k.newCallouts()); n != 0 {
		t.Fatalf("on_configure made %d callouts; the canary VM would discard them", n)
	}
	if p := k.host.GetTickPeriod(); p != uint32(keysTickPeriod/time.Millisecond) {
		t.Errorf("tick period = %d ms", p)
	}
	c := k.fetchNow()
	if c.Upstream != "idp" {
		t.Errorf("cluster = %q", c.Upstream)
	}
	want := map[string]string{":method": "GET", ":path": "/realms/demo/certs", ":authority": "idp.example.com", "accept": "application/json"}
	for name, v := range want {
		if got := header(c.Headers, name); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
}

func TestLocalProvidersNeedNoTicks(t *testing.T) {
	k := startKeys(t, localConfig("", ""))
	if p := k.host.GetTickPeriod(); p != 0 {
		t.Errorf("tick period = %d ms with no remote provider", p)
	}
	if n := len(k.tick()); n != 0 {
		t.Errorf("%d callouts for local keys", n)
	}
}

func TestARequestBeforeTheKeysIsPausedAndResumedByTheFetch(t *testing.T) {
	cases := []struct {
		name    string
		respond func(k *keysHarness, c calloutAttr)
		want    string
		okCount uint64
	}{
		{"a JWKS answered 200 lets the paused request through", func(k *keysHarness, c calloutAttr) {
			k.answer(c, "200", testjwt.JWKS(rsKey()))
		}, "continued", 1},
		{"a failed call (0,0,0) answers the paused request 503", func(k *keysHarness, c calloutAttr) { k.failCall(c) }, "answered 503", 0},
		{"a non-200 answer answers the paused request 503", func(k *keysHarness, c calloutAttr) {
			k.answer(c, "500", []byte(`{"keys":[]}`))
		}, "answered 503", 0},
		{"an HTML page answers the paused request 503", func(k *keysHarness, c calloutAttr) {
			k.answer(c, "200", []byte("<html><body>login</body></html>"))
		}, "answered 503", 0},
		{"a truncated JWKS answers the paused request 503", func(k *keysHarness, c calloutAttr) {
			full := testjwt.JWKS(rsKey())
			k.answer(c, "200", full[:len(full)/2])
		}, "answered 503", 0},
		{"a JWKS without a usable key answers the paused request 503", func(k *keysHarness, c calloutAttr) {
			k.answer(c, "200", []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}`))
		}, "answered 503", 0},
		{"an empty 200 body answers the paused request 503", func(k *keysHarness, c calloutAttr) {
			k.answer(c, "200", nil)
		}, "answered 503", 0},
		{"a body over 1 MiB is not read and answers 503", func(k *keysHarness, c calloutAttr) {
			big := append([]byte(`{"keys":[],"pad":"`), strings.Repeat("x", maxJWKSBodyBytes)...)
			k.answer(c, "200", append(big, `"}`...))
		}, "answered 503", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := startKeys(t, remoteConfig(""))
			id, action := k.startRequest("/x", k.tok(rsKey()))
			if action != types.ActionPause {
				t.Fatalf("action = %v, want pause while no keys exist", action)
			}
			k.requireOutcome(id, "paused")
			tc.respond(k, k.fetchNow())
			k.requireOutcome(id, tc.want)
			if got := k.counter(metricJWKSFetchOK); got != tc.okCount {
				t.Errorf("fetch_ok = %d, want %d", got, tc.okCount)
			}
			if got := k.counter(metricJWKSFetchFailed); got != 1-tc.okCount {
				t.Errorf("fetch_failed = %d, want %d", got, 1-tc.okCount)
			}
			// A later request is decided at once, the same way.
			if got := k.request(k.tok(rsKey())); got != tc.want {
				t.Errorf("a later request: %s, want %s", got, tc.want)
			}
			if tc.okCount == 0 && !strings.Contains(k.logsAt("warn"), "fetching signing keys failed") {
				t.Errorf("no warning about the failed fetch: %s", k.logsAt("warn"))
			}
		})
	}
}

func TestAFetchThatNeverAnswersReleasesWaitingRequestsAfterItsBound(t *testing.T) {
	k := startKeys(t, remoteConfig(`"timeout_ms":1000`))
	id, _ := k.startRequest("/x", k.tok(rsKey()))
	k.fetchNow()
	k.advance(time.Second) // still within timeout + grace
	k.tick()
	k.requireOutcome(id, "paused")
	k.advance(2 * time.Second)
	if n := len(k.tick()); n != 0 {
		t.Errorf("%d callouts during the first backoff delay", n)
	}
	k.requireOutcome(id, "answered 503")
	if k.counter(metricJWKSFetchFailed) != 1 {
		t.Errorf("fetch_failed = %d", k.counter(metricJWKSFetchFailed))
	}
}

func TestALateAnswerToAnAbandonedFetchIsIgnored(t *testing.T) {
	k := startKeys(t, remoteConfig(`"timeout_ms":1000`))
	c := k.fetchNow()
	k.advance(3 * time.Second)
	k.tick() // gives the attempt up
	k.answer(c, "200", testjwt.JWKS(rsKey()))
	if got := k.request(k.tok(rsKey())); got != "answered 503" {
		t.Errorf("after a late answer: %s, want 503 until a live attempt succeeds", got)
	}
	k.advance(time.Second)
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	if got := k.request(k.tok(rsKey())); got != "continued" {
		t.Errorf("after the retry: %s", got)
	}
}

func TestKeysAreRefreshedEveryCacheDuration(t *testing.T) {
	k := startKeys(t, remoteConfig(`"cache_duration_s":60`))
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	k.advance(59 * time.Second)
	if n := len(k.tick()); n != 0 {
		t.Fatalf("%d callouts before the cache duration ran out", n)
	}
	k.advance(time.Second)
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey(), esKey()))
	if got := k.request(k.tok(esKey())); got != "continued" {
		t.Errorf("a token signed by a key of the refreshed set: %s", got)
	}
	if k.counter(metricJWKSFetchOK) != 2 {
		t.Errorf("fetch_ok = %d", k.counter(metricJWKSFetchOK))
	}
}

func TestAnUnchangedRefreshKeepsTheSameKeySet(t *testing.T) {
	k := startKeys(t, remoteConfig(`"cache_duration_s":60`))
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	p := k.plugin()
	before, _ := p.keys.keys(p.cfg.Providers[0])
	k.advance(time.Minute)
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	after, _ := p.keys.keys(p.cfg.Providers[0])
	if before != after {
		t.Error("identical bytes replaced the key set (and would drop the verified-token cache)")
	}
	k.advance(time.Minute)
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey(), esKey()))
	if changed, _ := p.keys.keys(p.cfg.Providers[0]); changed == after {
		t.Error("new bytes did not replace the key set")
	}
}

func TestABadRefreshNeverReplacesTheGoodKeySet(t *testing.T) {
	bad := map[string][]byte{
		"HTML":            []byte("<html>maintenance</html>"),
		"an empty set":    []byte(`{"keys":[]}`),
		"a non-200":       nil,
		"a failed call":   nil,
		"a weak RSA key":  []byte(`{"keys":[{"kty":"RSA","kid":"rs-1","n":"AQAB","e":"AQAB"}]}`),
		"truncated bytes": testjwt.JWKS(rsKey())[:40],
	}
	for name, body := range bad {
		t.Run(name+" keeps the last good set", func(t *testing.T) {
			k := startKeys(t, remoteConfig(`"cache_duration_s":60`))
			k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
			k.advance(time.Minute)
			c := k.fetchNow()
			switch name {
			case "a non-200":
				k.answer(c, "503", []byte("unavailable"))
			case "a failed call":
				k.failCall(c)
			default:
				k.answer(c, "200", body)
			}
			if got := k.request(k.tok(rsKey())); got != "continued" {
				t.Errorf("a token of the good set after a bad refresh: %s", got)
			}
			if !strings.Contains(k.logsAt("warn"), "keeping the last good key set") {
				t.Errorf("warn logs: %s", k.logsAt("warn"))
			}
			if k.counter(metricJWKSFetchFailed) != 1 {
				t.Errorf("fetch_failed = %d", k.counter(metricJWKSFetchFailed))
			}
		})
	}
}

func TestSkippedKeysAreLoggedAtWarnAndTheRestLoad(t *testing.T) {
	k := startKeys(t, remoteConfig(""))
	weak := `{"kty":"RSA","kid":"weak","n":"AQAB","e":"AQAB"}`
	good := string(testjwt.JWKS(rsKey()))
	body := `{"keys":[` + weak + `,` + good[len(`{"keys":[`):]
	k.answer(k.fetchNow(), "200", []byte(body))
	if got := k.request(k.tok(rsKey())); got != "continued" {
		t.Fatalf("the usable key did not load: %s", got)
	}
	if w := k.logsAt("warn"); !strings.Contains(w, `key 0 (kid "weak") skipped`) {
		t.Errorf("warn logs: %s", w)
	}
}

func TestFailedFetchesBackOffExponentiallyUpToTheCacheDuration(t *testing.T) {
	k := startKeys(t, remoteConfig(`"cache_duration_s":20`))
	start := k.clock.now
	var at []time.Duration
	for step := 0; step < 800; step++ { // 80 s of simulated time, a tick every 100 ms
		for _, c := range k.tick() {
			at = append(at, k.clock.now.Sub(start))
			k.failCall(c)
		}
		k.advance(100 * time.Millisecond)
	}
	var gaps []time.Duration
	for i := 1; i < len(at); i++ {
		gaps = append(gaps, at[i]-at[i-1])
	}
	want := []time.Duration{1, 2, 4, 8, 16, 20, 20}
	if len(gaps) < len(want) {
		t.Fatalf("attempts at %v", at)
	}
	for i, w := range want {
		if gaps[i] != w*time.Second {
			t.Errorf("delay before attempt %d = %v, want %v (attempts at %v)", i+2, gaps[i], w*time.Second, at)
		}
	}
}

func TestBackoffIsCappedAtFiveMinutes(t *testing.T) {
	for n, want := range map[uint32]time.Duration{1: time.Second, 2: 2 * time.Second, 9: 256 * time.Second, 10: 5 * time.Minute, 1000: 5 * time.Minute} {
		if got := backoff(n, time.Hour); got != want {
			t.Errorf("backoff(%d, 1h) = %v, want %v", n, got, want)
		}
	}
}

func TestASuccessAfterFailuresResetsTheBackoffAndTheRefreshCadence(t *testing.T) {
	k := startKeys(t, remoteConfig(`"cache_duration_s":60`))
	k.failCall(k.fetchNow())
	k.advance(time.Second)
	k.failCall(k.fetchNow())
	if got := k.request(k.tok(rsKey())); got != "answered 503" {
		t.Fatalf("with no keys: %s", got)
	}
	k.advance(2 * time.Second)
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	if got := k.request(k.tok(rsKey())); got != "continued" {
		t.Fatalf("after recovery: %s", got)
	}
	k.advance(59 * time.Second)
	if n := len(k.tick()); n != 0 {
		t.Errorf("%d callouts before the next refresh is due", n)
	}
	k.advance(time.Second)
	k.fetchNow()
}

func TestAnUnknownKidTriggersOneRefetchWhileTheRequestWaits(t *testing.T) {
	k := startKeys(t, remoteConfig(""))
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	rotated := rsKey().WithKid("rs-2")
	id, action := k.startRequest("/x", k.tok(rotated))
	if action != types.ActionPause {
		t.Fatalf("unknown kid: action %v, want pause for the refetch", action)
	}
	c := k.fetchNow()
	k.requireOutcome(id, "paused")
	k.answer(c, "200", testjwt.JWKS(rsKey(), rotated))
	k.requireOutcome(id, "continued")
	if !strings.Contains(k.logsAt("info"), `unknown kid "rs-2"`) {
		t.Errorf("info logs: %s", k.logsAt("info"))
	}
}

func TestAKidStillUnknownAfterTheRefetchIs401(t *testing.T) {
	k := startKeys(t, remoteConfig(""))
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	id, _ := k.startRequest("/x", k.tok(rsKey().WithKid("nobody")))
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	k.requireOutcome(id, "answered 401")
}

func TestAFailedRefetchAnswersTheWaitingRequest401AndKeepsTheSet(t *testing.T) {
	k := startKeys(t, remoteConfig(""))
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	id, _ := k.startRequest("/x", k.tok(rsKey().WithKid("nobody")))
	k.failCall(k.fetchNow())
	k.requireOutcome(id, "answered 401")
	if got := k.request(k.tok(rsKey())); got != "continued" {
		t.Errorf("the good set after a failed refetch: %s", got)
	}
}

func TestUnknownKidRefetchesAreRateLimitedPerProvider(t *testing.T) {
	k := startKeys(t, remoteConfig(`"refetch_min_interval_s":30`))
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	id, _ := k.startRequest("/x", k.tok(rsKey().WithKid("a")))
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	k.requireOutcome(id, "answered 401")

	k.advance(29 * time.Second)
	if got := k.request(k.tok(rsKey().WithKid("b"))); got != "answered 401" {
		t.Errorf("a second unknown kid within 30 s: %s, want an immediate 401", got)
	}
	if n := len(k.tick()); n != 0 {
		t.Errorf("a rate-limited unknown kid caused %d callouts", n)
	}
	k.advance(time.Second)
	id, action := k.startRequest("/x", k.tok(rsKey().WithKid("c")))
	if action != types.ActionPause {
		t.Fatalf("an unknown kid after 30 s: %v, want a refetch", action)
	}
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey(), rsKey().WithKid("c")))
	k.requireOutcome(id, "continued")
}

func TestRequestsWithUnknownKidsShareOneRefetch(t *testing.T) {
	k := startKeys(t, remoteConfig(""))
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	first, _ := k.startRequest("/x", k.tok(rsKey().WithKid("new")))
	second, action := k.startRequest("/x", k.tok(rsKey().WithKid("new")))
	if action != types.ActionPause {
		t.Fatalf("the second request: %v, want it to wait for the same refetch", action)
	}
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey().WithKid("new")))
	k.requireOutcome(first, "continued")
	k.requireOutcome(second, "continued")
}

func TestAZeroRefetchIntervalAllowsARefetchPerUnknownKid(t *testing.T) {
	k := startKeys(t, remoteConfig(`"refetch_min_interval_s":0`))
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	for i := 0; i < 2; i++ {
		id, _ := k.startRequest("/x", k.tok(rsKey().WithKid("x")))
		k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
		k.requireOutcome(id, "answered 401")
	}
}

func TestWaitingStreamsAreBounded(t *testing.T) {
	k := startKeys(t, remoteConfig(""))
	tok := k.tok(rsKey())
	var ids []uint32
	for i := 0; i < maxWaitingStreams; i++ {
		id, action := k.startRequest("/x", tok)
		if action != types.ActionPause || k.outcome(id) != "paused" {
			t.Fatalf("request %d: %s", i, k.outcome(id))
		}
		ids = append(ids, id)
	}
	if got := k.request(tok); got != "answered 503" {
		t.Fatalf("request over the bound: %s, want 503", got)
	}
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	for _, id := range ids {
		k.requireOutcome(id, "continued")
	}
	if got := k.request(tok); got != "continued" {
		t.Errorf("after the fetch: %s", got)
	}
}

func TestAStreamThatEndsWhileWaitingIsForgotten(t *testing.T) {
	k := startKeys(t, remoteConfig(""))
	gone, _ := k.startRequest("/x", k.tok(rsKey()))
	stay, _ := k.startRequest("/x", k.tok(rsKey()))
	k.host.CompleteHttpContext(gone)
	p := k.plugin()
	if p.keys.waiting != 1 {
		t.Errorf("waiting = %d after one stream ended, want 1", p.keys.waiting)
	}
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	k.requireOutcome(stay, "continued")
}

type calloutAttr = proxytest.HttpCalloutAttribute
