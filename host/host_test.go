package host

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPassThroughGuest(t *testing.T) {
	h := newTestHost(t, "pass", func(c *Config) { c.Workers = 2; c.PluginConfig = []byte("hello") })
	ctx := context.Background()

	t.Run("a plain request continues with the filter's header mutations", func(t *testing.T) {
		d, err := h.Do(ctx, Request{Method: "GET", Path: "/a?b=c", Authority: "example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if !d.Continue {
			t.Fatalf("decision = %+v, want continue", d)
		}
		if got := header(d.Headers, "x-pass"); got != "yes" {
			t.Errorf("x-pass = %q, want yes", got)
		}
		if got := header(d.Headers, "x-seen-path"); got != "/a?b=c" {
			t.Errorf("request.path property = %q, want /a?b=c", got)
		}
	})
	t.Run("properties answer what Envoy answers and NOT_FOUND otherwise", func(t *testing.T) {
		d, err := h.Do(ctx, Request{Method: "PUT", Path: "/", RemoteAddr: "10.1.2.3:4567"})
		if err != nil {
			t.Fatal(err)
		}
		if got := header(d.Headers, "x-seen-properties"); got != "10.1.2.3:4567 testguest PUT 1" {
			t.Fatalf("source.address, plugin_name, request.method, unknown status = %q", got)
		}
	})
	t.Run("a request with x-deny gets the filter's local 403", func(t *testing.T) {
		d, err := h.Do(ctx, Request{Method: "GET", Path: "/", Authority: "x", Headers: [][2]string{{"X-Deny", "1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if d.Continue || d.Status != 403 || string(d.Body) != "denied by pass" {
			t.Fatalf("decision = %+v, want local 403", d)
		}
		if got := header(d.ResponseHeaders, "content-type"); got != "text/plain" {
			t.Errorf("content-type = %q", got)
		}
	})
	t.Run("the plugin configuration reaches on_configure and logs carry the plugin name", func(t *testing.T) {
		found := false
		for _, e := range h.Logs() {
			if e.Message == "pass configured: hello" && e.Plugin == "testguest" && e.Level == LogInfo {
				found = true
			}
		}
		if !found {
			t.Fatalf("log line not found in %+v", h.Logs())
		}
	})
	t.Run("the plugin configuration is readable only while the plugin starts, as in Envoy", func(t *testing.T) {
		d, err := h.Do(ctx, Request{Path: "/", Headers: [][2]string{{"x-read-config", "1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := header(d.Headers, "x-config"); got != "[]" {
			t.Fatalf("plugin configuration during a request = %s, want none", got)
		}
	})
	t.Run("metrics are summed across workers", func(t *testing.T) {
		before, _ := h.Metric("pass.requests")
		for i := 0; i < 4; i++ {
			if _, err := h.DoOn(ctx, i%2, Request{Path: "/"}); err != nil {
				t.Fatal(err)
			}
		}
		after, ok := h.Metric("pass.requests")
		if !ok || after-before != 4 {
			t.Fatalf("pass.requests went %d -> %d, want +4", before, after)
		}
	})
	t.Run("Tick runs on_tick on every worker", func(t *testing.T) {
		before, _ := h.Metric("pass.ticks")
		h.Tick(ctx)
		after, _ := h.Metric("pass.ticks")
		if after-before < 2 {
			t.Fatalf("pass.ticks went %d -> %d, want at least +2", before, after)
		}
	})
	t.Run("ticks also run on real time", func(t *testing.T) {
		before, _ := h.Metric("pass.ticks")
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if after, _ := h.Metric("pass.ticks"); after > before {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("no tick within 5s with a 50 ms tick period")
	})
	t.Run("shared data with CAS counts every increment across workers", func(t *testing.T) {
		// cas 0 is unconditional, so the first write must not race: seed the key.
		h.shared.set("counter", []byte("0"), 0)
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.Do(ctx, Request{Path: "/", Headers: [][2]string{{"x-shared-incr", "counter"}}})
			}()
		}
		wg.Wait()
		val, cas, ok := h.shared.get("counter")
		if !ok || string(val) != "20" || cas == 0 {
			t.Fatalf("shared counter = %q (cas %d, found %v), want 20", val, cas, ok)
		}
	})
	if n := len(h.Violations()); n != 0 {
		t.Errorf("violations = %v, want none", h.Violations())
	}
}

func TestCallouts(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callout" || r.Host != "backend" {
			http.Error(w, "unexpected "+r.Host+r.URL.Path, 400)
			return
		}
		io.WriteString(w, "callout-body")
	}))
	defer backend.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	h := newTestHost(t, "pass", func(c *Config) {
		// A path in a cluster URL is ignored, as an Envoy cluster has none.
		c.Clusters = map[string]string{"backend": backend.URL + "/ignored", "dead": deadURL}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("a paused request resumes after the callout answers on the root context", func(t *testing.T) {
		d, err := h.Do(ctx, Request{Path: "/x", Headers: [][2]string{{"x-callout", "backend"}}})
		if err != nil {
			t.Fatal(err)
		}
		if !d.Continue || header(d.Headers, "x-callout-status") != "200" || header(d.Headers, "x-callout-body") != "callout-body" {
			t.Fatalf("decision = %+v, want continue with the callout's status and body", d)
		}
		if h.CalloutCount() != 1 {
			t.Errorf("CalloutCount = %d, want 1", h.CalloutCount())
		}
	})
	t.Run("the answer is gone once the guest makes the stream the effective context", func(t *testing.T) {
		d, err := h.Do(ctx, Request{Path: "/x", Headers: [][2]string{{"x-callout", "backend"}}})
		if err != nil {
			t.Fatal(err)
		}
		// Envoy keeps the answer on the root context that received it.
		if got := header(d.Headers, "x-callout-status-after-switch"); got != "absent" {
			t.Errorf("map 6 :status after set_effective_context(stream) = %q, want absent", got)
		}
		if got := header(d.Headers, "x-callout-body-after-switch"); got != "0" {
			t.Errorf("buffer 4 after set_effective_context(stream) has %s bytes, want 0", got)
		}
	})
	t.Run("a cluster URL that is not http(s)://host is a load error", func(t *testing.T) {
		_, err := New(ctx, Config{Module: buildGuest(t, "pass"), Clusters: map[string]string{"idp": "127.0.0.1:9000"}, Log: io.Discard})
		if err == nil || !strings.Contains(err.Error(), `cluster "idp"`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a failed callout is delivered as (0, 0, 0)", func(t *testing.T) {
		d, err := h.Do(ctx, Request{Path: "/x", Headers: [][2]string{{"x-callout", "dead"}}})
		if err != nil {
			t.Fatal(err)
		}
		if d.Continue || d.Status != 503 || string(d.Body) != "callout failed" {
			t.Fatalf("decision = %+v, want the guest's 503 for a failed callout", d)
		}
	})
	t.Run("a callout to an unknown cluster is BAD_ARGUMENT and a violation", func(t *testing.T) {
		d, err := h.Do(ctx, Request{Path: "/x", Headers: [][2]string{{"x-callout", "unknown"}}})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != 500 || !strings.Contains(string(d.Body), "status 2") {
			t.Fatalf("decision = %+v, want the guest's 500 with status 2", d)
		}
		vs := h.Violations()
		if len(vs) != 1 || vs[0].Rule != RuleHTTPCall || !strings.Contains(vs[0].Detail, `"unknown"`) {
			t.Fatalf("violations = %v", vs)
		}
	})
}

// TestABodyContinueResumesStoppedHeaders models Envoy's filter manager: a
// filter whose request headers answered Pause (StopIteration) still receives
// the body, and a Continue from the body callback resumes the headers too.
// A filter that holds a request but lets its body through is thereby caught
// here as it would be in Envoy.
func TestABodyContinueResumesStoppedHeaders(t *testing.T) {
	h := newTestHost(t, "pass", nil)
	do := func(t *testing.T, headers [][2]string, body string, wait time.Duration) (Decision, error) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		return h.Do(ctx, Request{Method: "POST", Path: "/", Authority: "example.com", Headers: headers, Body: []byte(body)})
	}
	t.Run("held headers with a body answered Continue go upstream", func(t *testing.T) {
		d, err := do(t, [][2]string{{"x-hold", "1"}}, "payload", 5*time.Second)
		if err != nil || !d.Continue || string(d.RequestBody) != "payload" {
			t.Fatalf("decision %+v, err %v; want continue with the body", d, err)
		}
	})
	t.Run("held headers with a body answered Pause stay held", func(t *testing.T) {
		d, err := do(t, [][2]string{{"x-hold", "1"}, {"x-hold-body", "1"}}, "payload", 300*time.Millisecond)
		if err == nil || d.Continue {
			t.Fatalf("decision %+v, err %v; want the request still held at the deadline", d, err)
		}
	})
	t.Run("held headers without a body stay held", func(t *testing.T) {
		d, err := do(t, [][2]string{{"x-hold", "1"}}, "", 300*time.Millisecond)
		if err == nil || d.Continue {
			t.Fatalf("decision %+v, err %v; want the request still held at the deadline", d, err)
		}
	})
}
