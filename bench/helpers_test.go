package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// Modules the benchmarks load, built once per process.
const (
	modScopegate   = "./cmd/scopegate"                 // the shipped module
	modDebug       = "./bench/testdata/scopegatedebug" // the same filter plus scopegate_debug_stat
	modPassthrough = "./filter/abi/testdata/passthrough"
	modVerifyOnly  = "./bench/testdata/verifyguest"
)

func build(tb testing.TB, pkg string) string {
	tb.Helper()
	path, err := wasmbuild.Build(pkg, wasmbuild.Options{})
	if err != nil {
		tb.Fatalf("building %s: %v", pkg, err)
	}
	return path
}

// Statistics of scopegate_debug_stat (bench/testdata/scopegatedebug).
const (
	statAllocObjects = 0 // /gc/heap/allocs:objects
	statAllocBytes   = 1 // /gc/heap/allocs:bytes
	statHeapObjects  = 2 // /memory/classes/heap/objects:bytes
	statHeapGoal     = 3 // /gc/heap/goal:bytes
	statGCCycles     = 4 // /gc/cycles/total:gc-cycles
	statTotal        = 5 // /memory/classes/total:bytes
	statGCCPU        = 7 // /cpu/classes/gc/total:cpu-seconds, in nanoseconds
)

// guestStat reads one of the guest's runtime statistics on worker 0.
func guestStat(tb testing.TB, h *host.Host, stat uint64) uint64 {
	tb.Helper()
	res, err := h.CallExport(context.Background(), 0, "scopegate_debug_stat", stat)
	if err != nil || len(res) != 1 {
		tb.Fatalf("scopegate_debug_stat(%d) = %v, %v", stat, res, err)
	}
	return res[0]
}

const issuer = "https://idp.example.com/realms/demo"

// benchAlgs are the algorithms measured on a cache miss (as in jwt/bench_test.go).
var benchAlgs = []string{"RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA", "HS256"}

// benchKeys are the provider's signing keys, one per algorithm, kid = alg.
func benchKeys() []*testjwt.Key {
	keys := make([]*testjwt.Key, len(benchAlgs))
	for i, alg := range benchAlgs {
		keys[i] = testjwt.CachedKey(alg, "bench-"+alg)
	}
	return keys
}

func keyFor(alg string) *testjwt.Key { return testjwt.CachedKey(alg, "bench-"+alg) }

// pluginConfig is a realistic configuration: one provider with local keys
// (every benchmarked algorithm; HS256 only because it is listed), a scoped
// API, a health route, an admin route nobody's token satisfies, and the
// default "any valid token".
func pluginConfig() []byte {
	return []byte(`{
  "providers": [{
    "name": "idp",
    "issuer": "` + issuer + `",
    "audiences": ["orders-api"],
    "local_jwks": ` + string(testjwt.JWKS(benchKeys()...)) + `,
    "algorithms": ["RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA", "HS256"],
    "claim_to_headers": [{"claim": "sub", "header": "x-jwt-sub"}]
  }],
  "rules": [
    {"match": {"prefix": "/health", "methods": ["GET"]}, "requires": {"allow": true}},
    {"match": {"prefix": "/api"}, "requires": {"scopes": ["orders:read"]}},
    {"match": {"prefix": "/admin"}, "requires": {"any": [
      {"scopes": ["admin"]}, {"claims": [{"path": "realm_access.roles", "values": ["superuser"]}]}]}}
  ]
}`)
}

var jti atomic.Uint64

// mint signs a Keycloak-shaped access token with a fresh jti, so every
// token is distinct (a cache miss), valid for an hour.
func mint(k *testjwt.Key) string {
	now := time.Now().Unix()
	header := `{"alg":"` + k.Alg + `","typ":"JWT","kid":"` + k.Kid + `"}`
	payload := `{"exp":` + strconv.FormatInt(now+3600, 10) + `,"iat":` + strconv.FormatInt(now-10, 10) +
		`,"jti":"bench-` + strconv.FormatUint(jti.Add(1), 10) + `","iss":"` + issuer +
		`","aud":["orders-api","account"],"sub":"7c9e6679-7425-40de-944b-e07fc1f90ae7","typ":"Bearer","azp":"web",` +
		`"session_state":"b1e2c3d4-aaaa-bbbb-cccc-ddddeeeeffff","acr":"1","allowed-origins":["https://app.example.com"],` +
		`"realm_access":{"roles":["offline_access","default-roles-demo","uma_authorization"]},` +
		`"resource_access":{"account":{"roles":["manage-account","view-profile"]}},` +
		`"scope":"openid profile email orders:read","sid":"b1e2c3d4-aaaa-bbbb-cccc-ddddeeeeffff","email_verified":true,` +
		`"name":"Alice Example","preferred_username":"alice","given_name":"Alice","family_name":"Example","email":"alice@example.com"}`
	return k.SignRaw([]byte(header), []byte(payload))
}

// request is a typical API request carrying token (none when "").
func request(path, token string) host.Request {
	hs := [][2]string{{"user-agent", "bench/1.0"}, {"accept", "application/json"}, {"x-request-id", "0f4c2a9b"}}
	if token != "" {
		hs = append(hs, [2]string{"authorization", "Bearer " + token})
	}
	return host.Request{Method: "GET", Path: path, Authority: "api.example.com", Headers: hs}
}

// startHost loads module with config and closes it when tb ends.
func startHost(tb testing.TB, module string, config []byte, mutate ...func(*host.Config)) *host.Host {
	tb.Helper()
	cfg := host.Config{Module: module, PluginConfig: config, Log: io.Discard}
	for _, m := range mutate {
		m(&cfg)
	}
	h, err := host.New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("host.New(%s): %v", module, err)
	}
	tb.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// verifyConfig is verifyguest's configuration: for every algorithm its
// public key (PKIX, or the HMAC secret) and one token to check.
func verifyConfig(tb testing.TB) []byte {
	var b strings.Builder
	for _, alg := range benchAlgs {
		k := keyFor(alg)
		var key string
		switch pub := k.Public().(type) {
		case []byte:
			key = base64.StdEncoding.EncodeToString(pub)
		case *rsa.PublicKey:
			key = base64.StdEncoding.EncodeToString(pub.N.Bytes()) + ":" + strconv.Itoa(pub.E)
		case *ecdsa.PublicKey:
			raw, err := pub.Bytes()
			if err != nil {
				tb.Fatal(err)
			}
			key = base64.StdEncoding.EncodeToString(raw)
		case ed25519.PublicKey:
			key = base64.StdEncoding.EncodeToString(pub)
		}
		b.WriteString(alg + " " + key + " " + mint(k) + "\n")
	}
	return []byte(b.String())
}

// expect fails the benchmark unless d is what want says.
func expect(tb testing.TB, d host.Decision, err error, status int) {
	tb.Helper()
	switch {
	case err != nil:
		tb.Fatalf("Do: %v", err)
	case status == 0 && !d.Continue:
		tb.Fatalf("request denied: %d %s", d.Status, d.Body)
	case status != 0 && (d.Continue || d.Status != status):
		tb.Fatalf("decision = continue %v, status %d (%s); want status %d", d.Continue, d.Status, d.Body, status)
	}
}
