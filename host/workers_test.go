package host

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/wasmbuild"
)

func TestRequestsSpreadOverWorkerVMs(t *testing.T) {
	h := newTestHost(t, "pass", func(c *Config) { c.Workers = 3 })
	var counts []string
	for i := 0; i < 6; i++ {
		d, err := h.Do(context.Background(), Request{Path: "/"})
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, header(d.Headers, "x-vm-requests"))
	}
	// Each VM has its own globals, so round-robin over three VMs counts 1,1,1,2,2,2.
	if got := strings.Join(counts, ","); got != "1,1,1,2,2,2" {
		t.Fatalf("per-VM request counts = %s, want 1,1,1,2,2,2", got)
	}
	if h.Workers() != 3 || h.MemoryStats(0).Bytes == 0 || h.MemoryStats(3).Bytes != 0 {
		t.Fatalf("workers %d, memory %+v / %+v", h.Workers(), h.MemoryStats(0), h.MemoryStats(3))
	}
}

func TestCanaryThenOneVMPerWorker(t *testing.T) {
	h := newTestHost(t, "pass", func(c *Config) { c.Workers = 2; c.PluginConfig = []byte("cfg") })
	var vms []string
	for _, e := range h.Logs() {
		if e.Message == "pass configured: cfg" {
			vms = append(vms, e.VM)
		}
	}
	if got := strings.Join(vms, ","); got != "canary,worker-0,worker-1" {
		t.Fatalf("on_configure ran on %s, want canary,worker-0,worker-1", got)
	}
	// Envoy kills the canary outright: its root context never sees on_done.
	for _, e := range h.Logs() {
		if e.VM == "canary" && e.Message == "on_done root" {
			t.Fatal("the canary's root context got on_done; Envoy discards the canary without it")
		}
	}
}

func TestABI020ModulesLoad(t *testing.T) {
	path, err := wasmbuild.Build("./host/testdata/guests/pass", wasmbuild.Options{NoOverlay: true, Tags: []string{"abi020"}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), Config{Module: path, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	if h.ABIVersion() != "0.2.0" {
		t.Fatalf("ABIVersion = %q, want 0.2.0", h.ABIVersion())
	}
	d, err := h.Do(context.Background(), Request{Path: "/", Headers: [][2]string{{"x-deny", "1"}}})
	if err != nil || d.Status != 403 {
		t.Fatalf("decision = %+v, %v; want the guest's 403", d, err)
	}
	if h2 := newTestHost(t, "pass", nil); h2.ABIVersion() != "0.2.1" {
		t.Fatalf("ABIVersion = %q, want 0.2.1", h2.ABIVersion())
	}
}

func TestOversizedHeaderMapIsTreatedAsEmpty(t *testing.T) {
	h := newTestHost(t, "pass", nil)
	d, err := h.Do(context.Background(), Request{Path: "/", Headers: [][2]string{{"x-big-local", "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != 418 || len(d.ResponseHeaders) != 0 {
		t.Fatalf("decision = status %d with %d headers, want 418 with none", d.Status, len(d.ResponseHeaders))
	}
	vs := h.Violations()
	if len(vs) != 1 || vs[0].Rule != RuleHeaderMapLimit {
		t.Fatalf("violations = %v, want one %s", vs, RuleHeaderMapLimit)
	}
}

func TestCalloutTimeoutIsAFailedCall(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer backend.Close()
	h := newTestHost(t, "pass", func(c *Config) { c.Clusters = map[string]string{"backend": backend.URL} })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := h.Do(ctx, Request{Path: "/", Headers: [][2]string{{"x-callout", "backend"}, {"x-callout-timeout", "100"}}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != 503 || string(d.Body) != "callout failed" {
		t.Fatalf("decision = %+v, want the guest's answer to a (0, 0, 0) callout", d)
	}
}

func TestOversizedCalloutAnswerIsAFailedCall(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, maxCalloutBody+1))
	}))
	defer backend.Close()
	h := newTestHost(t, "pass", func(c *Config) { c.Clusters = map[string]string{"backend": backend.URL} })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := h.Do(ctx, Request{Path: "/", Headers: [][2]string{{"x-callout", "backend"}}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != 503 || string(d.Body) != "callout failed" {
		t.Fatalf("decision = status %d body %q, want the guest's answer to a (0, 0, 0) callout, not a cut body", d.Status, d.Body)
	}
}

func TestManualTicksRunOnlyWhenAsked(t *testing.T) {
	// The pass guest asks for a 50 ms tick period; with ManualTicks no timer runs it.
	h := newTestHost(t, "pass", func(c *Config) { c.Workers = 2; c.ManualTicks = true })
	time.Sleep(300 * time.Millisecond)
	if n, _ := h.Metric("pass.ticks"); n != 0 {
		t.Fatalf("pass.ticks = %d after 300 ms with manual ticks, want 0", n)
	}
	if err := h.TickOn(1); err != nil {
		t.Fatal(err)
	}
	if n, _ := h.Metric("pass.ticks"); n != 1 {
		t.Fatalf("pass.ticks = %d after TickOn(1), want 1", n)
	}
	h.Tick(context.Background())
	if n, _ := h.Metric("pass.ticks"); n != 3 {
		t.Fatalf("pass.ticks = %d after Tick on two workers, want 3", n)
	}
	if err := h.TickOn(2); err == nil {
		t.Fatal("TickOn(2) with two workers did not fail")
	}
}

func TestPausedCountsRequestsWaitingOnAPausedStream(t *testing.T) {
	h := newTestHost(t, "pass", nil)
	if n := h.Paused(); n != 0 {
		t.Fatalf("Paused() = %d before any request", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.Do(ctx, Request{Path: "/", Headers: [][2]string{{"x-hold", "1"}}})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for h.Paused() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("Paused() = %d while a held request waits, want 1", h.Paused())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a held request ended without error when its context ended")
	}
	if n := h.Paused(); n != 0 {
		t.Fatalf("Paused() = %d after the held request gave up, want 0", n)
	}
	// A request that is not held never counts.
	if _, err := h.Do(context.Background(), Request{Path: "/"}); err != nil || h.Paused() != 0 {
		t.Fatalf("after a passing request: err %v, Paused() %d", err, h.Paused())
	}
}

func TestCalloutsPendingCountsUntilTheAnswerIsDelivered(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Write([]byte("ok"))
	}))
	defer backend.Close()
	h := newTestHost(t, "pass", func(c *Config) { c.Clusters = map[string]string{"backend": backend.URL} })
	type result struct {
		d   Decision
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, err := h.Do(context.Background(), Request{Path: "/", Headers: [][2]string{{"x-callout", "backend"}}})
		done <- result{d, err}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for h.CalloutsPending() != 1 || h.Paused() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("CalloutsPending() = %d, Paused() = %d while the callout is unanswered, want 1 and 1", h.CalloutsPending(), h.Paused())
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	// The pass guest resumes the request with the callout's answer in its headers.
	r := <-done
	if r.err != nil {
		t.Fatalf("the request failed after the callout: %v", r.err)
	}
	if !r.d.Continue || header(r.d.Headers, "x-callout-status") != "200" || header(r.d.Headers, "x-callout-body") != "ok" {
		t.Fatalf("decision after the callout: %+v, want the request continued with x-callout-status 200 and x-callout-body ok", r.d)
	}
	for h.CalloutsPending() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("CalloutsPending() = %d after the answer was delivered", h.CalloutsPending())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if h.Paused() != 0 {
		t.Fatalf("Paused() = %d after the request was resumed", h.Paused())
	}
}
