package bench

import (
	"context"
	"encoding/base64"
	"hash/maphash"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/scopegate/scopegate/host/envoycrypto"
	"github.com/scopegate/scopegate/internal/testjwt"
	"github.com/scopegate/scopegate/jwt"
)

var b64 = base64.RawURLEncoding.Strict()

// envoyVerifier is verify_signature as the local host runs it, called
// natively: the baseline of verify_host, whose difference is what the
// crossing into the host (and the guest's own encoding in wasm) costs.
type envoyVerifier struct{}

func (envoyVerifier) VerifySignature(hash string, spki, sig, signed []byte) jwt.Verdict {
	out, st := envoycrypto.VerifySignature(envoycrypto.EncodeArguments(hash, spki, sig, signed))
	if r, ok := envoycrypto.DecodeResult(out); st == envoycrypto.StatusOK && ok && r.Valid {
		return jwt.Valid
	}
	return jwt.Invalid
}

// BenchmarkJWTInWasm runs the jwt package's request-path operations inside
// the VM (bench/testdata/jwtguest, timed by the guest's own clock) and
// natively in this process on the same token, so the table shows what wasm
// costs for each: "baseline" is the same code run natively.
func BenchmarkJWTInWasm(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "HS256"} {
		k := keyFor(alg)
		raw := mint(k)
		set := testjwt.JWKS(k)
		h := startHost(b, build(b, "./bench/testdata/jwtguest"), append([]byte(raw+"\n"), set...))
		token, err := jwt.Parse(raw, 0)
		if err != nil {
			b.Fatal(err)
		}
		keys, _, err := jwt.ParseJWKS(set, jwt.JWKSOptions{AllowOct: true})
		if err != nil {
			b.Fatal(err)
		}
		valid := jwt.Validator{Issuer: issuer, Audiences: []string{"orders-api"}, ClockSkew: time.Minute, RequireExp: true}
		seed := maphash.MakeSeed()
		ops := []struct {
			name   string
			op     uint64
			native func() bool
		}{
			{"parse", 0, func() bool { _, err := jwt.Parse(raw, 0); return err == nil }},
			{"verify", 1, func() bool { _, err := keys.Verify(token, jwt.DefaultAlgs.With(jwt.HS256)); return err == nil }},
			{"verify_host", 15, func() bool {
				_, c, err := keys.VerifyWith(token, jwt.DefaultAlgs.With(jwt.HS256), envoyVerifier{})
				return err == nil && c.Native == 1
			}},
			{"validate", 2, func() bool { _, err := valid.Validate(token.Payload, time.Now()); return err == nil }},
			{"scopes", 3, func() bool { return len(jwt.Scopes(token.Payload, []string{"scope", "scp"})) > 0 }},
			{"hash_token", 4, func() bool { return maphash.String(seed, raw) != 0 }},
			{"claim_sub", 5, func() bool { v, ok := jwt.ClaimHeaderValue(token.Payload, "sub"); return ok && v != "" }},
			{"validate_token", 7, func() bool { _, err := valid.ValidateToken(token, time.Now()); return err == nil }},
			{"token_scopes", 8, func() bool { return len(token.Scopes([]string{"scope", "scp"})) > 0 }},
			{"token_claim_sub", 9, func() bool { v, ok := token.ClaimHeaderValue("sub"); return ok && v != "" }},
			{"token_iss", 10, func() bool { v, ok := token.StringClaim("iss"); return ok && v != "" }},
			{"gjson_iss", 11, func() bool { return gjson.GetBytes(token.Payload, "iss").Str != "" }},
			{"token_issuer", 12, func() bool { v, ok := token.Issuer(); return ok && v != "" }},
			{"token_cnf", 13, func() bool { _, err := token.Confirmation(); return err == nil }},
			{"read_cnf", 14, func() bool { _, err := jwt.ReadConfirmation(token.Payload); return err == nil }},
			{"base64_segments", 6, func() bool {
				var buf [16384]byte
				for _, seg := range strings.Split(raw, ".") {
					if _, err := b64.Decode(buf[:], []byte(seg)); err != nil {
						return false
					}
				}
				return true
			}},
		}
		for _, o := range ops {
			verify := strings.HasPrefix(o.name, "verify")
			if alg != "RS256" && !verify || alg == "HS256" && o.name == "verify_host" {
				continue // only the signature check depends on the algorithm; HMAC never goes to the host
			}
			name := o.name
			if verify {
				name += "_" + alg
			}
			b.Run(name, func(b *testing.B) {
				b.Run("wasm", func(b *testing.B) {
					res, err := h.CallExport(context.Background(), 0, "bench_jwt", o.op, uint64(b.N))
					if err != nil || res[0] == 0 {
						b.Fatalf("bench_jwt(%d) = %v, %v", o.op, res, err)
					}
					b.ReportMetric(float64(res[0])/float64(b.N), "ns/op")
				})
				b.Run("baseline", func(b *testing.B) {
					for b.Loop() {
						if !o.native() {
							b.Fatal(o.name + " failed")
						}
					}
				})
			})
		}
	}
}
