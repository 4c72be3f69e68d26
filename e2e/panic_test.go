package e2e

// A panic in filter code (made on purpose by the test-only hook compiled in
// with -tags scopegate_testhooks: a request carrying x-scopegate-test-panic
// panics in on_request_headers) must cost exactly that request: it gets a
// 500, the panic is logged, nothing reaches the upstream, the VM does not
// trap, and the next request on the same VM is decided normally.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
)

func TestPanicInTheFilterCostsOnlyThatRequest(t *testing.T) {
	key := testjwt.CachedKey("ES256", "panic")
	cfg := `{"providers":[{"name":"idp","issuer":"` + filterIssuer + `","local_jwks":` + string(testjwt.JWKS(key)) + `}],` +
		`"rules":[{"match":{"prefix":"/open"},"requires":{"allow":true}},{"match":{"prefix":"/orders"},"requires":{"scopes":["orders.read"]}}]}`
	p := startFilterProxy(t, cfg, nil, func(c *host.Config) {
		c.Module = filterModule(t, "scopegate_testhooks")
		c.Workers = 1 // every request runs on the VM that panicked
	})
	good := key.Sign(testjwt.Claims(filterIssuer, "alice", time.Now(), "orders.read"), nil)
	const panicHeader = "X-Scopegate-Test-Panic"

	panicked := func(t *testing.T, path string, headers ...string) {
		t.Helper()
		before := p.Upstream.count()
		resp, body := p.do(t, "GET", path, append([]string{panicHeader, "boom"}, headers...)...)
		if resp.StatusCode != 500 {
			t.Fatalf("a panicking request got %d %q, want 500", resp.StatusCode, body)
		}
		if p.Upstream.count() != before {
			t.Fatal("the panicking request reached the upstream")
		}
	}

	t.Run("a panic on an open route is a 500 that never reaches the upstream", func(t *testing.T) {
		panicked(t, "/open")
	})
	t.Run("a panic on a request with a valid token is still a 500, never an allow", func(t *testing.T) {
		panicked(t, "/orders/1", "Authorization", "Bearer "+good)
	})
	t.Run("the panic is logged with where it happened and its value", func(t *testing.T) {
		found := false
		for _, e := range p.Host.Logs() {
			if e.Level >= host.LogError && strings.Contains(e.Message, "proxy_on_request_headers") && strings.Contains(e.Message, "test panic requested: boom") {
				found = true
				if strings.Contains(e.Message, good) {
					t.Error("the panic log carries the token")
				}
			}
		}
		if !found {
			t.Errorf("no error-level log names the panic; logs: %v", p.Host.Logs())
		}
	})
	t.Run("the next requests on the same VM are decided normally", func(t *testing.T) {
		if resp, body := p.do(t, "GET", "/orders/1", "Authorization", "Bearer "+good); resp.StatusCode != 200 || body != "upstream" {
			t.Fatalf("a valid token got %d %q", resp.StatusCode, body)
		}
		if resp, _ := p.do(t, "GET", "/orders/1"); resp.StatusCode != 401 {
			t.Fatalf("no token got %d, want 401", resp.StatusCode)
		}
		if resp, _ := p.do(t, "GET", "/open"); resp.StatusCode != 200 {
			t.Fatalf("the open route got %d", resp.StatusCode)
		}
	})
	t.Run("hundreds of panics in a row leave the VM serving in bounded memory", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		req := func(panics bool) host.Decision {
			r := host.Request{Method: "GET", Path: "/orders/1", Authority: "api", Headers: bearer(good)}
			if panics {
				r.Headers = append(r.Headers, [2]string{"x-scopegate-test-panic", "again"})
			}
			d, err := p.Host.DoOn(ctx, 0, r)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			return d
		}
		for range 50 { // warm up
			req(true)
		}
		start := p.Host.MemoryStats(0).Bytes
		for i := range 500 {
			if d := req(true); d.Continue || d.Status != 500 {
				t.Fatalf("panic %d: continue %v status %d", i, d.Continue, d.Status)
			}
			if d := req(false); !d.Continue {
				t.Fatalf("the request after panic %d got %d %s", i, d.Status, d.Body)
			}
		}
		end := p.Host.MemoryStats(0).Bytes
		t.Logf("linear memory: %d KiB after warm-up, %d KiB after 500 more panics", start>>10, end>>10)
		if end > start+16<<20 {
			t.Errorf("linear memory grew from %d to %d bytes over 500 panics", start, end)
		}
	})
	p.requireClean(t)
}
