package e2e

// Key fetching end to end: the compiled filter in the wazero host, keys
// served by the fake identity provider (idp_test.go) that the tests make slow,
// failing or rotating, and two or more worker VMs sharing what they fetch.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
)

const keysAuthority = "idp.e2e.example"

// remoteKeysConfig is one remote_jwks provider through cluster "idp" with
// extra remote_jwks members.
func remoteKeysConfig(fetchExtra string) string {
	f := `"cluster":"idp","uri":"http://` + keysAuthority + jwksPath + `"`
	if fetchExtra != "" {
		f += "," + fetchExtra
	}
	return `{"providers":[{"name":"idp","issuer":"` + filterIssuer + `","remote_jwks":{` + f + `}}]}`
}

func keysToken(k *testjwt.Key) string {
	return k.Sign(testjwt.Claims(filterIssuer, "alice", time.Now(), "orders.read"), nil)
}

// decide sends GET /orders with the token to one worker of h.
func decide(t *testing.T, h *host.Host, worker int, token string) host.Decision {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := h.DoOn(ctx, worker, host.Request{Method: "GET", Path: "/orders/1", Authority: "api.example.com",
		Headers: [][2]string{{"authorization", "Bearer " + token}}})
	if err != nil {
		t.Fatalf("worker %d: %v", worker, err)
	}
	return d
}

func statusOf(d host.Decision) int {
	if d.Continue {
		return 200
	}
	return d.Status
}

