package e2e

// The proof for the runtime overlay (internal/overlay, golang/go#78513): the
// real filter, built with the test-only hook scopegate_gchook (every 20th
// request arms a timer and runs runtime.GC(), which starts the netpoller and
// makes the Go runtime call poll_oneoff), runs in the host with Envoy
// 1.33-1.38's WASI, where poll_oneoff answers ENOSYS. With the overlay it
// serves thousands of requests without a trap; without it the VM dies, which
// shows the test can fail.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// enosysRequests is how many requests the overlay build must survive.
const enosysRequests = 3000

// enosysFixture is the filter configuration and a mix of requests with the
// answer each must get.
type enosysFixture struct {
	config   string
	requests []enosysRequest
}

type enosysRequest struct {
	name   string
	req    host.Request
	status int // 0: the request must continue to the upstream
}

func newENOSYSFixture(t *testing.T) enosysFixture {
	t.Helper()
	key := testjwt.CachedKey("RS256", "enosys")
	cfg := `{"providers":[{"name":"idp","issuer":"` + filterIssuer + `","local_jwks":` + string(testjwt.JWKS(key)) + `}],` +
		`"rules":[{"match":{"prefix":"/orders"},"requires":{"scopes":["orders.read"]}}]}`
	now := time.Now()
	get := func(token string) host.Request {
		r := host.Request{Method: "GET", Path: "/orders/1", Authority: "api.example"}
		if token != "" {
			r.Headers = [][2]string{{"authorization", "Bearer " + token}}
		}
		return r
	}
	var f enosysFixture
	f.config = cfg
	// Distinct subjects give distinct tokens, so the filter keeps verifying
	// signatures and filling its token cache instead of only hitting it.
	for i := range 40 {
		sub := fmt.Sprintf("user-%d", i)
		f.requests = append(f.requests,
			enosysRequest{"valid token for " + sub, get(key.Sign(testjwt.Claims(filterIssuer, sub, now, "orders.read"), nil)), 0},
			enosysRequest{"token without the scope for " + sub, get(key.Sign(testjwt.Claims(filterIssuer, sub, now, "profile"), nil)), 403})
	}
	f.requests = append(f.requests, enosysRequest{"no token", get(""), 401})
	return f
}

// runENOSYS sends up to n requests through a one-worker host whose
// poll_oneoff answers ENOSYS (Envoy 1.33-1.38) and stops at the first trap. It returns the
// number of requests answered as expected, the traps, the first wrong answer
// and whether the plugin's log holds the Go runtime's poll_oneoff failure.
func runENOSYS(t *testing.T, module string, f enosysFixture, n int) (ok, traps int, wrong string, pollFailure bool) {
	return runPollMode(t, module, f, n, host.PollOneoffENOSYS)
}

// runPollMode is runENOSYS with a chosen poll_oneoff answer.
func runPollMode(t *testing.T, module string, f enosysFixture, n int, mode host.PollOneoffMode) (ok, traps int, wrong string, pollFailure bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	h, err := host.New(ctx, host.Config{
		Module:       module,
		PluginConfig: []byte(f.config),
		Workers:      1,
		PollOneoff:   mode,
		Log:          io.Discard,
	})
	if err != nil {
		t.Fatalf("host.New: %v", err)
	}
	defer h.Close(context.Background())
	for i := 0; i < n && h.Traps() == 0; i++ {
		r := f.requests[i%len(f.requests)]
		d, err := h.Do(ctx, r.req)
		if err != nil {
			t.Fatalf("request %d (%s): %v", i, r.name, err)
		}
		switch {
		case h.Traps() != 0:
		case r.status == 0 && d.Continue, r.status != 0 && !d.Continue && d.Status == r.status:
			ok++
		case wrong == "":
			wrong = fmt.Sprintf("request %d (%s): continue=%v status=%d, want status %d", i, r.name, d.Continue, d.Status, r.status)
		}
	}
	if v := h.Violations(); len(v) != 0 {
		t.Errorf("Envoy rule violations: %v", v)
	}
	for _, e := range h.Logs() {
		if strings.Contains(e.Message, "poll_oneoff") {
			pollFailure = true
		}
	}
	return ok, h.Traps(), wrong, pollFailure
}

func TestFilterSurvivesENOSYSPollOneoffWithTheOverlay(t *testing.T) {
	f := newENOSYSFixture(t)
	t.Run("with the overlay the forced GC and timer never trap and every answer is right", func(t *testing.T) {
		mod, err := wasmbuild.Build("./cmd/scopegate", wasmbuild.Options{Tags: []string{"scopegate_gchook"}})
		if err != nil {
			t.Fatal(err)
		}
		ok, traps, wrong, pollFailure := runENOSYS(t, mod, f, enosysRequests)
		if traps != 0 || pollFailure {
			t.Fatalf("%d traps after %d requests (poll_oneoff failure logged: %v)", traps, ok, pollFailure)
		}
		if ok != enosysRequests {
			t.Fatalf("%d of %d answers right; first wrong: %s", ok, enosysRequests, wrong)
		}
	})
	t.Run("without the overlay the same build dies on poll_oneoff", func(t *testing.T) {
		mod, err := wasmbuild.Build("./cmd/scopegate", wasmbuild.Options{Tags: []string{"scopegate_gchook"}, NoOverlay: true})
		if err != nil {
			t.Fatal(err)
		}
		ok, traps, wrong, pollFailure := runENOSYS(t, mod, f, enosysRequests)
		if traps == 0 {
			t.Fatalf("no trap in %d requests: the hook no longer reaches poll_oneoff, so the test above proves nothing", enosysRequests)
		}
		if !pollFailure {
			t.Error("the VM trapped, but the log does not show the runtime's poll_oneoff failure")
		}
		if wrong != "" && !strings.Contains(wrong, "status=503") {
			t.Errorf("a wrong answer before the trap: %s", wrong)
		}
		t.Logf("trapped after %d requests", ok)
	})
}

// Newer Envoys answer poll_oneoff with success and no events; the overlay
// must not change anything there.
func TestFilterWithTheOverlayRunsWhenPollOneoffSucceeds(t *testing.T) {
	mod, err := wasmbuild.Build("./cmd/scopegate", wasmbuild.Options{Tags: []string{"scopegate_gchook"}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	ok, traps, wrong, _ := runPollMode(t, mod, newENOSYSFixture(t), n, host.PollOneoffNoEvents)
	if traps != 0 || ok != n {
		t.Fatalf("traps %d, %d of %d answers right; first wrong: %s", traps, ok, n, wrong)
	}
}
