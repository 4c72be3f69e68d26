package e2e

// DPoP through the compiled filter in the host with two worker VMs: what a
// single VM cannot show — the jti replay store shared across workers, nonces
// one worker hands out and another accepts, and the answers a client sees
// over HTTP (both challenges, DPoP-Nonce on a 401 and on a 200).

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// dpopConfig is attackConfig's provider with the given dpop block.
func dpopConfig(rs *testjwt.Key, dpop string) string {
	cfg := attackConfig(rs)
	if dpop == "" {
		return cfg
	}
	return strings.Replace(cfg, `"max_lifetime_s":86400`, `"max_lifetime_s":86400,"dpop":`+dpop, 1)
}

func TestDPoPReplayIsRefusedOnEveryWorker(t *testing.T) {
	rs, client := testjwt.CachedKey("RS256", "k1"), testjwt.CachedKey("ES256", "e2e-dpop")
	a := newAttackHost(t, dpopConfig(rs, ""))
	tok := rs.Sign(attackClaims(func(c map[string]any) { c["cnf"] = map[string]any{"jkt": client.Thumbprint()} }), nil)
	on := func(worker int, proof string) host.Decision {
		d, err := a.h.DoOn(context.Background(), worker, host.Request{Method: "GET", Path: "/orders/1", Authority: "api.example",
			Headers: [][2]string{{"authorization", "DPoP " + tok}, {"dpop", proof}}})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, order := range [][2]int{{0, 1}, {1, 0}, {0, 0}} {
		proof := client.DPoPProof("GET", "http://api.example/orders/1", tok, "", time.Now())
		requireOutcome(t, on(order[0], proof), allowed)
		requireOutcome(t, on(order[1], proof), deniedDPoP)
	}
	if n := a.h.Traps(); n != 0 {
		t.Errorf("the filter trapped %d times", n)
	}
}

func TestDPoPNoncesOverHTTP(t *testing.T) {
	rs, client := testjwt.CachedKey("RS256", "k1"), testjwt.CachedKey("ES256", "e2e-dpop")
	p := startFilterProxy(t, dpopConfig(rs, `{"nonce":{"secret":"c2NvcGVnYXRlLWUyZS1ub25jZS1zZWNyZXQtMzItYnl0ZXMh","step_s":1}}`), nil)
	tok := rs.Sign(attackClaims(func(c map[string]any) { c["cnf"] = map[string]any{"jkt": client.Thumbprint()} }), nil)
	htu := p.URL + "/orders/1"
	call := func(nonce string) *http.Response {
		resp, _ := p.do(t, "GET", "/orders/1", "Authorization", "DPoP "+tok, "DPoP", client.DPoPProof("GET", htu, tok, nonce, time.Now()))
		return resp
	}

	// The nonce's step must be known: the first three requests have to
	// fall within one 1-second step (a slow run that straddles two is
	// started again at the next step).
	var nonce string
	var step time.Time
	for attempt := 0; ; attempt++ {
		t0 := time.Now()
		resp := call("")
		nonce = resp.Header.Get("DPoP-Nonce")
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `DPoP error="use_dpop_nonce"` || nonce == "" {
			t.Fatalf("without a nonce: %d %q nonce %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"), nonce)
		}
		// Requests alternate between the two workers: each accepts the nonce.
		for i := range 2 {
			if resp := call(nonce); resp.StatusCode != 200 {
				t.Fatalf("request %d with the nonce: %d %q", i, resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
			}
		}
		step = t0.Truncate(time.Second).Add(time.Second)
		if time.Now().Before(step) {
			break
		}
		if attempt == 3 {
			t.Fatal("three requests never fit in one second")
		}
		time.Sleep(time.Until(step.Add(time.Second)))
	}
	// One step later the nonce is still good, and the answer carries the next one.
	time.Sleep(time.Until(step) + 50*time.Millisecond)
	resp := call(nonce)
	next := resp.Header.Get("DPoP-Nonce")
	if resp.StatusCode != 200 || next == "" || next == nonce {
		t.Fatalf("one step later: %d, next nonce %q", resp.StatusCode, next)
	}
	// Two steps later it is stale.
	time.Sleep(time.Until(step.Add(2*time.Second)) + 50*time.Millisecond)
	if resp := call(nonce); resp.StatusCode != 401 || resp.Header.Get("DPoP-Nonce") == "" {
		t.Fatalf("a stale nonce: %d", resp.StatusCode)
	}
	p.requireClean(t)
}

func TestMissingTokenOffersBothSchemesOverHTTP(t *testing.T) {
	p := startFilterProxy(t, attackConfig(testjwt.CachedKey("RS256", "k1")), nil)
	resp, body := p.do(t, "GET", "/orders/1")
	got := resp.Header.Values("WWW-Authenticate")
	want := []string{"Bearer", `DPoP algs="ES256 ES384 ES512 RS256 PS256 EdDSA"`}
	if resp.StatusCode != 401 || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("%d %q, want 401 with %q (%s)", resp.StatusCode, got, want, body)
	}
	if p.Upstream.count() != 0 {
		t.Error("the request reached the upstream")
	}
}
