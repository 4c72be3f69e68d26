package e2e

// The compiled filter against the host's verify_signature modes
// (docs/host-crypto.md): Envoy with it, Envoy without it, a host answering
// Unimplemented, and one that traps like Kong's ngx_wasm_module. Every
// decision must be the same whichever path checked the signature.

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/syncbuf"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// cryptoHost starts the filter with cfg on a host whose foreign functions
// answer as mode says, logging into log.
func cryptoHost(t *testing.T, cfg string, mode host.VerifySignatureMode, log *syncbuf.Buffer) (*host.Host, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := host.New(ctx, host.Config{Module: filterModule(t), PluginConfig: []byte(cfg), Workers: 2,
		VerifySignature: mode, Log: log})
	if err == nil {
		t.Cleanup(func() { h.Close(context.Background()) })
	}
	return h, err
}

func cryptoConfig(hostCrypto string, keys ...*testjwt.Key) string {
	top := ""
	if hostCrypto != "" {
		top = `,"host_crypto":"` + hostCrypto + `"`
	}
	return `{"providers":[{"name":"idp","issuer":"` + filterIssuer + `","local_jwks":` + string(testjwt.JWKS(keys...)) + `}]` + top + `}`
}

func TestHostCryptoModesInTheHost(t *testing.T) {
	rs, es, ed := testjwt.CachedKey("RS256", "hc-rs"), testjwt.CachedKey("ES256", "hc-es"), testjwt.CachedKey("EdDSA", "hc-ed")
	now := time.Now()
	claims := testjwt.Claims(filterIssuer, "alice", now, "orders.read")
	tokens := []struct {
		name, token string
		status      int
	}{
		{"an RS256 token", rs.Sign(claims, nil), 200},
		{"an ES256 token", es.Sign(claims, nil), 200},
		{"an EdDSA token", ed.Sign(claims, nil), 200},
		{"an RS256 token signed by a stranger under the kid", testjwt.NewKey("RS256", "hc-rs").Sign(claims, nil), 401},
		{"an ES256 token signed by a stranger under the kid", testjwt.NewKey("ES256", "hc-es").Sign(claims, nil), 401},
	}
	modes := []struct {
		mode              host.VerifySignatureMode
		calls             int    // foreign calls: a probe per VM (canary and two workers), then one per RS/ES token
		host, guest, errs uint64 // the signature counters
		log               string // the once-per-VM line
	}{
		{host.VerifySignaturePresent, 3 + 4, 4, 1, 0, `host_crypto "auto": RS256 RS384 RS512 ES256 ES384 ES512 token signatures are checked by the proxy's verify_signature, the others in Go`},
		{host.VerifySignatureAbsent, 3, 0, 5, 0, `host_crypto "auto": every token signature is checked in Go: the proxy's verify_signature answered NotFound`},
		{host.VerifySignatureUnimplemented, 3, 0, 5, 0, `host_crypto "auto": every token signature is checked in Go: the proxy's verify_signature answered Unimplemented`},
		{host.VerifySignatureTrap, 0, 0, 5, 0, `host_crypto "auto": every token signature is checked in Go: the host does not look like Envoy 1.30 or later (property plugin_vm_id: error status returned by host: not found)`},
	}
	for _, m := range modes {
		t.Run("the default (auto) on a host whose verify_signature is "+m.mode.String(), func(t *testing.T) {
			var log syncbuf.Buffer
			h, err := cryptoHost(t, cryptoConfig("", rs, es, ed), m.mode, &log)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range tokens {
				if d := decide(t, h, 0, tc.token); statusOf(d) != tc.status {
					t.Fatalf("%s: %d %s, want %d", tc.name, statusOf(d), d.Body, tc.status)
				}
			}
			got := [3]uint64{metric(h, "scopegate.signature.host"), metric(h, "scopegate.signature.guest"), metric(h, "scopegate.signature.host_error")}
			if got != [3]uint64{m.host, m.guest, m.errs} || h.ForeignCalls() != m.calls {
				t.Fatalf("counters (host, guest, host_error) %v, foreign calls %d; want %v, %d", got, h.ForeignCalls(), [3]uint64{m.host, m.guest, m.errs}, m.calls)
			}
			if n := strings.Count(log.String(), m.log); n != 3 {
				t.Fatalf("the path line was logged %d times, want once per VM (3):\n%s", n, log.String())
			}
			if h.Traps() != 0 || len(h.Violations()) != 0 {
				t.Fatalf("%d traps, violations %v", h.Traps(), h.Violations())
			}
		})
	}
	for _, m := range modes[1:] {
		t.Run(`require refuses to start on a host whose verify_signature is `+m.mode.String(), func(t *testing.T) {
			var log syncbuf.Buffer
			if _, err := cryptoHost(t, cryptoConfig("require", rs, es), m.mode, &log); err == nil || !strings.Contains(err.Error(), "on_configure returned false") {
				t.Fatalf("host.New: %v", err)
			}
			if !strings.Contains(log.String(), `invalid configuration: host_crypto: "require", but `) || strings.Contains(log.String(), "Plugin Crash") {
				t.Fatalf("log:\n%s", log.String())
			}
		})
	}
	t.Run("require starts where verify_signature is present, and never checks in Go", func(t *testing.T) {
		var log syncbuf.Buffer
		h, err := cryptoHost(t, cryptoConfig("require", rs, es), host.VerifySignaturePresent, &log)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []int{0, 1, 3, 4} {
			if status := statusOf(decide(t, h, 0, tokens[tc].token)); status != tokens[tc].status {
				t.Fatalf("%s: %d", tokens[tc].name, status)
			}
		}
		if metric(h, "scopegate.signature.guest") != 0 || metric(h, "scopegate.signature.host") != 4 {
			t.Fatalf("guest %d host %d", metric(h, "scopegate.signature.guest"), metric(h, "scopegate.signature.host"))
		}
	})
}

