package e2e

// The one fake identity provider of the e2e tests: a real HTTP server for a
// JWKS and an OpenID discovery document that the test switches between good
// answers and every failure issue #8 lists, delays, holds, rotates, and that
// counts the requests it gets per path.

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/testjwt"
)

// Paths the fake identity provider answers; any other path is 404.
const (
	jwksPath      = "/realms/demo/certs"
	discoveryPath = "/realms/demo/.well-known/openid-configuration"
)

// idpMode is how the fake identity provider answers both paths.
type idpMode string

const (
	idpOK        idpMode = "ok"        // the JWKS, and the discovery document
	idpReset     idpMode = "reset"     // the connection is closed without an answer (down)
	idp500       idpMode = "500"       // 500 Internal Server Error
	idpHTML      idpMode = "html"      // 200 with an HTML login page
	idpTruncated idpMode = "truncated" // 200 with the first half of the document
	idpEmpty     idpMode = "empty"     // 200 {"keys":[]}
	idpHuge      idpMode = "huge"      // 200 with a 10 MiB body
	idpSlow      idpMode = "slow"      // answers 5 s later (after any callout timeout the tests use)
	idpFlapping  idpMode = "flapping"  // ok and 500, alternating
)

// fakeIdP is the fake identity provider. What it answers is taken when a
// request arrives; a delay or a hold only postpones sending it, so keys
// changed meanwhile are not in that answer (as with a real provider's
// answer already on its way).
type fakeIdP struct {
	*httptest.Server

	mu       sync.Mutex
	mode     idpMode
	keys     []*testjwt.Key
	issuer   string        // the issuer the discovery document names
	jwksURI  string        // the jwks_uri the discovery document names
	delay    time.Duration // before answering (a request the client gives up on ends early)
	held     chan struct{} // while not nil, answers wait until it is closed
	requests map[string]int
	total    int
}

// newFakeIdP serves keys at jwksPath, and at discoveryPath a document naming
// issuer and "http://<authority>"+jwksPath (authority is the name the
// filter's configuration uses for the cluster's host).
func newFakeIdP(t testing.TB, authority, issuer string, keys ...*testjwt.Key) *fakeIdP {
	f := &fakeIdP{mode: idpOK, keys: keys, issuer: issuer, jwksURI: "http://" + authority + jwksPath,
		requests: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.release()
		f.Close()
	})
	return f
}

func (f *fakeIdP) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests[r.URL.Path]++
	f.total++
	n := f.total
	mode, keys, issuer, jwksURI, delay, held := f.mode, f.keys, f.issuer, f.jwksURI, f.delay, f.held
	f.mu.Unlock()

	var good []byte
	switch r.URL.Path {
	case jwksPath:
		good = testjwt.JWKS(keys...)
	case discoveryPath:
		good = []byte(`{"issuer":"` + issuer + `","jwks_uri":"` + jwksURI + `","id_token_signing_alg_values_supported":["RS256"]}`)
	default:
		http.NotFound(w, r)
		return
	}
	if mode == idpFlapping {
		mode = idpOK
		if n%2 == 0 {
			mode = idp500
		}
	}
	if mode == idpSlow {
		delay = 5 * time.Second
	}
	if !f.wait(r, delay, held) {
		return
	}
	switch mode {
	case idpOK, idpSlow:
		w.Header().Set("Content-Type", "application/json")
		w.Write(good)
	case idpReset:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			conn.Close()
		}
	case idp500:
		http.Error(w, "internal error", http.StatusInternalServerError)
	case idpHTML:
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<!doctype html><html><body><form action=/login>Sign in</form></body></html>"))
	case idpTruncated:
		w.Header().Set("Content-Type", "application/json")
		w.Write(good[:len(good)/2])
	case idpEmpty:
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[]}`))
	case idpHuge:
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[],"pad":"`))
		chunk := []byte(strings.Repeat("x", 64<<10))
		for range 160 { // 10 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		w.Write([]byte(`"}`))
	}
}

// wait sits out the delay and the hold; false when the client gave up first.
func (f *fakeIdP) wait(r *http.Request, delay time.Duration, held chan struct{}) bool {
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return false
		}
	}
	if held != nil {
		select {
		case <-held:
		case <-r.Context().Done():
			return false
		}
	}
	return true
}

func (f *fakeIdP) setMode(m idpMode) { f.mu.Lock(); f.mode = m; f.mu.Unlock() }

func (f *fakeIdP) setDelay(d time.Duration) { f.mu.Lock(); f.delay = d; f.mu.Unlock() }

// setKeys replaces the published keys (a rotation).
func (f *fakeIdP) setKeys(keys ...*testjwt.Key) { f.mu.Lock(); f.keys = keys; f.mu.Unlock() }

// setIssuer changes the issuer the discovery document names.
func (f *fakeIdP) setIssuer(iss string) { f.mu.Lock(); f.issuer = iss; f.mu.Unlock() }

// hold makes every answer wait, from now until release: a fetch stays in
// flight for as long as the test needs.
func (f *fakeIdP) hold() {
	f.mu.Lock()
	if f.held == nil {
		f.held = make(chan struct{})
	}
	f.mu.Unlock()
}

// release sends the held answers and stops holding.
func (f *fakeIdP) release() {
	f.mu.Lock()
	if f.held != nil {
		close(f.held)
		f.held = nil
	}
	f.mu.Unlock()
}

// count is the number of requests for path so far.
func (f *fakeIdP) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[path]
}

// hits is the number of requests for any path so far.
func (f *fakeIdP) hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}
