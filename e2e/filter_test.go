package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
)

const filterIssuer = "https://idp.e2e.example/realms/demo"

// filterRules protect /orders with a scope, leave /health open and put a
// claim header and the payload on allowed requests.
const filterRules = `"rules":[
  {"match":{"prefix":"/orders"},"requires":{"scopes":["orders.read"]}},
  {"match":{"prefix":"/health","methods":["GET"]},"requires":{"allow":true}}]`

const filterForwarding = `"claim_to_headers":[{"claim":"sub","header":"x-jwt-sub"}],"forward_payload_header":"x-jwt-payload"`

func TestFilterWithLocalKeysInTheHost(t *testing.T) {
	key := testjwt.CachedKey("ES256", "e2e-local")
	cfg := `{"providers":[{"name":"idp","issuer":"` + filterIssuer + `","local_jwks":` + string(testjwt.JWKS(key)) +
		`,` + filterForwarding + `}],` + filterRules + `,"realm":"orders"}`
	p := startFilterProxy(t, cfg, nil)
	now := time.Now()
	good := key.Sign(testjwt.Claims(filterIssuer, "alice", now, "orders.read"), nil)
	runFilterAnswers(t, p, good, key.Sign(testjwt.Claims(filterIssuer, "bob", now, "profile"), nil), `Bearer realm="orders"`)
	p.requireClean(t)
}

// The same answers with keys fetched through a host cluster from a real JWKS server.
func TestFilterWithRemoteKeysInTheHost(t *testing.T) {
	key := testjwt.CachedKey("RS256", "e2e-remote")
	idp := newFakeIdP(t, keysAuthority, filterIssuer, key)
	cfg := `{"providers":[{"name":"idp","issuer":"` + filterIssuer + `","remote_jwks":{"cluster":"idp","uri":"http://` + keysAuthority + jwksPath + `"},` +
		filterForwarding + `}],` + filterRules + `}`
	p := startFilterProxy(t, cfg, map[string]string{"idp": idp.URL})
	now := time.Now()
	good := key.Sign(testjwt.Claims(filterIssuer, "alice", now, "orders.read"), nil)
	runFilterAnswers(t, p, good, key.Sign(testjwt.Claims(filterIssuer, "bob", now, "profile"), nil), "Bearer")
	if idp.count(jwksPath) == 0 {
		t.Error("the JWKS server was never asked")
	}
	if n, _ := p.Host.Metric("scopegate.jwks.fetch_ok"); n == 0 {
		t.Error("scopegate.jwks.fetch_ok is 0")
	}
	p.requireClean(t)
}

