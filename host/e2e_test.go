package host

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/rawhttp"
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

// rawRequest sends one request with its target exactly as given; headers
// alternate name, value.
func rawRequest(t *testing.T, addr, method, target string, headers ...string) (int, string) {
	t.Helper()
	var hs [][2]string
	for i := 0; i+1 < len(headers); i += 2 {
		hs = append(hs, [2]string{headers[i], headers[i+1]})
	}
	status, body, err := rawhttp.Do(addr, method, target, hs, "")
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

// The proxy forwards origin-form only, byte for byte, and only ever to its
// upstream: the request-target forms of issue 12 (an absolute-form target
// whose text after "@" named a host) are refused before the filter runs.
func TestHandlerForwardsOnlyOriginFormAndOnlyToItsUpstream(t *testing.T) {
	record := func(hits *atomic.Int32, seen *atomic.Value) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			seen.Store(r.Method + " " + r.RequestURI + " host=" + r.Host)
			io.WriteString(w, "reached")
		}))
	}
	var upHits, evilHits atomic.Int32
	var upSeen, evilSeen atomic.Value
	upstream := record(&upHits, &upSeen)
	defer upstream.Close()
	evil := record(&evilHits, &evilSeen)
	defer evil.Close()
	evilAddr := strings.TrimPrefix(evil.URL, "http://")
	h := newTestHost(t, "pass", func(c *Config) { c.Upstream = upstream.URL + "/" })
	proxy := httptest.NewServer(h.Handler())
	defer proxy.Close()
	addr := strings.TrimPrefix(proxy.URL, "http://")

	for _, tc := range []struct{ name, method, target string }{
		{"an absolute-form target whose userinfo hides a host", "GET", "http:@" + evilAddr + "/oidc/hello"},
		{"an absolute-form target", "GET", "http://" + evilAddr + "/oidc/hello"},
		{"an authority-form target", "CONNECT", evilAddr},
		{"a target without a leading slash", "GET", "oidc/hello"},
		{"the asterisk-form with GET", "GET", "*"},
		{"a fragment", "GET", "/oidc/hello#x"},
	} {
		t.Run(tc.name+" is refused with 400 before the filter runs", func(t *testing.T) {
			before, _ := h.Metric("pass.requests")
			status, _ := rawRequest(t, addr, tc.method, tc.target)
			if status != 400 {
				t.Fatalf("status %d, want 400", status)
			}
			if after, _ := h.Metric("pass.requests"); after != before {
				t.Errorf("the filter saw the request")
			}
			if n := upHits.Load() + evilHits.Load(); n != 0 {
				t.Fatalf("a server was reached %d times (upstream %v, other host %v)", n, upSeen.Load(), evilSeen.Load())
			}
		})
	}
	for _, tc := range []struct{ name, method, target, want string }{
		{"an origin-form target goes as it was sent", "GET", "/oidc/..;/a%2Fb%5C\\c?q=%41", `GET /oidc/..;/a%2Fb%5C\c?q=%41 host=api.example.com`},
		{"a lower-case method goes as it was sent", "delete", "/orders/1", "delete /orders/1 host=api.example.com"},
		{"a target starting with // keeps its path, in the absolute-form naming the upstream", "GET", "//" + evilAddr + "/x",
			"GET " + upstream.URL + "//" + evilAddr + "/x host=" + strings.TrimPrefix(upstream.URL, "http://")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := rawRequest(t, addr, tc.method, tc.target)
			if status != 200 || body != "reached" {
				t.Fatalf("status %d %q, want the upstream's 200", status, body)
			}
			if got := upSeen.Load(); got != tc.want {
				t.Fatalf("the upstream saw %q, want %q", got, tc.want)
			}
			if evilHits.Load() != 0 {
				t.Fatal("another host was reached")
			}
		})
	}
	t.Run("OPTIONS * is forwarded as the asterisk-form", func(t *testing.T) {
		before := upHits.Load()
		if status, _ := rawRequest(t, addr, "OPTIONS", "*"); status != 200 {
			t.Fatalf("status %d, want 200", status)
		}
		if n, _ := h.Metric("pass.requests"); n == 0 {
			t.Fatal("the filter never saw OPTIONS *")
		}
		// Go's server answers OPTIONS * itself, so the handler is not run;
		// what matters is that nothing else was reached.
		if upHits.Load() != before || evilHits.Load() != 0 {
			t.Fatalf("a handler ran: upstream %d, other host %d", upHits.Load()-before, evilHits.Load())
		}
	})
	for _, p := range []string{"http://" + evilAddr + "/x", "@" + evilAddr + "/x", "x"} {
		t.Run("a :path the filter set to "+p+" is not sent anywhere", func(t *testing.T) {
			before := upHits.Load()
			status, _ := rawRequest(t, addr, "GET", "/x", "x-set-path", p)
			if status != 503 {
				t.Fatalf("status %d, want 503 (the upstream request was not made)", status)
			}
			if upHits.Load() != before || evilHits.Load() != 0 {
				t.Fatal("a server was reached")
			}
		})
	}
	t.Run("a :path the filter set to another origin-form path goes to the upstream", func(t *testing.T) {
		if status, _ := rawRequest(t, addr, "GET", "/x", "x-set-path", "/rewritten?a=1"); status != 200 {
			t.Fatalf("status %d", status)
		}
		if got := upSeen.Load(); got != "GET /rewritten?a=1 host=api.example.com" {
			t.Fatalf("the upstream saw %q", got)
		}
	})
}

func TestUpstreamMustBeAPlainHTTPURL(t *testing.T) {
	for _, bad := range []string{"127.0.0.1:9000", "ftp://x", "http://", "http://user@x", "http://x/?q=1", "http://x/#f", "http:x"} {
		if _, err := upstreamURL(bad); err == nil {
			t.Errorf("upstream %q accepted", bad)
		}
	}
	for _, good := range []string{"", "http://127.0.0.1:9000", "https://app.internal/base/"} {
		if _, err := upstreamURL(good); err != nil {
			t.Errorf("upstream %q rejected: %v", good, err)
		}
	}
}
