package e2e

// Harness for the filter's end-to-end tests: the compiled scopegate.wasm in
// the local wazero host (host.New), behind a real reverse proxy, in front of
// a real HTTP upstream that records what it receives.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// filterModule builds ./cmd/scopegate (with the runtime overlay) once per
// process and returns the .wasm path.
func filterModule(t testing.TB, tags ...string) string {
	t.Helper()
	path, err := wasmbuild.Build("./cmd/scopegate", wasmbuild.Options{Tags: tags})
	if err != nil {
		t.Fatalf("building the filter: %v", err)
	}
	return path
}

// seenRequest is one request as the upstream received it.
type seenRequest struct {
	Method, URI string
	Header      http.Header
}

// upstreamRecorder is a real HTTP upstream that answers 200 "upstream" and
// keeps every request it saw.
type upstreamRecorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
}

func newUpstream(t testing.TB) *upstreamRecorder {
	u := &upstreamRecorder{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{Method: r.Method, URI: r.URL.RequestURI(), Header: r.Header.Clone()})
		u.mu.Unlock()
		io.WriteString(w, "upstream")
	}))
	t.Cleanup(u.Close)
	return u
}

// last returns the most recent request the upstream saw.
func (u *upstreamRecorder) last(t testing.TB) seenRequest {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatal("the upstream saw no request")
	}
	return u.seen[len(u.seen)-1]
}

func (u *upstreamRecorder) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

// filterProxy is scopegate running in the host, reachable over HTTP.
type filterProxy struct {
	Host     *host.Host
	URL      string // the proxy's base URL
	Upstream *upstreamRecorder
	client   *http.Client
}

// startFilterProxy runs the filter with the plugin configuration cfg and the
// given clusters (name -> base URL). mutate may adjust the host config.
func startFilterProxy(t testing.TB, cfg string, clusters map[string]string, mutate ...func(*host.Config)) *filterProxy {
	t.Helper()
	up := newUpstream(t)
	hc := host.Config{
		Module:       filterModule(t),
		PluginConfig: []byte(cfg),
		Clusters:     clusters,
		Upstream:     up.URL,
		Workers:      2,
		Log:          io.Discard,
	}
	for _, m := range mutate {
		m(&hc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := host.New(ctx, hc)
	if err != nil {
		t.Fatalf("host.New: %v", err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	return &filterProxy{Host: h, URL: srv.URL, Upstream: up, client: &http.Client{Timeout: 20 * time.Second}}
}

// do sends one request through the proxy; headers alternate name, value.
func (p *filterProxy) do(t testing.TB, method, path string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// requireClean fails the test if the guest trapped or broke an Envoy rule.
func (p *filterProxy) requireClean(t testing.TB) {
	t.Helper()
	if n := p.Host.Traps(); n != 0 {
		t.Errorf("the filter trapped %d times", n)
	}
	if v := p.Host.Violations(); len(v) != 0 {
		t.Errorf("Envoy rule violations: %v", v)
	}
}

// logsContaining returns the plugin log messages that contain substr.
func (p *filterProxy) logsContaining(substr string) []string {
	var out []string
	for _, e := range p.Host.Logs() {
		if strings.Contains(e.Message, substr) {
			out = append(out, e.Message)
		}
	}
	return out
}

// waitUntil polls cond until it holds, for up to 20 s: a bound on a test
// that would otherwise hang, not a timing assertion.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
