package abi_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/host/envoycrypto"
	"github.com/scopegate/scopegate/internal/syncbuf"
	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// These tests run the guests in testdata through the wazero host the way
// Envoy would, proving the wasm half of the binding end to end.

// buildGuest compiles a guest under filter/abi/testdata once per process.
func buildGuest(t testing.TB, name string) string {
	t.Helper()
	path, err := wasmbuild.Build("./filter/abi/testdata/"+name, wasmbuild.Options{NoOverlay: true})
	if err != nil {
		t.Fatalf("building %s: %v", name, err)
	}
	return path
}

// closedURL returns the base URL of a port nothing listens on.
func closedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// guestHost starts the test guest with a "backend" cluster that answers
// 200 "answer-body" and a "down" cluster that refuses connections.
func guestHost(t *testing.T, mutate func(*host.Config)) *host.Host {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/answer" || r.Header.Get("x-from") != "guest" || r.Host != "backend" {
			http.Error(w, "unexpected callout "+r.Host+r.URL.Path, http.StatusBadRequest)
			return
		}
		w.Header().Set("x-backend", "1")
		io.WriteString(w, "answer-body")
	}))
	t.Cleanup(backend.Close)
	cfg := host.Config{
		Module:       buildGuest(t, "guest"),
		PluginConfig: []byte("guest-config"),
		VMConfig:     []byte("vm-config"),
		PluginName:   "abi-guest",
		Clusters:     map[string]string{"backend": backend.URL, "down": closedURL(t)},
		Log:          io.Discard,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := host.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("host.New: %v", err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

func header(pairs [][2]string, name string) string {
	for _, kv := range pairs {
		if strings.EqualFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}

func headerCount(pairs [][2]string, name string) int {
	n := 0
	for _, kv := range pairs {
		if strings.EqualFold(kv[0], name) {
			n++
		}
	}
	return n
}

func logged(h *host.Host, part string) bool {
	for _, e := range h.Logs() {
		if strings.Contains(e.Message, part) {
			return true
		}
	}
	return false
}

func do(t *testing.T, h *host.Host, req host.Request) host.Decision {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if req.Method == "" {
		req.Method = "GET"
	}
	if req.Authority == "" {
		req.Authority = "example.com"
	}
	d, err := h.Do(ctx, req)
	if err != nil {
		t.Fatalf("Do(%s): %v", req.Path, err)
	}
	return d
}

func TestGuestThroughHost(t *testing.T) {
	h := guestHost(t, nil)

	t.Run("init only logs: the binding refuses other host calls and the host sees no violation", func(t *testing.T) {
		if !logged(h, "guest: init") {
			t.Fatal("init log line missing")
		}
		if !logged(h, "guest: init tick refused: abi: only logging is allowed") ||
			!logged(h, "guest: init property refused: abi: only logging is allowed") {
			t.Fatalf("init calls were not refused by the binding; logs %+v", h.Logs())
		}
	})
	t.Run("vm_start and configure read their buffers through the allocator", func(t *testing.T) {
		if !logged(h, "guest: vm config: vm-config") {
			t.Fatal("vm configuration not read")
		}
		if !logged(h, "guest: configured abi-guest: guest-config") {
			t.Fatalf("plugin configuration or plugin_name property not read; logs %+v", h.Logs())
		}
	})
	t.Run("request headers are read, added, replaced and removed", func(t *testing.T) {
		d := do(t, h, host.Request{Path: "/headers", Headers: [][2]string{
			{"x-in", "hello"}, {"x-replace", "old"}, {"x-remove", "1"}, {"x-remove", "2"},
		}})
		if !d.Continue {
			t.Fatalf("decision = %+v, want continue", d)
		}
		checks := map[string]string{
			"x-echo": "hello", "x-appended": "in=hello", "x-replace": "new", "x-remove": "",
		}
		for name, want := range checks {
			if got := header(d.Headers, name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if n := headerCount(d.Headers, "x-added"); n != 2 {
			t.Errorf("x-added appears %d times, want 2 (add appends)", n)
		}
		if n := headerCount(d.Headers, "x-remove"); n != 0 {
			t.Errorf("x-remove appears %d times, want 0", n)
		}
		names := "," + header(d.Headers, "x-names") + ","
		for _, want := range []string{":method", ":path", ":authority", "x-in", "x-replace", "x-remove"} {
			if !strings.Contains(names, ","+want+",") {
				t.Errorf("whole-map read %q lacks %s", names, want)
			}
		}
	})
	t.Run("a local response reaches the client with its status, headers and body", func(t *testing.T) {
		d := do(t, h, host.Request{Path: "/local"})
		if d.Continue || d.Status != 418 || string(d.Body) != "short and stout" || header(d.ResponseHeaders, "x-local") != "yes" {
			t.Fatalf("decision = %+v, want local 418", d)
		}
	})
	t.Run("a callout's answer resumes the paused stream from the root context", func(t *testing.T) {
		d := do(t, h, host.Request{Path: "/callout"})
		if !d.Continue {
			t.Fatalf("decision = %+v, want continue", d)
		}
		if got := header(d.Headers, "x-callout-status"); got != "200" {
			t.Errorf("x-callout-status = %q, want 200", got)
		}
		if got := header(d.Headers, "x-callout-body"); got != "answer-body" {
			t.Errorf("x-callout-body = %q", got)
		}
	})
	t.Run("a callout's answer can deny the paused stream locally", func(t *testing.T) {
		d := do(t, h, host.Request{Path: "/callout-deny"})
		if d.Continue || d.Status != 403 || string(d.Body) != "answer-body" || header(d.ResponseHeaders, "x-callout-status") != "200" {
			t.Fatalf("decision = %+v, want local 403 carrying the callout's answer", d)
		}
	})
	t.Run("a failed callout is delivered as (0, 0, 0)", func(t *testing.T) {
		d := do(t, h, host.Request{Path: "/callout", Headers: [][2]string{{"x-cluster", "down"}}})
		if d.Continue || d.Status != 503 || string(d.Body) != "callout failed" {
			t.Fatalf("decision = %+v, want the guest's 503", d)
		}
	})
	t.Run("a callout breaking Envoy's rules is refused before it reaches the host", func(t *testing.T) {
		before := h.CalloutCount()
		d := do(t, h, host.Request{Path: "/callout-bad"})
		if header(d.Headers, "x-no-authority") != "true" || header(d.Headers, "x-no-timeout") != "true" {
			t.Fatalf("headers = %v, want both calls refused with BAD_ARGUMENT", d.Headers)
		}
		if after := h.CalloutCount(); after != before {
			t.Fatalf("host saw %d callouts", after-before)
		}
	})
	t.Run("shared data round-trips and a stale CAS is refused", func(t *testing.T) {
		d := do(t, h, host.Request{Path: "/shared"})
		if header(d.Headers, "x-shared") != "v1" || header(d.Headers, "x-stale") != "cas-mismatch" {
			t.Fatalf("headers = %v", d.Headers)
		}
	})
	t.Run("properties are read; an unknown one is NOT_FOUND", func(t *testing.T) {
		d := do(t, h, host.Request{Path: "/property"})
		if header(d.Headers, "x-property") != "/property" || header(d.Headers, "x-missing-property") != "true" {
			t.Fatalf("headers = %v", d.Headers)
		}
	})
	t.Run("logs follow the host's level: debug is skipped at info", func(t *testing.T) {
		d := do(t, h, host.Request{Path: "/log"})
		if header(d.Headers, "x-log-level") != "info" || header(d.Headers, "x-debug-enabled") != "false" {
			t.Fatalf("headers = %v", d.Headers)
		}
		if logged(h, "guest: debug line") {
			t.Error("a debug line reached an info-level host")
		}
		if !logged(h, "guest: info line") || !logged(h, "guest: warn line") {
			t.Error("info or warn line missing")
		}
	})
	t.Run("counters and gauges are defined, updated and read", func(t *testing.T) {
		before, _ := h.Metric("guest.requests")
		d := do(t, h, host.Request{Path: "/metrics"})
		after, ok := h.Metric("guest.requests")
		if !ok || after != before+1 {
			t.Fatalf("guest.requests %d -> %d (defined %v), want +1", before, after, ok)
		}
		if got := header(d.Headers, "x-requests"); got == "" || got == "0" {
			t.Errorf("the guest read its counter as %q", got)
		}
		if got := header(d.Headers, "x-gauge"); got != "3" {
			t.Errorf("gauge after +5 -2 = %q, want 3", got)
		}
	})
	t.Run("ticks run OnTick, which updates shared data with CAS", func(t *testing.T) {
		before, _ := h.Metric("guest.ticks")
		h.Tick(context.Background())
		h.Tick(context.Background())
		after, _ := h.Metric("guest.ticks")
		if after-before != 2 {
			t.Fatalf("guest.ticks %d -> %d, want +2", before, after)
		}
	})
	t.Run("the hot host calls allocate nothing in the VM but the returned string", func(t *testing.T) {
		d := do(t, h, host.Request{Path: "/allocs", Headers: [][2]string{{"x-in", "a-header-value-of-some-length"}}})
		want := map[string]string{
			"x-allocs-append-value": "0.00", // value appended to the caller's buffer
			"x-allocs-get-value":    "1.00", // the returned string
			"x-allocs-get-absent":   "0.00",
			"x-allocs-replace":      "0.00",
			"x-allocs-remove":       "0.00",
			"x-allocs-log":          "0.00",
			"x-allocs-log-skipped":  "0.00",
			"x-allocs-counter":      "0.00",
		}
		for name, w := range want {
			if got := header(d.Headers, name); got != w {
				t.Errorf("%s = %q allocations per call, want %s", name, got, w)
			}
		}
	})
	t.Run("a whole stream costs the binding no allocation in steady state", func(t *testing.T) {
		// Each /probe reports the VM's allocations since the previous one:
		// the end of that stream and the start of this one. The guest
		// itself makes two (its HttpContext and the :path string).
		var got []string
		for range 6 {
			got = append(got, header(do(t, h, host.Request{Path: "/probe"}).Headers, "x-mallocs"))
		}
		for _, n := range got[2:] { // the first probes include warm-up
			if n != "2" {
				t.Fatalf("allocations between probes = %v, want 2 (the guest's own) once warm", got)
			}
		}
	})
	t.Run("garbage collection runs in the VM without needing poll_oneoff (the host answers ENOSYS)", func(t *testing.T) {
		var numGC string
		for i := range 200 {
			d := do(t, h, host.Request{Path: "/churn"})
			if !d.Continue {
				t.Fatalf("request %d: %+v", i, d)
			}
			numGC = header(d.Headers, "x-numgc")
		}
		t.Logf("NumGC after the churn: %s", numGC)
		if numGC == "" || numGC == "0" {
			t.Fatalf("NumGC = %q after 50 MiB of garbage: the test did not exercise the GC", numGC)
		}
	})
	t.Run("no Envoy rule was broken and no VM trapped", func(t *testing.T) {
		if v := h.Violations(); len(v) != 0 {
			t.Fatalf("violations: %v", v)
		}
		if n := h.Traps(); n != 0 {
			t.Fatalf("%d traps", n)
		}
	})
}

func TestGuestSharedDataAcrossWorkers(t *testing.T) {
	h := guestHost(t, func(c *host.Config) { c.Workers = 3 })
	ctx := context.Background()
	for range 4 {
		h.Tick(ctx)
	}
	// Every worker VM bumped one shared counter on each tick through CAS.
	for w := range 3 {
		d, err := h.DoOn(ctx, w, host.Request{Method: "GET", Path: "/tick-count", Authority: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if got := header(d.Headers, "x-tick-count"); got != "12" {
			t.Fatalf("worker %d reads the shared tick count as %q, want 12 (3 workers x 4 ticks); decision %+v", w, got, d)
		}
	}
}

func TestGuestPanics(t *testing.T) {
	h := guestHost(t, nil)
	cases := []struct {
		name, path, logPart string
	}{
		{"a panic in on_request_headers gives a 500", "/panic", "panic in proxy_on_request_headers on context"},
		{"a runtime error in on_request_headers gives a 500", "/nil", "assignment to entry in nil map"},
		{"a panic in a callout callback gives the waiting stream a 500", "/callout-panic", "guest: callout panic"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" and the next request on the same VM is served", func(t *testing.T) {
			d := do(t, h, host.Request{Path: tc.path})
			if d.Continue || d.Status != 500 {
				t.Fatalf("decision = %+v, want a local 500", d)
			}
			if !strings.Contains(string(d.Body), "internal_error") {
				t.Errorf("body = %q", d.Body)
			}
			if !logged(h, tc.logPart) || !logged(h, "goroutine") {
				t.Errorf("panic not logged with its stack; logs %+v", h.Logs())
			}
			next := do(t, h, host.Request{Path: "/local"})
			if next.Status != 418 {
				t.Fatalf("next request = %+v, want the guest's 418", next)
			}
		})
	}
	if n := h.Traps(); n != 0 {
		t.Fatalf("%d traps: a panic escaped the binding", n)
	}
}

func TestGuestConfigure(t *testing.T) {
	cases := []struct{ name, config, logPart string }{
		{"OnPluginStart returning false fails host start", "fail", ""},
		{"a panic in OnPluginStart is recovered, logged and fails host start", "panic", "panic in proxy_on_configure on context 1: guest: configure panic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncbuf.Buffer
			_, err := host.New(context.Background(), host.Config{
				Module: buildGuest(t, "guest"), PluginConfig: []byte(tc.config), Log: &logs,
			})
			if err == nil {
				t.Fatal("host.New succeeded")
			}
			if !strings.Contains(err.Error(), "proxy_on_configure returned false") {
				t.Fatalf("host.New: %v; want on_configure to return false (not a trap)", err)
			}
			if !strings.Contains(logs.String(), tc.logPart) {
				t.Fatalf("log lacks %q:\n%s", tc.logPart, logs.String())
			}
		})
	}
	t.Run("its valid twin starts", func(t *testing.T) {
		h := guestHost(t, nil)
		if h.Traps() != 0 {
			t.Fatal("trap")
		}
	})
}

func TestGuestCalloutForAGoneStream(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "late")
	}))
	defer slow.Close()
	defer close(release)
	h := guestHost(t, func(c *host.Config) { c.Clusters["slow"] = slow.URL })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := h.Do(ctx, host.Request{Method: "GET", Path: "/callout", Authority: "x", Headers: [][2]string{{"x-cluster", "slow"}}}); err == nil {
		t.Fatal("Do returned before the callout answered")
	}
	release <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if logged(h, "is gone: error status returned by host: bad argument") {
			if d := do(t, h, host.Request{Path: "/local"}); d.Status != 418 {
				t.Fatalf("after the gone stream: %+v", d)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("set_effective_context to the deleted stream did not fail with BAD_ARGUMENT; logs %+v", h.Logs())
}

func TestPassthroughGuest(t *testing.T) {
	ctx := context.Background()
	h, err := host.New(ctx, host.Config{Module: buildGuest(t, "passthrough"), Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	for range 3 {
		d, err := h.Do(ctx, host.Request{Method: "GET", Path: "/", Authority: "x", Headers: [][2]string{{"a", "b"}}})
		if err != nil || !d.Continue || header(d.Headers, "a") != "b" {
			t.Fatalf("Do = %+v, %v", d, err)
		}
	}
	if v := h.Violations(); len(v) != 0 {
		t.Fatalf("violations: %v", v)
	}
}

func TestGuestForeignFunctionCall(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	text := []byte("signed text")
	digest := sha256.Sum256(text)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	args := envoycrypto.EncodeArguments("sha256", spki, sig, text)
	call := func(t *testing.T, h *host.Host, name string, args []byte) (status, result string) {
		t.Helper()
		d := do(t, h, host.Request{Path: "/foreign", Headers: [][2]string{{"x-function", name}, {"x-args", hex.EncodeToString(args)}}})
		if !d.Continue {
			t.Fatalf("decision %+v", d)
		}
		return header(d.Headers, "x-foreign-status"), header(d.Headers, "x-foreign-result")
	}
	withMode := func(m host.VerifySignatureMode) func(*host.Config) {
		return func(c *host.Config) { c.VerifySignature = m }
	}
	t.Run("Envoy's verify_signature answers through the guest allocator", func(t *testing.T) {
		h := guestHost(t, nil)
		status, result := call(t, h, "verify_signature", args)
		want, _ := envoycrypto.VerifySignature(args)
		if status != "ok" || result != hex.EncodeToString(want) || result != "0801" {
			t.Fatalf("status %q result %q, want ok %x", status, result, want)
		}
		if status, _ := call(t, h, "verify_signature", []byte{0x0a, 0x7f}); status != types.ErrorStatusBadArgument.Error() {
			t.Fatalf("unparsable arguments: %q", status)
		}
		if status, _ := call(t, h, "no_such_function", args); status != types.ErrorStatusNotFound.Error() {
			t.Fatalf("unknown function: %q", status)
		}
		if h.ForeignCalls() != 3 || h.Traps() != 0 {
			t.Fatalf("%d foreign calls, %d traps", h.ForeignCalls(), h.Traps())
		}
		if !logged(h, "guest: property plugin_vm_id: ok 0 bytes") || !logged(h, "guest: property xds.node: ok") {
			t.Fatalf("Envoy's properties missing; logs %+v", h.Logs())
		}
	})
	t.Run("without verify_signature every call is NotFound", func(t *testing.T) {
		h := guestHost(t, withMode(host.VerifySignatureAbsent))
		if status, result := call(t, h, "verify_signature", args); status != types.ErrorStatusNotFound.Error() || result != "" {
			t.Fatalf("status %q result %q", status, result)
		}
	})
	t.Run("an Unimplemented host answers every call so", func(t *testing.T) {
		h := guestHost(t, withMode(host.VerifySignatureUnimplemented))
		if status, _ := call(t, h, "verify_signature", args); status != types.ErrorUnimplemented.Error() {
			t.Fatalf("status %q", status)
		}
	})
	t.Run("a host playing ngx_wasm_module traps the VM and lacks Envoy's properties", func(t *testing.T) {
		h := guestHost(t, withMode(host.VerifySignatureTrap))
		if !logged(h, "guest: property plugin_vm_id: "+types.ErrorStatusNotFound.Error()) ||
			!logged(h, "guest: property xds.node: "+types.ErrorInternalFailure.Error()) {
			t.Fatalf("Envoy-only properties answered; logs %+v", h.Logs())
		}
		d := do(t, h, host.Request{Path: "/foreign", Headers: [][2]string{{"x-function", "verify_signature"}, {"x-args", hex.EncodeToString(args)}}})
		if d.Continue || h.Traps() != 1 {
			t.Fatalf("decision %+v, %d traps; want the request failed by a trap", d, h.Traps())
		}
	})
}
