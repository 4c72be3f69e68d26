package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/host/envoycrypto"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// hostCryptoAlgs are the algorithms the proxy's verify_signature checks
// that the benchmarks measure (issue #14).
var hostCryptoAlgs = []string{"RS256", "ES256", "ES384", "ES512"}

// missPoolSize is how many distinct tokens a cache-miss benchmark cycles
// through: twice the filter's cache (1024 entries, first in first out), so
// a token comes back only after the cache dropped it. Each request's miss
// is still confirmed by the scopegate.cache.miss counter, and only
// confirmed misses are timed (stray-hits counts the others: 0 since the
// cache evicts in insertion order; round 1's sampling eviction kept ~8 %).
const missPoolSize = 2048

var (
	poolMu sync.Mutex
	pools  = map[string][]string{}
)

// missPool mints (once per process) missPoolSize tokens signed by k.
func missPool(k *testjwt.Key) []string {
	poolMu.Lock()
	defer poolMu.Unlock()
	if p, ok := pools[k.Alg]; ok {
		return p
	}
	base := time.Now().Add(2 * time.Hour).Unix()
	p := make([]string, missPoolSize)
	for i := range p {
		header := `{"alg":"` + k.Alg + `","typ":"JWT","kid":"` + k.Kid + `"}`
		payload := `{"exp":` + strconv.FormatInt(base+int64(i), 10) + `,"iat":` + strconv.FormatInt(time.Now().Unix()-10, 10) +
			`,"jti":"pool-` + strconv.Itoa(i) + `","iss":"` + issuer + `","aud":["orders-api","account"],` +
			`"sub":"7c9e6679-7425-40de-944b-e07fc1f90ae7","typ":"Bearer","azp":"web",` +
			`"realm_access":{"roles":["offline_access","default-roles-demo","uma_authorization"]},` +
			`"scope":"openid profile email orders:read","email_verified":true,"name":"Alice Example",` +
			`"preferred_username":"alice","email":"alice@example.com"}`
		p[i] = k.SignRaw([]byte(header), []byte(payload))
	}
	pools[k.Alg] = p
	return p
}

// cryptoConfig is the benchmark configuration with host_crypto set.
func cryptoConfig(mode string) []byte {
	cfg := strings.TrimSpace(string(pluginConfig()))
	return []byte(cfg[:len(cfg)-1] + `,"host_crypto":"` + mode + `"}`)
}

// nativeCheck returns the bare check of token's signature with Go's crypto
// in this process, the key parsed beforehand: what verify_signature costs
// a proxy whose crypto is as fast as Go's native code.
func nativeCheck(tb testing.TB, k *testjwt.Key, token string) func() bool {
	dot := strings.LastIndexByte(token, '.')
	input := []byte(token[:dot])
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if err != nil {
		tb.Fatal(err)
	}
	h := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}[k.Alg[2:]]
	digest := func() []byte {
		d := h.New()
		d.Write(input)
		return d.Sum(nil)
	}
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		return func() bool { return rsa.VerifyPKCS1v15(pub, h, digest(), sig) == nil }
	case *ecdsa.PublicKey:
		n := len(sig) / 2
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		return func() bool { return ecdsa.Verify(pub, digest(), r, s) }
	}
	tb.Fatalf("no native check for %s", k.Alg)
	return nil
}

// hostCallCheck returns what the local host's verify_signature does for
// one call, natively: decode the arguments, parse the DER key, verify,
// encode the answer (the arguments are encoded once, outside).
func hostCallCheck(tb testing.TB, k *testjwt.Key, token string) func() bool {
	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if err != nil {
		tb.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		tb.Fatal(err)
	}
	if _, ok := k.Public().(*ecdsa.PublicKey); ok {
		n := len(sig) / 2
		rs := struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])}
		if sig, err = asn1.Marshal(rs); err != nil {
			tb.Fatal(err)
		}
	}
	args := envoycrypto.EncodeArguments("sha"+k.Alg[2:], spki, sig, []byte(token[:dot]))
	return func() bool {
		out, st := envoycrypto.VerifySignature(args)
		return st == envoycrypto.StatusOK && len(out) == 2
	}
}

