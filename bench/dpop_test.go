package bench

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// The DPoP scenario (RFC 9449): a DPoP-bound access token that the filter
// verified once and serves from its cache, sent with a fresh proof on every
// request, so each request costs the proof's checks — one signature
// verification by the proof's key, the RFC 7638 thumbprint, htu/htm/iat/ath
// and one jti insert into shared data. A harness for another engine needs
// dpopToken, dpopHeaders (fresh headers per request: a proof is accepted
// once) and pluginConfig.

// dpopProofAlgs are the proof algorithms measured: ES256, what clients use
// almost always, and EdDSA, the cheap one.
var dpopProofAlgs = []string{"ES256", "EdDSA"}

// dpopKey is the client's proof key for alg.
func dpopKey(alg string) *testjwt.Key { return testjwt.CachedKey(alg, "bench-dpop-"+alg) }

// dpopToken is an access token for the /api route of pluginConfig, signed
// by the provider's RS256 key and bound to client (cnf.jkt).
func dpopToken(client *testjwt.Key) string {
	now := time.Now().Unix()
	payload := `{"exp":` + strconv.FormatInt(now+3600, 10) + `,"iat":` + strconv.FormatInt(now-10, 10) +
		`,"iss":"` + issuer + `","aud":["orders-api"],"sub":"7c9e6679-7425-40de-944b-e07fc1f90ae7",` +
		`"scope":"openid orders:read","cnf":{"jkt":"` + client.Thumbprint() + `"}}`
	k := keyFor("RS256")
	return k.SignRaw([]byte(`{"alg":"RS256","typ":"at+jwt","kid":"`+k.Kid+`"}`), []byte(payload))
}

// dpopHeaders are the request headers of one DPoP call of GET
// http://api.example.com/api/orders/42 (request's authority) with token and
// a fresh proof by client.
func dpopHeaders(token string, client *testjwt.Key) [][2]string {
	return [][2]string{
		{"user-agent", "bench/1.0"}, {"accept", "application/json"},
		{"authorization", "DPoP " + token},
		{"dpop", client.DPoPProof("GET", "http://api.example.com/api/orders/42", token, "", time.Now())},
	}
}

// BenchmarkWasmDPoP measures a DPoP request whose access token is a cache
// hit, on one worker VM, against the baseline of the bare signature check
// of the proof's algorithm in the same runtime (verifyguest): the proof's
// signature is the part no cache can save.
func BenchmarkWasmDPoP(b *testing.B) {
	ctx := context.Background()
	sg := startHost(b, build(b, modDebug), pluginConfig())
	vo := startHost(b, build(b, modVerifyOnly), verifyConfig(b))
	for _, alg := range dpopProofAlgs {
		client := dpopKey(alg)
		token := dpopToken(client)
		call := func() host.Request {
			return host.Request{Method: "GET", Path: "/api/orders/42", Authority: "api.example.com", Headers: dpopHeaders(token, client)}
		}
		d, err := sg.DoOn(ctx, 0, call()) // the token enters the cache
		expect(b, d, err, 0)
		base := request("/api/orders/42", mint(keyFor(alg)))
		base.Headers = append(base.Headers, [2]string{"x-bench-alg", alg})
		b.Run("hit_"+alg+"_proof", func(b *testing.B) {
			b.Run("scopegate", func(b *testing.B) { measureFresh(b, sg, call, vo, base) })
			b.Run("baseline", func(b *testing.B) { timeRequests(b, vo, base) })
		})
	}
}
