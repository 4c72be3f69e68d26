package host

import (
	"context"
	"strings"
	"testing"
)

func TestCallExport(t *testing.T) {
	h := newTestHost(t, "pass", nil)
	ctx := context.Background()
	t.Run("an existing export is called and its results returned", func(t *testing.T) {
		res, err := h.CallExport(ctx, 0, "proxy_on_memory_allocate", 16)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0] == 0 {
			t.Fatalf("proxy_on_memory_allocate(16) = %v, want one non-zero pointer", res)
		}
	})
	t.Run("a missing export is an error naming it", func(t *testing.T) {
		if _, err := h.CallExport(ctx, 0, "no_such_export"); err == nil || !strings.Contains(err.Error(), "no_such_export") {
			t.Fatalf("err = %v, want one naming the export", err)
		}
	})
	t.Run("an unknown worker is an error", func(t *testing.T) {
		if _, err := h.CallExport(ctx, 5, "proxy_on_memory_allocate", 16); err == nil {
			t.Fatal("worker 5 of 1 accepted")
		}
	})
	if h.Traps() != 0 {
		t.Fatalf("traps = %d", h.Traps())
	}
}