// BenchmarkHostCrypto measures issue #14's questions on worker 0 of the
// local host, whose verify_signature is Envoy's in Go (host/envoycrypto):
//
//   - miss_<alg>/{host,go}: a request whose token is not in the cache
//     (missPoolSize),
//     checked by the host's verify_signature (host_crypto "auto") or in Go
//     inside the VM ("off"). Interleaved with every timed miss, and timed
//     separately: a cache hit on the same host (hit-ns), the bare native
//     signature check in this process (native-ns) and one native
//     verify_signature call as the host runs it (host-call-ns). ns/op is
//     the median miss; miss-cost-ns is the median miss minus the median
//     hit (what a miss adds: parse, signature, claims, cache insert), and
//     cost-per-native is that over native-ns (issue #14: <= 2, target 1.5).
//   - flood_<alg>/{host,go}: tokens under a valid kid with a wrong
//     signature, one after another on one worker; rps is the requests per
//     second that worker sustains (1 s / mean request time).
func BenchmarkHostCrypto(b *testing.B) {
	ctx := context.Background()
	mod := build(b, modScopegate)
	paths := []struct {
		name string
		h    *host.Host
	}{
		{"host", startHost(b, mod, cryptoConfig("auto"))},
		{"go", startHost(b, mod, cryptoConfig("off"))},
	}
	for _, alg := range hostCryptoAlgs {
		k := keyFor(alg)
		pool := missPool(k)
		hitReq := request("/api/orders/42", pool[0])
		native := nativeCheck(b, k, pool[0])
		hostCall := hostCallCheck(b, k, pool[0])
		forged := testjwt.NewKey(alg, k.Kid) // another key under the provider's kid
		if !native() || !hostCall() {
			b.Fatalf("%s: the native checks reject a valid token", alg)
		}
		for _, p := range paths {
			next := 1 // the pool's next token, kept across the framework's runs so none repeats early
			b.Run("miss_"+alg+"/"+p.name, func(b *testing.B) {
				h := p.h
				d, err := h.DoOn(ctx, 0, hitReq) // the hit token enters the cache
				expect(b, d, err, 0)
				var misses, hits, natives, calls []time.Duration
				strays := 0
				b.ReportAllocs()
				t := newTimer(b)
				// At least one confirmed miss, even in the framework's b.N=1 probe.
				for i := 0; i < b.N || len(misses) == 0; i++ {
					req := request("/api/orders/42", pool[next])
					next++
					if next == len(pool) {
						next = 1
					}
					before, _ := h.Metric("scopegate.cache.miss")
					t.start()
					d, err := h.DoOn(ctx, 0, req)
					t.stop()
					expect(b, d, err, 0)
					if after, _ := h.Metric("scopegate.cache.miss"); after == before+1 {
						misses = append(misses, t.durs[len(t.durs)-1])
					} else {
						strays++ // a token the cache kept: not a miss
						t.total -= t.durs[len(t.durs)-1]
						t.durs = t.durs[:len(t.durs)-1]
					}
					t0 := time.Now()
					d, err = h.DoOn(ctx, 0, hitReq)
					hits = append(hits, time.Since(t0))
					expect(b, d, err, 0)
					t0 = time.Now()
					native()
					natives = append(natives, time.Since(t0))
					t0 = time.Now()
					hostCall()
					calls = append(calls, time.Since(t0))
				}
				t.report()
				b.ReportMetric(float64(strays), "stray-hits")
				m, hit, nat, call := median(misses), median(hits), median(natives), median(calls)
				b.ReportMetric(float64(hit.Nanoseconds()), "hit-ns")
				b.ReportMetric(float64(nat.Nanoseconds()), "native-ns")
				b.ReportMetric(float64(call.Nanoseconds()), "host-call-ns")
				b.ReportMetric(float64((m - hit).Nanoseconds()), "miss-cost-ns")
				b.ReportMetric(float64(m-hit)/float64(nat), "cost-per-native")
				b.ReportMetric(float64(m)/float64(nat), "miss-per-native")
			})
		}
		for _, p := range paths {
			b.Run("flood_"+alg+"/"+p.name, func(b *testing.B) {
				h := p.h
				reqs := make([]host.Request, 64)
				for i := range reqs {
					reqs[i] = request("/api/orders/42", mint(forged))
				}
				b.ReportAllocs()
				t := newTimer(b)
				for i := 0; i < b.N; i++ {
					t.start()
					d, err := h.DoOn(ctx, 0, reqs[i%len(reqs)])
					t.stop()
					expect(b, d, err, 401)
				}
				t.report()
				b.ReportMetric(float64(time.Second)/(float64(t.total)/float64(b.N)), "rps")
			})
		}
	}
}
