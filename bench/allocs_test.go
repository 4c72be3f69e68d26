package bench

import (
	"context"
	"testing"

	"github.com/scopegate/scopegate/host"
)

// TestNoGuestAllocationsPerRequest holds issue 15's "zero Go allocations on
// the hit path" inside the VM, where the native tests cannot see what the
// wasm build's escape analysis does: after a warm-up, a cache hit, a 401
// without token and a 403 leave the guest's count of heap objects where
// it was. A count, not a timing; BenchmarkWasmRequest reports the same
// figure as guest-allocs/op.
func TestNoGuestAllocationsPerRequest(t *testing.T) {
	ctx := context.Background()
	h := startHost(t, build(t, modDebug), cryptoConfig("off"))
	token := mint(keyFor("RS256"))
	for _, c := range []struct {
		name   string
		req    host.Request
		status int
	}{
		{"a cache hit", request("/api/orders/42", token), 0},
		{"a cache hit with browser-like headers", browserRequest("/api/orders/42", token), 0},
		{"a 401 without a token", request("/api/orders/42", ""), 401},
		{"a 403 for a missing scope", request("/admin/users", token), 403},
	} {
		t.Run(c.name+" allocates nothing in the guest", func(t *testing.T) {
			for range 50 { // the cache, the reused buffers and contexts fill
				d, err := h.DoOn(ctx, 0, c.req)
				expect(t, d, err, c.status)
			}
			before := guestStat(t, h, statAllocObjects)
			const n = 200
			for range n {
				d, err := h.DoOn(ctx, 0, c.req)
				expect(t, d, err, c.status)
			}
			if got := guestStat(t, h, statAllocObjects) - before; got != 0 {
				t.Errorf("%d guest heap allocations in %d requests, want 0", got, n)
			}
		})
	}
}
