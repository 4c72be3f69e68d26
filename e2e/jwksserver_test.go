package e2e

// A JWKS and OpenID discovery server the key tests control: it can serve
// keys, fail, serve HTML or a truncated document, answer slowly, rotate
// keys, and it counts the requests it gets.

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/testjwt"
)

// jwksMode is how the server answers the JWKS path.
type jwksMode int

const (
	jwksServe     jwksMode = iota // 200 with the current keys
	jwksFail                      // 500
	jwksHTML                      // 200 with an HTML page
	jwksTruncated                 // 200 with the first half of the JWKS
)

// Paths the server answers.
const (
	jwksPath      = "/realms/demo/certs"
	discoveryPath = "/realms/demo/.well-known/openid-configuration"
)

type jwksServer struct {
	*httptest.Server

	mu       sync.Mutex
	keys     []*testjwt.Key
	mode     jwksMode
	delay    time.Duration // before answering (a request canceled by the client ends early)
	issuer   string        // issuer the discovery document names
	jwksURI  string        // jwks_uri the discovery document names
	requests map[string]int
}

// newJWKSServer serves keys at jwksPath and a discovery document naming
// issuer and "http://<authority>"+jwksPath at discoveryPath.
func newJWKSServer(t testing.TB, authority, issuer string, keys ...*testjwt.Key) *jwksServer {
	s := &jwksServer{keys: keys, issuer: issuer, jwksURI: "http://" + authority + jwksPath, requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.URL.Path]++
	mode, delay, keys, issuer, jwksURI := s.mode, s.delay, s.keys, s.issuer, s.jwksURI
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	switch r.URL.Path {
	case discoveryPath:
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"issuer":"` + issuer + `","jwks_uri":"` + jwksURI + `","id_token_signing_alg_values_supported":["RS256"]}`))
		return
	case jwksPath:
	default:
		http.NotFound(w, r)
		return
	}
	body := testjwt.JWKS(keys...)
	switch mode {
	case jwksFail:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	case jwksHTML:
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<!doctype html><html><body>Sign in</body></html>"))
		return
	case jwksTruncated:
		body = body[:len(body)/2]
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func (s *jwksServer) setMode(m jwksMode) { s.mu.Lock(); s.mode = m; s.mu.Unlock() }

func (s *jwksServer) setDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// rotate replaces the served keys.
func (s *jwksServer) rotate(keys ...*testjwt.Key) { s.mu.Lock(); s.keys = keys; s.mu.Unlock() }

// count is the number of requests for path so far.
func (s *jwksServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}
