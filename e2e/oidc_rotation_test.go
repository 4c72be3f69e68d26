package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
)

// oidcCounter is a reverse proxy in front of an oidc-provider process that
// counts the requests per path: the plugin's only way to the provider.
type oidcCounter struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]int
}

func newOIDCCounter(t *testing.T, issuer string) *oidcCounter {
	t.Helper()
	target, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	c := &oidcCounter{counts: map[string]int{}}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.counts[r.URL.Path]++
		c.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

// take returns the counts since the last take.
func (c *oidcCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = map[string]int{}
	return out
}

// oidcJWKSPath is the path of the provider's jwks_uri.
func oidcJWKSPath(t *testing.T, issuer string) string {
	t.Helper()
	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(doc.JWKSURI)
	if err != nil || u.Path == "" {
		t.Fatalf("jwks_uri %q: %v", doc.JWKSURI, err)
	}
	return u.Path
}

// TestOIDCProviderRotationAcrossWorkers restarts oidc-provider with a new
// signing key and sends a burst of tokens signed with it across four worker
// VMs, as issue #13 saw with Ory Hydra and two workers: 40 requests 10 ms
// apart, round-robin, each sent without waiting for the one before. The
// workers tick on real time, as in a proxy; whatever the timing, every
// request must be allowed and the provider must see one discovery and one
// JWKS request.
func TestOIDCProviderRotationAcrossWorkers(t *testing.T) {
	oidcSetup(t)
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			const workers, burst = 4, 40
			p := oidcStart(t, alg)
			counter := newOIDCCounter(t, p.Issuer)
			h := oidcHost(t, p.Issuer, func(c *host.Config) {
				c.Workers = workers
				c.Clusters = map[string]string{"oidc": counter.URL}
			})
			// One discovery and one JWKS request: one fetch.
			want := map[string]int{"/.well-known/openid-configuration": 1, oidcJWKSPath(t, p.Issuer): 1}
			for w := range workers {
				d, err := h.DoOn(context.Background(), w, host.Request{Method: "GET", Path: "/api/orders", Authority: "api.example",
					Headers: [][2]string{{"authorization", "Bearer " + p.oidcToken(t, "kong_api_access", "")}}})
				if err != nil || !d.Continue {
					t.Fatalf("worker %d before the rotation: %d %s %v", w, d.Status, d.Body, err)
				}
			}
			if got := counter.take(); !maps.Equal(got, want) {
				t.Fatalf("the first key set took %v at the provider, want %v", got, want)
			}

			p.oidcRestart(t)
			fresh := p.oidcToken(t, "kong_api_access", "")
			type answer struct {
				worker int
				d      host.Decision
				err    error
			}
			answers := make(chan answer, burst)
			for i := range burst {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					d, err := h.DoOn(ctx, i%workers, host.Request{Method: "GET", Path: "/api/orders", Authority: "api.example",
						Headers: [][2]string{{"authorization", "Bearer " + fresh}}})
					answers <- answer{i % workers, d, err}
				}()
				time.Sleep(10 * time.Millisecond)
			}
			var denied []string
			for range burst {
				a := <-answers
				if a.err != nil || !a.d.Continue {
					denied = append(denied, fmt.Sprintf("worker %d: %d %s %v", a.worker, a.d.Status, a.d.Body, a.err))
				}
			}
			got := counter.take()
			t.Logf("%d requests with the new kid over %d workers: %d denied; the provider saw %v", burst, workers, len(denied), got)
			if len(denied) > 0 {
				sort.Strings(denied)
				t.Errorf("%d of %d requests with the new kid were denied:\n%s", len(denied), burst, strings.Join(denied, "\n"))
			}
			if !maps.Equal(got, want) {
				t.Errorf("after the rotation the provider saw %v, want one discovery and one JWKS request (%v)", got, want)
			}
			if v := h.Violations(); len(v) != 0 || h.Traps() != 0 {
				t.Errorf("violations %v, traps %d", v, h.Traps())
			}
		})
	}
}
