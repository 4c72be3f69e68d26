//go:build !wasip1

package filter

import (
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/host/envoycrypto"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// A DPoP proof is a signature check on every request; it takes the access
// tokens' path: the proxy's verify_signature for RS*/ES*, Go otherwise.
func TestDPoPProofsTakeTheProxysCrypto(t *testing.T) {
	invalid := okAnswer(envoycrypto.EncodeResult(envoycrypto.Result{Error: "Failed to verify digest. Error code: 0"}))

	t.Run("an ES256 proof is checked by verify_signature, on every request", func(t *testing.T) {
		fp := &fakeProxy{envoy: true}
		h := mustStartWithProxy(t, localConfig("", readRule), fp)
		client := dpopKey()
		tok := h.boundToken(client, nil)
		wantStatus(t, h.dpopCall("GET", "/api", tok, h.proofFor(client, "GET", "/api", tok)), 200)
		// The access token (RS256) and the proof (ES256).
		if got := signatureCounters(h); got != [3]uint64{2, 0, 0} {
			t.Fatalf("counters (host, guest, host_error) %v, want [2 0 0]", got)
		}
		// The token is cached now; the fresh proof is checked again.
		wantStatus(t, h.dpopCall("GET", "/api", tok, h.proofFor(client, "GET", "/api", tok)), 200)
		if got := signatureCounters(h); got != [3]uint64{3, 0, 0} {
			t.Fatalf("counters %v, want [3 0 0]", got)
		}
	})
	t.Run("a proof the proxy finds invalid is refused without asking Go", func(t *testing.T) {
		fp := &fakeProxy{envoy: true}
		h := mustStartWithProxy(t, localConfig("", readRule), fp)
		client := dpopKey()
		tok := h.boundToken(client, nil)
		wantStatus(t, h.dpopCall("GET", "/api", tok, h.proofFor(client, "GET", "/api", tok)), 200)
		fp.answer = invalid
		r := h.dpopCall("GET", "/api", tok, h.proofFor(client, "GET", "/api", tok))
		wantDPoPDenied(t, h, r, defaultDPoPAlgs, "DPoP proof signature is invalid")
		if got := signatureCounters(h); got != [3]uint64{3, 0, 0} {
			t.Fatalf("counters %v, want [3 0 0]", got)
		}
	})
	t.Run("an EdDSA proof is checked in Go", func(t *testing.T) {
		fp := &fakeProxy{envoy: true}
		h := mustStartWithProxy(t, localConfig("", readRule), fp)
		client := testjwt.CachedKey("EdDSA", "dpop-ed")
		tok := h.boundToken(client, nil)
		wantStatus(t, h.dpopCall("GET", "/api", tok, h.proofFor(client, "GET", "/api", tok)), 200)
		if got := signatureCounters(h); got != [3]uint64{1, 1, 0} {
			t.Fatalf("counters %v, want [1 1 0]", got)
		}
	})
	t.Run("under require, a proof the proxy cannot check gets 503, never Go", func(t *testing.T) {
		fp := &fakeProxy{envoy: true}
		h := mustStartWithProxy(t, localConfig("", readRule+`,"host_crypto":"require"`), fp)
		client := dpopKey()
		tok := h.boundToken(client, nil)
		wantStatus(t, h.dpopCall("GET", "/api", tok, h.proofFor(client, "GET", "/api", tok)), 200)
		fp.answer = statusAnswer(types.ErrorInternalFailure)
		r := h.dpopCall("GET", "/api", tok, h.proofFor(client, "GET", "/api", tok))
		wantStatus(t, r, 503)
		if got := signatureCounters(h); got[1] != 0 {
			t.Fatalf("counters %v: Go checked a signature under require", got)
		}
		if !strings.Contains(logsOf(h), "could not check the DPoP proof signature") {
			t.Errorf("no log line names the proof:\n%s", logsOf(h))
		}
	})
}

func TestDPoPAlgorithmsUnderRequiredHostCrypto(t *testing.T) {
	t.Run("the default proof algorithms narrow to what the proxy checks", func(t *testing.T) {
		cfg, err := ParseConfig([]byte(localConfig("", `"host_crypto":"require"`)))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Providers[0].DPoP.AlgNames; got != "ES256 ES384 ES512 RS256" {
			t.Fatalf("algs %q, want the RS*/ES* defaults only", got)
		}
	})
	t.Run("auto keeps every default proof algorithm", func(t *testing.T) {
		cfg, err := ParseConfig([]byte(localConfig("", "")))
		if err != nil || cfg.Providers[0].DPoP.AlgNames != defaultDPoPAlgs {
			t.Fatalf("algs %q, err %v", cfg.Providers[0].DPoP.AlgNames, err)
		}
	})
	t.Run("a listed PS256 is an error naming it", func(t *testing.T) {
		_, err := ParseConfig([]byte(localConfig(`"dpop":{"algorithms":["ES256","PS256"]}`, `"host_crypto":"require"`)))
		want := `providers[0].dpop.algorithms[1]: "PS256" cannot be checked by the proxy's verify_signature`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err %v, want %q", err, want)
		}
	})
	t.Run("listed ES256 and RS256 are accepted (the valid twin)", func(t *testing.T) {
		if _, err := ParseConfig([]byte(localConfig(`"dpop":{"algorithms":["ES256","RS256"]}`, `"host_crypto":"require"`))); err != nil {
			t.Fatal(err)
		}
	})
}
