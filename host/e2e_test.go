package host

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHandlerEndToEnd sends real HTTP requests through the host's reverse
// proxy: one reaches the real upstream with the filter's headers, one is
// denied by the filter, and the admin port shows the metrics.
func TestHandlerEndToEnd(t *testing.T) {
	type seen struct {
		path, pass, deny, host string
		requestID, proto       string
		body                   string
	}
	got := make(chan seen, 10)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.URL.RequestURI(), r.Header.Get("X-Pass"), r.Header.Get("X-Deny"), r.Host, r.Header.Get("X-Request-Id"), r.Header.Get("X-Forwarded-Proto"), string(b)}
		w.Header().Set("X-Upstream", "1")
		w.WriteHeader(201)
		io.WriteString(w, "from upstream")
	}))
	defer upstream.Close()
	h := newTestHost(t, "pass", func(c *Config) { c.Upstream = upstream.URL; c.Workers = 2 })
	proxy := httptest.NewServer(h.Handler())
	defer proxy.Close()
	admin := httptest.NewServer(h.AdminHandler())
	defer admin.Close()
	client := &http.Client{Timeout: 10 * time.Second}

	t.Run("an allowed request reaches the upstream with the filter's headers", func(t *testing.T) {
		req, _ := http.NewRequest("POST", proxy.URL+"/orders?id=7", strings.NewReader("payload"))
		req.Host = "api.example.com"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 || string(body) != "from upstream" {
			t.Fatalf("response %d %q, want the upstream's 201", resp.StatusCode, body)
		}
		if resp.Header.Get("X-Upstream") != "1" || resp.Header.Get("X-Pass-Response") != "yes" {
			t.Errorf("response headers %v lack the upstream's or the filter's header", resp.Header)
		}
		s := <-got
		if s.path != "/orders?id=7" || s.pass != "yes" || s.host != "api.example.com" || s.body != "payload" ||
			len(s.requestID) != 36 || s.proto != "http" {
			t.Fatalf("upstream saw %+v", s)
		}
	})
	t.Run("a denied request gets the filter's local response and never reaches the upstream", func(t *testing.T) {
		req, _ := http.NewRequest("GET", proxy.URL+"/orders", nil)
		req.Header.Set("X-Deny", "yes")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || string(body) != "denied by pass" || resp.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("response %d %q %v, want the filter's 403", resp.StatusCode, body, resp.Header)
		}
		select {
		case s := <-got:
			t.Fatalf("upstream was reached: %+v", s)
		default:
		}
	})
	t.Run("the admin /stats shows wasm metrics in Envoy's text format", func(t *testing.T) {
		resp, err := client.Get(admin.URL + "/stats?filter=wasmcustom")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "wasmcustom.pass.requests: 2\n") {
			t.Fatalf("/stats:\n%s", body)
		}
		if strings.Contains(string(body), "wasm.host.") {
			t.Errorf("filter did not apply:\n%s", body)
		}
	})
}

func TestHandlerAnswers413ForABodyOverItsBuffer(t *testing.T) {
	reached := make(chan struct{}, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached <- struct{}{}
	}))
	defer upstream.Close()
	h := newTestHost(t, "pass", func(c *Config) { c.Upstream = upstream.URL })
	proxy := httptest.NewServer(h.Handler())
	defer proxy.Close()
	resp, err := http.Post(proxy.URL+"/upload", "application/octet-stream", strings.NewReader(strings.Repeat("x", maxRequestBody+1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413 rather than a cut body going through", resp.StatusCode)
	}
	if n, _ := h.Metric("pass.requests"); n != 0 {
		t.Errorf("the filter saw %d requests, want none", n)
	}
	select {
	case <-reached:
		t.Error("the upstream received the request")
	default:
	}
}

func TestHandlerAnswers503WhenTheUpstreamIsDown(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	h := newTestHost(t, "pass", func(c *Config) { c.Upstream = dead.URL })
	proxy := httptest.NewServer(h.Handler())
	defer proxy.Close()
	resp, err := http.Get(proxy.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503 like Envoy", resp.StatusCode)
	}
}

func TestCalloutAnswerForAGoneStream(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "late")
	}))
	defer backend.Close()
	defer close(release)
	h := newTestHost(t, "pass", func(c *Config) { c.Clusters = map[string]string{"backend": backend.URL} })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := h.Do(ctx, Request{Path: "/", Headers: [][2]string{{"x-callout", "backend"}}})
	if err == nil {
		t.Fatal("Do returned without the callout answering")
	}
	release <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if logsContain(h, "gone: set_effective_context status 2") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("set_effective_context to the deleted stream did not answer BAD_ARGUMENT; logs %+v", h.Logs())
}