// TestHostCryptoDecisionsMatchGoInTheHost sends every algorithm's token,
// intact and spoilt in several ways, and the RFC 7515 tokens, through the
// compiled filter twice: checked by the host's verify_signature, and with
// host_crypto "off". Status and body must be the same every time.
func TestHostCryptoDecisionsMatchGoInTheHost(t *testing.T) {
	var keys []*testjwt.Key
	for _, alg := range testjwt.Algorithms {
		keys = append(keys, testjwt.CachedKey(alg, "diff-"+alg))
	}
	provider := func(name, issuer, algs string, jwks []byte) string {
		return `{"name":"` + name + `","issuer":"` + issuer + `","local_jwks":` + string(jwks) + `,"algorithms":` + algs + `}`
	}
	all := `["RS256","RS384","RS512","PS256","PS384","PS512","ES256","ES384","ES512","EdDSA","HS256","HS384","HS512"]`
	cfg := func(mode string) string {
		return `{"providers":[` + provider("idp", filterIssuer, all, testjwt.JWKS(keys...)) + `,` +
			provider("rfc", "joe", all, testjwt.RFCJWKS) + `],"host_crypto":"` + mode + `"}`
	}
	onHost, err := cryptoHost(t, cfg("auto"), host.VerifySignaturePresent, &syncbuf.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	inGo, err := cryptoHost(t, cfg("off"), host.VerifySignaturePresent, &syncbuf.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	spoil := map[string]func([]byte) []byte{
		"intact":         func(s []byte) []byte { return s },
		"a flipped byte": func(s []byte) []byte { c := append([]byte(nil), s...); c[len(c)/2] ^= 4; return c },
		"one byte short": func(s []byte) []byte { return s[:len(s)-1] },
		"zeros":          func(s []byte) []byte { return make([]byte, len(s)) },
	}
	var cases []struct{ name, token string }
	claims := testjwt.Claims(filterIssuer, "alice", time.Now(), "orders.read")
	for _, k := range keys {
		raw := k.Sign(claims, nil)
		dot := strings.LastIndexByte(raw, '.')
		sig, _ := base64.RawURLEncoding.DecodeString(raw[dot+1:])
		for name, f := range spoil {
			cases = append(cases, struct{ name, token string }{k.Alg + " " + name, raw[:dot+1] + base64.RawURLEncoding.EncodeToString(f(sig))})
		}
		cases = append(cases, struct{ name, token string }{k.Alg + " by a stranger", testjwt.NewKey(k.Alg, k.Kid).Sign(claims, nil)})
	}
	for _, raw := range []string{testjwt.RFC7515RS256, testjwt.RFC7515ES256, testjwt.RFC7515HS256} {
		cases = append(cases, struct{ name, token string }{"RFC 7515 " + raw[:10], raw})
	}
	valid := 0
	for _, c := range cases {
		d1, d2 := decide(t, onHost, 0, c.token), decide(t, inGo, 0, c.token)
		s1, b1, s2, b2 := statusOf(d1), string(d1.Body), statusOf(d2), string(d2.Body)
		if s1 != s2 || b1 != b2 {
			t.Errorf("%s: host path %d %s, Go path %d %s", c.name, s1, b1, s2, b2)
		}
		if s1 == 200 {
			valid++
		}
	}
	if valid != len(keys) {
		t.Errorf("%d tokens passed, want the %d intact ones", valid, len(keys))
	}
	// The RFC tokens expired in 2011: their signatures verify, then exp fails.
	if body := string(decide(t, onHost, 0, testjwt.RFC7515RS256).Body); !strings.Contains(body, "token expired") {
		t.Errorf("RFC 7515 RS256 through the host path: %s", body)
	}
	if n := metric(onHost, "scopegate.signature.host"); n == 0 || metric(inGo, "scopegate.signature.host") != 0 || metric(onHost, "scopegate.signature.host_error") != 0 {
		t.Errorf("host checks %d (off: %d), errors %d", n, metric(inGo, "scopegate.signature.host"), metric(onHost, "scopegate.signature.host_error"))
	}
}