// runFilterAnswers checks allowed / 401 / 403 / 400 through the proxy.
func runFilterAnswers(t *testing.T, p *filterProxy, good, noScope, missingChallenge string) {
	t.Helper()
	t.Run("a valid token reaches the upstream with claim headers and without the token", func(t *testing.T) {
		resp, body := p.do(t, "GET", "/orders/7", "Authorization", "Bearer "+good, "X-JWT-Sub", "mallory")
		if resp.StatusCode != 200 || body != "upstream" {
			t.Fatalf("status %d body %q", resp.StatusCode, body)
		}
		seen := p.Upstream.last(t)
		if seen.Header.Get("Authorization") != "" {
			t.Error("the upstream received the token")
		}
		if got := seen.Header.Values("X-Jwt-Sub"); len(got) != 1 || got[0] != "alice" {
			t.Errorf("x-jwt-sub = %q, want only alice", got)
		}
		if seen.Header.Get("X-Jwt-Payload") != strings.Split(good, ".")[1] {
			t.Errorf("x-jwt-payload = %q", seen.Header.Get("X-Jwt-Payload"))
		}
	})
	t.Run("no token is 401 with the Bearer challenge", func(t *testing.T) {
		before := p.Upstream.count()
		resp, body := p.do(t, "GET", "/orders/7")
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != missingChallenge {
			t.Fatalf("status %d www-authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		var b map[string]string
		if err := json.Unmarshal([]byte(body), &b); err != nil || b["error"] != "unauthorized" {
			t.Errorf("body %q (%v)", body, err)
		}
		if p.Upstream.count() != before {
			t.Error("a denied request reached the upstream")
		}
	})
	t.Run("a tampered token is 401 invalid_token", func(t *testing.T) {
		resp, _ := p.do(t, "GET", "/orders/7", "Authorization", "Bearer "+good[:len(good)-6]+"AAAAAA")
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("status %d www-authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("a token without the scope is 403 naming it, and the log says why", func(t *testing.T) {
		resp, body := p.do(t, "GET", "/orders/7", "Authorization", "Bearer "+noScope)
		if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope", scope="orders.read"`) {
			t.Fatalf("status %d www-authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		if !strings.Contains(body, `"error":"insufficient_scope"`) {
			t.Errorf("body %q", body)
		}
		if len(p.logsContaining("required scopes were not found [orders.read]")) == 0 {
			t.Error("no log line names the missing scope")
		}
	})
	t.Run("a token in the header and the query is 400", func(t *testing.T) {
		resp, _ := p.do(t, "GET", "/orders/7?access_token="+good, "Authorization", "Bearer "+good)
		if resp.StatusCode != 400 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_request"`) {
			t.Fatalf("status %d www-authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("an allow rule needs no token", func(t *testing.T) {
		if resp, _ := p.do(t, "GET", "/health"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("metrics are visible to the host", func(t *testing.T) {
		for _, name := range []string{"scopegate.allowed", "scopegate.denied.missing", "scopegate.denied.invalid", "scopegate.denied.scope"} {
			if n, ok := p.Host.Metric(name); !ok || n == 0 {
				t.Errorf("%s = %d (defined %v)", name, n, ok)
			}
		}
	})
}

// The test-only hook (build tag scopegate_testhooks) makes on_request_headers
// panic: the request must be refused, the VM must survive, and the next
// request must be served normally.
func TestFilterPanicDeniesOnlyThatRequest(t *testing.T) {
	cfg := `{"rules":[{"match":{"prefix":"/"},"requires":{"allow":true}}],"default":{"allow":true}}`
	p := startFilterProxy(t, cfg, nil, func(c *host.Config) {
		c.Module = filterModule(t, "scopegate_testhooks")
		c.Workers = 1
	})
	before := p.Upstream.count()
	if resp, _ := p.do(t, "GET", "/x", "X-Scopegate-Test-Panic", "1"); resp.StatusCode < 500 {
		t.Fatalf("a panicking request got %d, want a 5xx", resp.StatusCode)
	}
	if p.Upstream.count() != before {
		t.Fatal("the panicking request reached the upstream")
	}
	if resp, body := p.do(t, "GET", "/x"); resp.StatusCode != 200 || body != "upstream" {
		t.Fatalf("the next request got %d %q", resp.StatusCode, body)
	}
	p.requireClean(t)
}

// BenchmarkFilterInWasm measures one request through the compiled filter in
// the host: an allow rule (baseline: the host and ABI cost alone), a cached
// token, and fresh tokens that need a signature verification in wasm.
func BenchmarkFilterInWasm(b *testing.B) {
	rs := testjwt.CachedKey("RS256", "bench-rs")
	es := testjwt.CachedKey("ES256", "bench-es")
	cfg := `{"providers":[{"name":"idp","issuer":"` + filterIssuer + `","local_jwks":` + string(testjwt.JWKS(rs, es)) +
		`,"claim_to_headers":[{"claim":"sub","header":"x-jwt-sub"}]}],` +
		`"rules":[{"match":{"prefix":"/open"},"requires":{"allow":true}},{"match":{"prefix":"/"},"requires":{"scopes":["read"]}}]}`
	p := startFilterProxy(b, cfg, nil, func(c *host.Config) { c.Workers = 1 })
	ctx := b.Context()
	run := func(b *testing.B, path string, token func() string) {
		b.ReportAllocs()
		for b.Loop() {
			req := host.Request{Method: "GET", Path: path, Authority: "api"}
			if token != nil {
				b.StopTimer()
				req.Headers = [][2]string{{"authorization", "Bearer " + token()}}
				b.StartTimer()
			}
			if d, err := p.Host.Do(ctx, req); err != nil || !d.Continue {
				b.Fatalf("%d %s %v", d.Status, d.Body, err)
			}
		}
	}
	n := 0
	fresh := func(k *testjwt.Key) func() string {
		return func() string {
			n++ // a new sub per token defeats the verified-token cache
			return k.Sign(testjwt.Claims(filterIssuer, "u"+strconv.Itoa(n), time.Now(), "read"), nil)
		}
	}
	cached := rs.Sign(testjwt.Claims(filterIssuer, "alice", time.Now(), "read"), nil)
	b.Run("baseline", func(b *testing.B) { run(b, "/open", nil) })
	// Paths spelling seven of the eight reading choices (96 readings, all
	// under /open): the cost of judging a path every way (filter/path.go).
	readings := `/open/a;b/%2e%2E/%2Fc%5Cd\e%3Bf/%41/`
	b.Run("path-96-readings-36B", func(b *testing.B) { run(b, readings, nil) })
	b.Run("path-96-readings-660B", func(b *testing.B) { run(b, readings+strings.Repeat("segment/", 78), nil) })
	b.Run("cached", func(b *testing.B) { run(b, "/orders", func() string { return cached }) })
	b.Run("uncached-RS256", func(b *testing.B) { run(b, "/orders", fresh(rs)) })
	b.Run("uncached-ES256", func(b *testing.B) { run(b, "/orders", fresh(es)) })
	if p.Host.Traps() != 0 {
		b.Fatalf("%d traps", p.Host.Traps())
	}
}
