package host

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/syncbuf"
	"github.com/scopegate/scopegate/internal/testjwt"
	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// TestRealScopegateModule loads dist/scopegate.wasm (built with the runtime
// overlay, as shipped) under the strict defaults — poll_oneoff ENOSYS,
// restricted _initialize and allocator — and checks it runs with zero
// violations and zero traps while allowing and denying requests.
func TestRealScopegateModule(t *testing.T) {
	module, err := wasmbuild.Build("./cmd/scopegate", wasmbuild.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := testjwt.NewKey("RS256", "k1")
	config, _ := json.Marshal(map[string]any{
		"providers": []any{map[string]any{
			"name":       "local",
			"issuer":     "https://issuer.test",
			"local_jwks": map[string]any{"keys": []any{key.JWK()}},
		}},
		"rules": []any{
			map[string]any{"match": map[string]any{"prefix": "/admin"}, "requires": map[string]any{"scopes": []string{"admin"}}},
		},
	})
	var log syncbuf.Buffer
	h, err := New(context.Background(), Config{Module: module, PluginConfig: config, Workers: 2, Log: &log})
	if err != nil {
		t.Fatalf("the real module did not load under the strict defaults: %v\n%s", err, log.String())
	}
	defer h.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	token := key.Sign(testjwt.Claims("https://issuer.test", "alice", time.Now(), "read"), nil)
	bearer := [][2]string{{"authorization", "Bearer " + token}}

	t.Run("a request without a token gets 401", func(t *testing.T) {
		d, err := h.Do(ctx, Request{Method: "GET", Path: "/orders", Authority: "api"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Continue || d.Status != 401 || !strings.HasPrefix(header(d.ResponseHeaders, "www-authenticate"), "Bearer") {
			t.Fatalf("decision = %+v, want 401 with a Bearer challenge", d)
		}
	})
	t.Run("a valid token continues without the authorization header", func(t *testing.T) {
		for w := 0; w < h.Workers(); w++ {
			d, err := h.DoOn(ctx, w, Request{Method: "GET", Path: "/orders", Authority: "api", Headers: bearer})
			if err != nil {
				t.Fatal(err)
			}
			if !d.Continue {
				t.Fatalf("worker %d: decision = %+v (body %s), want continue", w, d, d.Body)
			}
			if _, ok := lookupHeader(d.Headers, "authorization"); ok {
				t.Errorf("worker %d: the token was forwarded upstream", w)
			}
		}
	})
	t.Run("a valid token without the required scope gets 403", func(t *testing.T) {
		d, err := h.Do(ctx, Request{Method: "GET", Path: "/admin", Authority: "api", Headers: bearer})
		if err != nil {
			t.Fatal(err)
		}
		if d.Continue || d.Status != 403 {
			t.Fatalf("decision = %+v, want 403", d)
		}
	})
	const repeats = 50
	for range repeats {
		if d, err := h.Do(ctx, Request{Method: "GET", Path: "/orders", Authority: "api", Headers: bearer}); err != nil || !d.Continue {
			t.Fatalf("repeated valid request: %+v, %v", d, err)
		}
	}
	h.Tick(ctx)
	if vs := h.Violations(); len(vs) != 0 {
		t.Errorf("violations = %v, want none", vs)
	}
	if h.Traps() != 0 {
		t.Errorf("traps = %d, want none; log:\n%s", h.Traps(), log.String())
	}
	// One allowed request per worker, then the repeats; the 401 and 403 are not counted.
	if n, ok := h.Metric("scopegate.allowed"); !ok || n != uint64(h.Workers()+repeats) {
		t.Errorf("scopegate.allowed = %d (%v), want %d", n, ok, h.Workers()+repeats)
	}
	if n, _ := h.Metric("scopegate.denied.missing"); n != 1 {
		t.Errorf("scopegate.denied.missing = %d, want 1", n)
	}
	if n, _ := h.Metric("scopegate.denied.scope"); n != 1 {
		t.Errorf("scopegate.denied.scope = %d, want 1", n)
	}
}

// BenchmarkRealModuleAllowed measures one allowed request (cached token)
// through the real scopegate module in the host, and reports the worker's
// linear memory after the run.
func BenchmarkRealModuleAllowed(b *testing.B) {
	module, err := wasmbuild.Build("./cmd/scopegate", wasmbuild.Options{})
	if err != nil {
		b.Fatal(err)
	}
	key := testjwt.CachedKey("RS256", "bench")
	config, _ := json.Marshal(map[string]any{"providers": []any{map[string]any{
		"name": "local", "local_jwks": map[string]any{"keys": []any{key.JWK()}}}}})
	h, err := New(context.Background(), Config{Module: module, PluginConfig: config})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close(context.Background())
	token := key.Sign(testjwt.Claims("https://issuer.test", "alice", time.Now(), "read"), nil)
	req := Request{Method: "GET", Path: "/orders", Authority: "api", Headers: [][2]string{{"authorization", "Bearer " + token}}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if d, err := h.Do(ctx, req); err != nil || !d.Continue {
			b.Fatalf("%+v %v", d, err)
		}
	}
	b.ReportMetric(float64(h.MemoryStats(0).Bytes)/(1<<20), "MiB-linear-memory")
	if h.Traps() != 0 || len(h.Violations()) != 0 {
		b.Fatalf("traps %d violations %v", h.Traps(), h.Violations())
	}
}