// eventually polls every worker in turn until the token is allowed, for at
// most limit; it returns false if it never was.
func eventually(t *testing.T, p *filterProxy, token string, limit time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(limit)
	for i := 0; time.Now().Before(deadline); i++ {
		if decide(t, p.Host, i%p.Host.Workers(), token).Continue {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// metric is h's counter name, 0 when it is not defined yet.
func metric(h *host.Host, name string) uint64 {
	v, _ := h.Metric(name)
	return v
}

func TestASlowKeyServerBeyondTheTimeoutAnswers503ThenRecovers(t *testing.T) {
	key := testjwt.CachedKey("RS256", "e2e-slow")
	srv := newFakeIdP(t, keysAuthority, filterIssuer, key)
	srv.setDelay(5 * time.Second)
	p := startFilterProxy(t, remoteKeysConfig(`"timeout_ms":300`), map[string]string{"idp": srv.URL})
	tok := keysToken(key)

	d := decide(t, p.Host, 0, tok)
	if statusOf(d) != 503 {
		t.Fatalf("while the key server is too slow: %d, want 503", statusOf(d))
	}
	for _, h := range d.ResponseHeaders {
		if strings.EqualFold(h[0], "www-authenticate") {
			t.Errorf("503 carries a challenge: %q", h[1])
		}
	}
	if metric(p.Host, "scopegate.jwks.fetch_failed") == 0 {
		t.Error("fetch_failed is 0 after a timed-out fetch")
	}
	if len(p.logsContaining("fetching signing keys failed")) == 0 {
		t.Error("no log line about the failed fetch")
	}

	srv.setDelay(0)
	if !eventually(t, p, tok, 15*time.Second) {
		t.Fatal("the filter did not recover once the key server answered in time")
	}
	if metric(p.Host, "scopegate.jwks.fetch_ok") == 0 {
		t.Error("fetch_ok is 0 after recovering")
	}
	p.requireClean(t)
}

func TestBadKeyDocumentsAnswer503ThenRecover(t *testing.T) {
	for name, mode := range map[string]idpMode{"a 500": idp500, "an HTML page": idpHTML, "a truncated JWKS": idpTruncated} {
		t.Run(name+" answers 503 until good keys are served", func(t *testing.T) {
			key := testjwt.CachedKey("ES256", "e2e-bad")
			srv := newFakeIdP(t, keysAuthority, filterIssuer, key)
			srv.setMode(mode)
			p := startFilterProxy(t, remoteKeysConfig(""), map[string]string{"idp": srv.URL})
			tok := keysToken(key)
			if got := statusOf(decide(t, p.Host, 0, tok)); got != 503 {
				t.Fatalf("status %d, want 503", got)
			}
			srv.setMode(idpOK)
			if !eventually(t, p, tok, 15*time.Second) {
				t.Fatal("no recovery once good keys were served")
			}
			p.requireClean(t)
		})
	}
}

func TestARotatedKeyIsFetchedOnItsUnknownKidThenRefetchesAreRateLimited(t *testing.T) {
	base := testjwt.CachedKey("RS256", "e2e-rot-1")
	next, third := base.WithKid("e2e-rot-2"), base.WithKid("e2e-rot-3")
	srv := newFakeIdP(t, keysAuthority, filterIssuer, base)
	p := startFilterProxy(t, remoteKeysConfig(""), map[string]string{"idp": srv.URL})
	if got := statusOf(decide(t, p.Host, 0, keysToken(base))); got != 200 {
		t.Fatalf("the first key: %d", got)
	}
	before := srv.count(jwksPath)

	srv.setKeys(base, next)
	if got := statusOf(decide(t, p.Host, 1, keysToken(next))); got != 200 {
		t.Fatalf("a token of the rotated-in key: %d, want 200 after a refetch", got)
	}
	if got := srv.count(jwksPath); got != before+1 {
		t.Errorf("%d JWKS requests for the unknown kid, want 1", got-before)
	}

	// Within refetch_min_interval_s (30 s) no VM refetches again: once every
	// worker has read the shared state, a new unknown kid is 401 at once.
	p.Host.Tick(context.Background())
	srv.setKeys(base, next, third)
	for w := 0; w < p.Host.Workers(); w++ {
		if got := statusOf(decide(t, p.Host, w, keysToken(third))); got != 401 {
			t.Errorf("worker %d: a second unknown kid within the interval: %d, want 401", w, got)
		}
	}
	if got := srv.count(jwksPath); got != before+1 {
		t.Errorf("%d JWKS requests in all, want no refetch within the interval", got-before)
	}
	p.requireClean(t)
}

func TestWorkersShareOneFetch(t *testing.T) {
	key := testjwt.CachedKey("EdDSA", "e2e-shared")
	srv := newFakeIdP(t, keysAuthority, filterIssuer, key)
	p := startFilterProxy(t, remoteKeysConfig(""), map[string]string{"idp": srv.URL}, func(c *host.Config) { c.Workers = 4 })
	tok := keysToken(key)
	for w := 0; w < 4; w++ {
		if got := statusOf(decide(t, p.Host, w, tok)); got != 200 {
			t.Fatalf("worker %d: %d", w, got)
		}
	}
	if got := srv.count(jwksPath); got != 1 {
		t.Errorf("4 workers made %d JWKS requests, want 1", got)
	}
	if got := metric(p.Host, "scopegate.jwks.fetch_ok"); got != 1 {
		t.Errorf("fetch_ok = %d, want 1", got)
	}
	p.requireClean(t)
}

func TestWorkersRefreshOncePerInterval(t *testing.T) {
	key := testjwt.CachedKey("ES256", "e2e-refresh")
	srv := newFakeIdP(t, keysAuthority, filterIssuer, key)
	p := startFilterProxy(t, remoteKeysConfig(`"cache_duration_s":1`), map[string]string{"idp": srv.URL}, func(c *host.Config) { c.Workers = 4 })
	start := time.Now()
	tok := keysToken(key)
	for time.Since(start) < 3500*time.Millisecond {
		for w := 0; w < 4; w++ {
			if got := statusOf(decide(t, p.Host, w, tok)); got != 200 {
				t.Fatalf("worker %d: %d", w, got)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	elapsed := time.Since(start)
	// One fetch per elapsed second (plus the first and one in flight), where
	// four unshared workers would make four per second.
	got := srv.count(jwksPath)
	t.Logf("%d JWKS requests in %v from 4 workers with cache_duration_s 1", got, elapsed.Round(time.Millisecond))
	if limit := int(elapsed/time.Second) + 2; got > limit || got < 1 {
		t.Errorf("%d JWKS requests in %v with cache_duration_s 1 and 4 workers, want 1..%d", got, elapsed, limit)
	}
	p.requireClean(t)
}

func TestDiscoveryInTheHost(t *testing.T) {
	discoveryConfig := func(issuer string) string {
		return `{"providers":[{"name":"idp","issuer":"` + issuer + `","discovery":{"cluster":"idp","uri":"http://` +
			keysAuthority + discoveryPath + `"}}]}`
	}
	key := testjwt.CachedKey("RS256", "e2e-disc")
	t.Run("a matching issuer leads to the JWKS and allows the token", func(t *testing.T) {
		srv := newFakeIdP(t, keysAuthority, filterIssuer, key)
		p := startFilterProxy(t, discoveryConfig(filterIssuer), map[string]string{"idp": srv.URL})
		if got := statusOf(decide(t, p.Host, 0, keysToken(key))); got != 200 {
			t.Fatalf("status %d", got)
		}
		if srv.count(discoveryPath) != 1 || srv.count(jwksPath) != 1 {
			t.Errorf("requests: discovery %d, jwks %d; want 1 each", srv.count(discoveryPath), srv.count(jwksPath))
		}
		p.requireClean(t)
	})
	t.Run("a document naming another issuer answers 503 and logs both", func(t *testing.T) {
		srv := newFakeIdP(t, keysAuthority, "https://evil.example", key)
		p := startFilterProxy(t, discoveryConfig(filterIssuer), map[string]string{"idp": srv.URL})
		if got := statusOf(decide(t, p.Host, 0, keysToken(key))); got != 503 {
			t.Fatalf("status %d, want 503", got)
		}
		if len(p.logsContaining(`"https://evil.example" but the provider's issuer is "`+filterIssuer+`"`)) == 0 {
			t.Error("no log line naming both issuers")
		}
		if srv.count(jwksPath) != 0 {
			t.Error("the JWKS of a mismatching discovery document was fetched")
		}
		p.requireClean(t)
	})
}
