package overlay_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// gcGuestRequests is how many requests each run sends: gcguest calls
// runtime.GC() every 100, and without the overlay it dies after ~200.
const gcGuestRequests = 1500

// runGCGuest runs testdata/gcguest in the host with Envoy 1.33-1.38's WASI
// (poll_oneoff answers ENOSYS) and returns the number of requests answered
// with "continue", the host's trap count and whether the plugin's log holds
// the Go runtime's poll_oneoff failure.
func runGCGuest(t *testing.T, noOverlay bool) (continued, traps int, pollFailure bool) {
	t.Helper()
	mod, err := wasmbuild.Build("./internal/overlay/testdata/gcguest", wasmbuild.Options{NoOverlay: noOverlay})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, err := host.New(ctx, host.Config{Module: mod, PollOneoff: host.PollOneoffENOSYS, Log: io.Discard})
	if err != nil {
		t.Fatalf("host.New: %v", err)
	}
	defer h.Close(context.Background())
	for i := 0; i < gcGuestRequests && h.Traps() == 0; i++ {
		d, err := h.Do(ctx, host.Request{Method: "GET", Path: "/", Authority: "gc.example"})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if d.Continue {
			continued++
		}
	}
	for _, e := range h.Logs() {
		if strings.Contains(e.Message, "poll_oneoff") {
			pollFailure = true
		}
	}
	return continued, h.Traps(), pollFailure
}

func TestGCGuestUnderENOSYS(t *testing.T) {
	t.Run("without the overlay the Go runtime aborts on poll_oneoff", func(t *testing.T) {
		continued, traps, pollFailure := runGCGuest(t, true)
		if traps == 0 {
			t.Fatalf("no trap in %d requests: the reproduction no longer reproduces golang/go#78513", gcGuestRequests)
		}
		if !pollFailure {
			t.Errorf("the VM trapped, but not on poll_oneoff")
		}
		t.Logf("trapped after %d requests", continued)
	})
	t.Run("with the overlay the same guest serves every request", func(t *testing.T) {
		continued, traps, pollFailure := runGCGuest(t, false)
		if traps != 0 || continued != gcGuestRequests || pollFailure {
			t.Fatalf("traps %d, continued %d of %d", traps, continued, gcGuestRequests)
		}
	})
}
