//go:build !wasip1

// The proxy-wasm emulator plays the host here; its foreign functions are
// registered through abi.SetForeignFunction, which only native builds have.

package filter

import (
	"crypto/elliptic"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/host/envoycrypto"
	"github.com/scopegate/scopegate/internal/testjwt"
	"github.com/scopegate/scopegate/jwt"
)

// fakeProxy plays a proxy's foreign functions natively: verify_signature
// answered by host/envoycrypto (Envoy 1.30-1.36's behaviour in Go), unless
// answer overrides it.
type fakeProxy struct {
	envoy  bool // the host has Envoy's plugin_vm_id and xds.node properties
	answer func(args []byte) ([]byte, error)
	calls  [][]byte // the arguments of every call
}

func (fp *fakeProxy) verifySignature(args []byte) ([]byte, error) {
	fp.calls = append(fp.calls, append([]byte(nil), args...))
	if fp.answer != nil {
		return fp.answer(args)
	}
	out, st := envoycrypto.VerifySignature(args)
	if st != envoycrypto.StatusOK {
		return nil, types.ErrorStatusBadArgument
	}
	return out, nil
}

// requests is how many calls were real questions (not the configure probe).
func (fp *fakeProxy) requests() int {
	n := 0
	for _, a := range fp.calls {
		if string(a) != string(probeArguments) {
			n++
		}
	}
	return n
}

// statusAnswer answers every call with err.
func statusAnswer(err error) func([]byte) ([]byte, error) {
	return func([]byte) ([]byte, error) { return nil, err }
}

// okAnswer answers every call with Ok and out, except the probe.
func okAnswer(out []byte) func([]byte) ([]byte, error) {
	return func(args []byte) ([]byte, error) {
		if string(args) == string(probeArguments) {
			return nil, types.ErrorStatusBadArgument
		}
		return out, nil
	}
}

// startWithProxy configures the filter under the emulator with fp playing
// the proxy's foreign functions.
func startWithProxy(t *testing.T, cfg string, fp *fakeProxy) (*coreHarness, types.OnPluginStartStatus) {
	t.Helper()
	clock := &testClock{now: time.Unix(1_800_000_000, 0)}
	vm := newVMContext(clock.Now)
	opt := proxytest.NewEmulatorOption().WithVMContext(vm).WithPluginConfiguration([]byte(cfg))
	if fp.envoy {
		opt = opt.WithProperty([]string{"plugin_vm_id"}, []byte("vm")).
			WithProperty([]string{"xds", "node"}, []byte{0x0a, 0x01, 'n'})
	}
	host, reset := proxytest.NewHostEmulator(opt)
	t.Cleanup(reset)
	abi.SetForeignFunction(verifySignatureFunction, fp.verifySignature)
	t.Cleanup(func() { abi.SetForeignFunction(verifySignatureFunction, nil) })
	h := &coreHarness{t: t, host: host, clock: clock, vm: vm}
	if host.StartVM() != types.OnVMStartStatusOK {
		t.Fatal("on_vm_start failed")
	}
	return h, host.StartPlugin()
}

func mustStartWithProxy(t *testing.T, cfg string, fp *fakeProxy) *coreHarness {
	t.Helper()
	h, st := startWithProxy(t, cfg, fp)
	if st != types.OnPluginStartStatusOK {
		t.Fatalf("on_configure failed: %v", h.host.GetErrorLogs())
	}
	return h
}

func logsOf(h *coreHarness) string {
	return strings.Join(append(append(h.host.GetInfoLogs(), h.host.GetWarnLogs()...), h.host.GetErrorLogs()...), "\n")
}

// signatureCounters reads the three signature counters.
func signatureCounters(h *coreHarness) [3]uint64 {
	return [3]uint64{h.counter(metricSignatureHost), h.counter(metricSignatureGuest), h.counter(metricSignatureHostError)}
}

func TestHostCryptoConfiguration(t *testing.T) {
	keys := []*testjwt.Key{rsKey(), esKey(), testjwt.CachedKey("PS256", "ps-1"), testjwt.CachedKey("EdDSA", "ed-1")}
	t.Run("the values are auto (the default), require and off", func(t *testing.T) {
		for raw, want := range map[string]HostCrypto{"": HostCryptoAuto, `"auto"`: HostCryptoAuto, `"require"`: HostCryptoRequire, `"off"`: HostCryptoOff} {
			top := ""
			if raw != "" {
				top = `"host_crypto":` + raw
			}
			cfg, err := ParseConfig([]byte(localConfig("", top, keys...)))
			if err != nil || cfg.HostCrypto != want {
				t.Fatalf("%s: mode %v, err %v; want %v", raw, cfg.HostCrypto, err, want)
			}
		}
	})
	bad := []struct{ name, provider, top, want string }{
		{"an unknown value names the field", "", `"host_crypto":"always"`, `host_crypto: must be "auto", "require" or "off", got "always"`},
		{"a non-string names the field", "", `"host_crypto":true`, `host_crypto: must be a string`},
		{"require refuses PS256 by its index", `"algorithms":["RS256","PS256"]`, `"host_crypto":"require"`, `providers[0].algorithms[1]: "PS256" cannot be checked by the proxy's verify_signature`},
		{"require refuses EdDSA", `"algorithms":["EdDSA"]`, `"host_crypto":"require"`, `providers[0].algorithms[0]: "EdDSA" cannot be checked`},
		{"require refuses HS256", `"algorithms":["HS256"]`, `"host_crypto":"require"`, `providers[0].algorithms[0]: "HS256" cannot be checked`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(localConfig(c.provider, c.top, keys...)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
	t.Run("require accepts RS* and ES* listed (the valid twin)", func(t *testing.T) {
		cfg, err := ParseConfig([]byte(localConfig(`"algorithms":["RS256","ES384"]`, `"host_crypto":"require"`, keys...)))
		if err != nil || cfg.Providers[0].Algorithms != jwt.AlgSet(0).With(jwt.RS256).With(jwt.ES384) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("require narrows the default algorithms to RS* and ES*; auto and off keep them", func(t *testing.T) {
		for top, want := range map[string]jwt.AlgSet{`"host_crypto":"require"`: jwt.NativeAlgs, `"host_crypto":"auto"`: jwt.DefaultAlgs, `"host_crypto":"off"`: jwt.DefaultAlgs} {
			cfg, err := ParseConfig([]byte(localConfig("", top, keys...)))
			if err != nil || cfg.Providers[0].Algorithms != want {
				t.Fatalf("%s: algorithms %v, err %v; want %v", top, cfg.Providers[0].Algorithms, err, want)
			}
		}
	})
}

func TestHostCryptoIsUsedOnlyWhereItIsSafe(t *testing.T) {
	cfg := func(mode string) string { return localConfig("", `"host_crypto":"`+mode+`"`) }
	t.Run("auto on a host that is not Envoy never calls the function and checks in Go", func(t *testing.T) {
		fp := &fakeProxy{}
		h := mustStartWithProxy(t, cfg("auto"), fp)
		wantStatus(t, h.get("/", h.token(rsKey(), "alice")), 200)
		if len(fp.calls) != 0 || signatureCounters(h) != [3]uint64{0, 1, 0} {
			t.Fatalf("%d calls, counters %v", len(fp.calls), signatureCounters(h))
		}
		if !strings.Contains(logsOf(h), `host_crypto "auto": every token signature is checked in Go: the host does not look like Envoy 1.30 or later (property plugin_vm_id: `) {
			t.Fatalf("logs: %s", logsOf(h))
		}
	})
	t.Run("auto on Envoy probes once with unparsable arguments, then asks about RS* and ES*", func(t *testing.T) {
		fp := &fakeProxy{envoy: true}
		h := mustStartWithProxy(t, cfg("auto"), fp)
		if len(fp.calls) != 1 || string(fp.calls[0]) != string(probeArguments) {
			t.Fatalf("configure made calls %x", fp.calls)
		}
		wantStatus(t, h.get("/", h.token(rsKey(), "alice")), 200)
		wantStatus(t, h.get("/", h.token(esKey(), "bob")), 200)
		if fp.requests() != 2 || signatureCounters(h) != [3]uint64{2, 0, 0} {
			t.Fatalf("%d requests, counters %v", fp.requests(), signatureCounters(h))
		}
		if !strings.Contains(logsOf(h), `host_crypto "auto": RS256 RS384 RS512 ES256 ES384 ES512 token signatures are checked by the proxy's verify_signature, the others in Go`) {
			t.Fatalf("logs: %s", logsOf(h))
		}
	})
	t.Run("PS256 and EdDSA stay in Go on Envoy", func(t *testing.T) {
		fp := &fakeProxy{envoy: true}
		ps, ed := testjwt.CachedKey("PS256", "ps-1"), testjwt.CachedKey("EdDSA", "ed-1")
		h := mustStartWithProxy(t, localConfig("", "", ps, ed), fp)
		wantStatus(t, h.get("/", h.token(ps, "alice")), 200)
		wantStatus(t, h.get("/", h.token(ed, "alice")), 200)
		if fp.requests() != 0 || signatureCounters(h) != [3]uint64{0, 2, 0} {
			t.Fatalf("%d requests, counters %v", fp.requests(), signatureCounters(h))
		}
	})
	t.Run("a host with plugin_vm_id but no xds.node is not taken for Envoy", func(t *testing.T) {
		fp := &fakeProxy{}
		clock := &testClock{now: time.Unix(1_800_000_000, 0)}
		vm := newVMContext(clock.Now)
		host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(vm).
			WithPluginConfiguration([]byte(cfg("auto"))).WithProperty([]string{"plugin_vm_id"}, []byte("vm")))
		defer reset()
		abi.SetForeignFunction(verifySignatureFunction, fp.verifySignature)
		defer abi.SetForeignFunction(verifySignatureFunction, nil)
		host.StartVM()
		if host.StartPlugin() != types.OnPluginStartStatusOK || len(fp.calls) != 0 {
			t.Fatalf("%d calls", len(fp.calls))
		}
		if !strings.Contains(strings.Join(host.GetInfoLogs(), "\n"), "(property xds.node: ") {
			t.Fatalf("logs: %v", host.GetInfoLogs())
		}
	})
	for _, c := range []struct {
		status error
		name   string
	}{{types.ErrorStatusNotFound, "NotFound"}, {types.ErrorUnimplemented, "Unimplemented"}} {
		t.Run("auto on Envoy whose probe answers "+c.name+" checks in Go", func(t *testing.T) {
			fp := &fakeProxy{envoy: true, answer: statusAnswer(c.status)}
			h := mustStartWithProxy(t, cfg("auto"), fp)
			wantStatus(t, h.get("/", h.token(rsKey(), "alice")), 200)
			if len(fp.calls) != 1 || signatureCounters(h) != [3]uint64{0, 1, 0} {
				t.Fatalf("%d calls, counters %v", len(fp.calls), signatureCounters(h))
			}
			if !strings.Contains(logsOf(h), "checked in Go: the proxy's verify_signature answered "+c.name) {
				t.Fatalf("logs: %s", logsOf(h))
			}
		})
		t.Run("require fails configure where the probe answers "+c.name, func(t *testing.T) {
			h, st := startWithProxy(t, cfg("require"), &fakeProxy{envoy: true, answer: statusAnswer(c.status)})
			if st != types.OnPluginStartStatusFailed || !strings.Contains(logsOf(h), `invalid configuration: host_crypto: "require", but the proxy's verify_signature answered `+c.name) {
				t.Fatalf("status %v, logs %s", st, logsOf(h))
			}
		})
	}
	t.Run("require fails configure on a host that is not Envoy, without calling", func(t *testing.T) {
		fp := &fakeProxy{}
		h, st := startWithProxy(t, cfg("require"), fp)
		if st != types.OnPluginStartStatusFailed || len(fp.calls) != 0 || !strings.Contains(logsOf(h), `invalid configuration: host_crypto: "require", but the host does not look like Envoy`) {
			t.Fatalf("status %v, %d calls, logs %s", st, len(fp.calls), logsOf(h))
		}
	})
	t.Run("require on Envoy with verify_signature starts, and never checks in Go", func(t *testing.T) {
		fp := &fakeProxy{envoy: true}
		h := mustStartWithProxy(t, cfg("require"), fp)
		wantStatus(t, h.get("/", h.token(esKey(), "alice")), 200)
		if signatureCounters(h) != [3]uint64{1, 0, 0} || !strings.Contains(logsOf(h), "no algorithm is checked in Go") {
			t.Fatalf("counters %v, logs %s", signatureCounters(h), logsOf(h))
		}
	})
	t.Run("off never looks at the host", func(t *testing.T) {
		fp := &fakeProxy{envoy: true}
		h := mustStartWithProxy(t, cfg("off"), fp)
		wantStatus(t, h.get("/", h.token(rsKey(), "alice")), 200)
		if len(fp.calls) != 0 || signatureCounters(h) != [3]uint64{0, 1, 0} || !strings.Contains(logsOf(h), `host_crypto "off"`) {
			t.Fatalf("%d calls, counters %v", len(fp.calls), signatureCounters(h))
		}
	})
	t.Run("a VM probes once, whatever its plugins", func(t *testing.T) {
		fp := &fakeProxy{envoy: true}
		h := mustStartWithProxy(t, cfg("auto"), fp)
		second := &pluginContext{cfg: &Config{HostCrypto: HostCryptoAuto}, vm: h.vm}
		if err := second.startHostCrypto(&h.vm.hostSigs); err != nil || len(fp.calls) != 1 || second.verifier == nil {
			t.Fatalf("err %v, %d calls", err, len(fp.calls))
		}
	})
}

func TestHostCryptoAnswers(t *testing.T) {
	valid := okAnswer([]byte{0x08, 0x01})
	invalid := okAnswer(envoycrypto.EncodeResult(envoycrypto.Result{Error: "Failed to verify digest. Error code: 0"}))
	// A forged token: signed by another key under the provider's kid.
	forgedBy := func(h *coreHarness) string {
		return testjwt.NewKey("RS256", "rs-1").Sign(testjwt.Claims(testIssuer, "mallory", h.clock.now), nil)
	}
	cases := []struct {
		name     string
		answer   func([]byte) ([]byte, error)
		forged   bool // send the forged token instead of the valid one
		status   int
		counters [3]uint64 // host, guest, host_error
	}{
		{"Ok with result true accepts", valid, false, 200, [3]uint64{1, 0, 0}},
		{"Ok with result true is the proxy's word even for a token Go would reject", valid, true, 200, [3]uint64{1, 0, 0}},
		{"Ok with result false rejects, without asking Go", invalid, false, 401, [3]uint64{1, 0, 0}},
		{"a malformed result leaves a valid token to Go", okAnswer([]byte{0xff}), false, 200, [3]uint64{0, 1, 1}},
		{"a malformed result leaves a forged token to Go", okAnswer([]byte{0xff}), true, 401, [3]uint64{0, 1, 1}},
		{"an empty result (false without a reason) leaves the token to Go", okAnswer(nil), false, 200, [3]uint64{0, 1, 1}},
		{"BadArgument leaves the token to Go", statusAnswer(types.ErrorStatusBadArgument), false, 200, [3]uint64{0, 1, 1}},
		{"InternalFailure leaves the token to Go", statusAnswer(types.ErrorInternalFailure), false, 200, [3]uint64{0, 1, 1}},
		{"InternalFailure never accepts a forged token", statusAnswer(types.ErrorInternalFailure), true, 401, [3]uint64{0, 1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fp := &fakeProxy{envoy: true}
			h := mustStartWithProxy(t, localConfig("", ""), fp)
			fp.answer = c.answer
			tok := h.token(rsKey(), "alice")
			if c.forged {
				tok = forgedBy(h)
			}
			wantStatus(t, h.get("/", tok), c.status)
			if got := signatureCounters(h); got != c.counters {
				t.Fatalf("counters (host, guest, host_error) %v, want %v", got, c.counters)
			}
			// Only NotFound and Unimplemented end the proxy's part: the
			// next token is asked again.
			before := fp.requests()
			h.get("/", h.token(rsKey(), "bob"))
			if fp.requests() != before+1 {
				t.Fatal("the next token was not asked")
			}
		})
	}
	for _, c := range []struct {
		status error
		name   string
	}{{types.ErrorStatusNotFound, "NotFound"}, {types.ErrorUnimplemented, "Unimplemented"}} {
		t.Run(c.name+" at runtime turns the proxy's crypto off for the VM, said once", func(t *testing.T) {
			fp := &fakeProxy{envoy: true}
			h := mustStartWithProxy(t, localConfig("", ""), fp)
			fp.answer = statusAnswer(c.status)
			for i, sub := range []string{"alice", "bob", "carol"} {
				wantStatus(t, h.get("/", h.token(rsKey(), sub)), 200)
				if fp.requests() != 1 {
					t.Fatalf("after token %d: %d requests to the proxy", i, fp.requests())
				}
			}
			wantStatus(t, h.get("/", testjwt.NewKey("RS256", "rs-1").Sign(testjwt.Claims(testIssuer, "mallory", h.clock.now), nil)), 401)
			if got := signatureCounters(h); got != [3]uint64{0, 4, 1} {
				t.Fatalf("counters %v", got)
			}
			warn := "the proxy's verify_signature answered " + c.name
			if n := strings.Count(strings.Join(h.host.GetWarnLogs(), "\n"), warn); n != 1 {
				t.Fatalf("%q logged %d times: %v", warn, n, h.host.GetWarnLogs())
			}
		})
	}
	t.Run(`require answers 503 when the proxy cannot check, and never asks Go`, func(t *testing.T) {
		fp := &fakeProxy{envoy: true}
		h := mustStartWithProxy(t, localConfig("", `"host_crypto":"require"`), fp)
		fp.answer = statusAnswer(types.ErrorInternalFailure)
		r := h.get("/", h.token(rsKey(), "alice"))
		wantStatus(t, r, 503)
		if got := signatureCounters(h); got != [3]uint64{0, 0, 1} || h.counter(metricDeniedUnavailable) != 1 {
			t.Fatalf("counters %v", got)
		}
		if b := r.body(t); b["error"] != "temporarily_unavailable" || b["error_description"] != "the token signature could not be checked, try again later" {
			t.Fatalf("body %v", b)
		}
		fp.answer = nil
		wantStatus(t, h.get("/", h.token(rsKey(), "bob")), 200) // the twin: the proxy answers again
	})
	t.Run(`require after a runtime NotFound answers 503 for the rest of the VM's life, said once`, func(t *testing.T) {
		fp := &fakeProxy{envoy: true}
		h := mustStartWithProxy(t, localConfig("", `"host_crypto":"require"`), fp)
		fp.answer = statusAnswer(types.ErrorStatusNotFound)
		wantStatus(t, h.get("/", h.token(rsKey(), "alice")), 503)
		fp.answer = nil
		wantStatus(t, h.get("/", h.token(rsKey(), "bob")), 503)
		if fp.requests() != 1 || signatureCounters(h) != [3]uint64{0, 0, 1} {
			t.Fatalf("%d requests, counters %v", fp.requests(), signatureCounters(h))
		}
		if n := strings.Count(strings.Join(h.host.GetErrorLogs(), "\n"), "answered 503 for the rest of this VM's life"); n != 1 {
			t.Fatalf("logged %d times", n)
		}
	})
}

// envoyVerifier is a jwt.Verifier made of the filter's own argument
// encoding and result decoding around host/envoycrypto: the host path of a
// signature check with everything but the proxy-wasm call.
type envoyVerifier struct{ failures int }

func (v *envoyVerifier) VerifySignature(hash string, spki, sig, signed []byte) jwt.Verdict {
	out, st := envoycrypto.VerifySignature(appendVerifyArguments(nil, hash, spki, sig, signed))
	valid, ok := decodeVerifyResult(out)
	if st != envoycrypto.StatusOK || !ok {
		v.failures++
		return jwt.Fallback
	}
	if valid {
		return jwt.Valid
	}
	return jwt.Invalid
}

// sameDecision fails unless verifying tok in Go and through the host path
// decide alike, and the host path really decided (no fallback).
func sameDecision(t *testing.T, set *jwt.KeySet, tok *jwt.Token, allowed jwt.AlgSet) (valid bool) {
	t.Helper()
	_, goChecks, goErr := set.VerifyWith(tok, allowed, nil)
	v := &envoyVerifier{}
	_, hostChecks, hostErr := set.VerifyWith(tok, allowed, v)
	if jwt.ReasonOf(goErr) != jwt.ReasonOf(hostErr) {
		t.Fatalf("Go says %v, the host path %v", goErr, hostErr)
	}
	if v.failures != 0 || hostChecks.Native+hostChecks.Go != goChecks.Go {
		t.Fatalf("host path fell back %d times; checks %+v vs Go's %+v", v.failures, hostChecks, goChecks)
	}
	if jwt.NativeAlgs.Has(tok.Algorithm()) && hostChecks.Go > 0 && goErr == nil {
		t.Fatalf("a valid %s signature was decided in Go", tok.Alg)
	}
	return goErr == nil
}

// differentialKeys has one key per algorithm (RS*/PS* share an RSA key, as
// the jwt package may try either on it) and the set holding all of them
// without kids, so every token is tried against every fitting key.
func differentialKeys() ([]*testjwt.Key, *jwt.KeySet) {
	rsa := testjwt.CachedKey("RS256", "diff")
	var keys []*testjwt.Key
	for _, alg := range testjwt.Algorithms {
		if strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS") {
			c := *rsa
			c.Alg = alg
			keys = append(keys, &c)
			continue
		}
		keys = append(keys, testjwt.CachedKey(alg, "diff"))
	}
	jwks := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		m := k.JWK()
		delete(m, "kid")
		delete(m, "alg")
		jwks = append(jwks, m)
	}
	set, _, err := jwt.ParseJWKS(testjwt.JWKSOf(jwks...), jwt.JWKSOptions{AllowOct: true})
	if err != nil {
		panic(err)
	}
	return keys, set
}

// signatureVariants are ways to spoil a signature, by name.
var signatureVariants = []struct {
	name  string
	spoil func(sig []byte) []byte
}{
	{"as signed", func(sig []byte) []byte { return sig }},
	{"first byte flipped", func(sig []byte) []byte { s := append([]byte(nil), sig...); s[0] ^= 1; return s }},
	{"last byte flipped", func(sig []byte) []byte { s := append([]byte(nil), sig...); s[len(s)-1] ^= 0x80; return s }},
	{"one byte short", func(sig []byte) []byte { return sig[:len(sig)-1] }},
	{"one byte long", func(sig []byte) []byte { return append(append([]byte(nil), sig...), 0) }},
	{"all zero", func(sig []byte) []byte { return make([]byte, len(sig)) }},
	{"all 0xff", func(sig []byte) []byte { return []byte(strings.Repeat("\xff", len(sig))) }},
	{"halves swapped", func(sig []byte) []byte { h := len(sig) / 2; return append(append([]byte(nil), sig[h:]...), sig[:h]...) }},
}

// withSignature replaces a compact JWS's signature.
func withSignature(raw string, sig []byte) string {
	return raw[:strings.LastIndexByte(raw, '.')+1] + base64.RawURLEncoding.EncodeToString(sig)
}

func TestHostPathAgreesWithGoPath(t *testing.T) {
	keys, set := differentialKeys()
	allowed := jwt.DefaultAlgs | jwt.AlgSet(0).With(jwt.HS256).With(jwt.HS384).With(jwt.HS512)
	now := time.Unix(1_800_000_000, 0)
	for _, k := range keys {
		raw := k.Sign(testjwt.Claims(testIssuer, "alice", now), map[string]any{"kid": nil})
		tok, err := jwt.Parse(raw, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range signatureVariants {
			t.Run(k.Alg+" signature "+v.name, func(t *testing.T) {
				spoilt, err := jwt.Parse(withSignature(raw, v.spoil(tok.Signature)), 0)
				if err != nil {
					t.Fatal(err)
				}
				if valid := sameDecision(t, set, spoilt, allowed); valid != (v.name == "as signed") {
					t.Fatalf("valid = %v", valid)
				}
			})
		}
	}
	t.Run("a high-S ECDSA signature (n - s) is accepted by both", func(t *testing.T) {
		k := keys[6] // ES256
		raw := k.Sign(testjwt.Claims(testIssuer, "alice", now), map[string]any{"kid": nil})
		tok, _ := jwt.Parse(raw, 0)
		sig := highS(tok.Signature)
		if valid := sameDecision(t, set, mustParseToken(t, withSignature(raw, sig)), allowed); !valid {
			t.Fatal("high-S rejected")
		}
	})
	rfc, _, err := jwt.ParseJWKS(testjwt.RFCJWKS, jwt.JWKSOptions{AllowOct: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, vec := range testjwt.RFCVectors {
		t.Run(vec.Name+" vector", func(t *testing.T) {
			alg, _ := jwt.ParseAlg(vec.Alg)
			sig, err := base64.RawURLEncoding.DecodeString(vec.Signature)
			if err != nil {
				t.Fatal(err)
			}
			var key *jwt.Key
			for _, k := range rfc.Keys {
				if k.Kid == vec.Kid {
					key = k
				}
			}
			for _, v := range signatureVariants {
				spoilt := v.spoil(sig)
				inGo := key.CheckSignature(alg, vec.Input, spoilt, nil)
				hv := &envoyVerifier{}
				onHost := key.CheckSignature(alg, vec.Input, spoilt, hv)
				if inGo.Valid != onHost.Valid || hv.failures != 0 || inGo.Valid != (v.name == "as signed") {
					t.Fatalf("%s: Go %+v, host path %+v (%d fallbacks)", v.name, inGo, onHost, hv.failures)
				}
				if jwt.NativeAlgs.Has(alg) && len(spoilt) == len(sig) && v.name != "all zero" && v.name != "all 0xff" && !onHost.Native {
					t.Fatalf("%s: the host path did not ask the host", v.name)
				}
			}
		})
	}
}

// TestHostPathAgreesOnTheFuzzCorpus replays the jwt parser's fuzz corpus
// and every seed of FuzzHostPathDifferential through both paths.
func TestHostPathAgreesOnTheFuzzCorpus(t *testing.T) {
	_, set := differentialKeys()
	corpus := readFuzzCorpus(t, "../jwt/testdata/fuzz/FuzzParse")
	corpus = append(corpus, testjwt.RFC7515HS256, testjwt.RFC7515RS256, testjwt.RFC7515ES256)
	for _, raw := range corpus {
		tok, err := jwt.Parse(raw, 0)
		if err != nil {
			continue
		}
		sameDecision(t, set, tok, jwt.DefaultAlgs)
	}
	rfc, _, _ := jwt.ParseJWKS(testjwt.RFCJWKS, jwt.JWKSOptions{AllowOct: true})
	for _, raw := range []string{testjwt.RFC7515RS256, testjwt.RFC7515ES256} {
		if !sameDecision(t, rfc, mustParseToken(t, raw), jwt.DefaultAlgs) {
			t.Fatalf("RFC token %.20s... rejected", raw)
		}
	}
}

func mustParseToken(t *testing.T, raw string) *jwt.Token {
	t.Helper()
	tok, err := jwt.Parse(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// FuzzHostPathDifferential signs a token with the key of one algorithm,
// spoils its signature as the fuzzer says (XOR with mask, then cut or grow
// it to length if length > 0) and checks that the host path and the Go
// path decide alike, and that an unspoilt signature verifies on both.
func FuzzHostPathDifferential(f *testing.F) {
	keys, set := differentialKeys()
	for i := range keys {
		f.Add(uint8(i), "alice", []byte{}, uint16(0))
		f.Add(uint8(i), "bob", []byte{1}, uint16(0))
		f.Add(uint8(i), "eve", []byte{0, 0, 0x80}, uint16(1))
	}
	now := time.Unix(1_800_000_000, 0)
	allowed := jwt.DefaultAlgs | jwt.AlgSet(0).With(jwt.HS256).With(jwt.HS384).With(jwt.HS512)
	f.Fuzz(func(t *testing.T, which uint8, sub string, mask []byte, length uint16) {
		k := keys[int(which)%len(keys)]
		raw := k.Sign(testjwt.Claims(testIssuer, sub, now), map[string]any{"kid": nil})
		tok, err := jwt.Parse(raw, 0)
		if err != nil {
			return // a sub that makes the payload too large
		}
		sig := append([]byte(nil), tok.Signature...)
		for i, m := range mask {
			sig[i%len(sig)] ^= m
		}
		if length > 0 {
			n := int(length) % 1100
			sig = append(sig, make([]byte, max(0, n-len(sig)))...)[:n]
		}
		spoilt, err := jwt.Parse(withSignature(raw, sig), 0)
		if err != nil {
			t.Fatal(err)
		}
		valid := sameDecision(t, set, spoilt, allowed)
		if string(sig) == string(tok.Signature) && !valid {
			t.Fatalf("an unspoilt %s signature was rejected", k.Alg)
		}
	})
}

// FuzzDecodeVerifyResult checks the hand-written VerifySignatureResult
// decoder against protobuf's wire rules: it never panics, and what it
// accepts is a well-formed message whose last result field it reports.
func FuzzDecodeVerifyResult(f *testing.F) {
	f.Add([]byte{0x08, 0x01})
	f.Add(envoycrypto.EncodeResult(envoycrypto.Result{Error: "Failed to verify digest. Error code: 0"}))
	f.Add([]byte{0x08, 0x01, 0x12, 0x00, 0x08, 0x00, 0x12, 0x01, 'x'})
	f.Add([]byte{0x0b, 0x0c})
	f.Add([]byte{0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		valid, ok := decodeVerifyResult(b)
		ref, refOK := envoycrypto.DecodeResult(b)
		if ok && (!refOK || valid != ref.Valid || (!valid && ref.Error == "")) {
			t.Fatalf("decoded %x as valid=%v, protowire says %+v (ok %v)", b, valid, ref, refOK)
		}
		if refOK && !ok && (ref.Valid || ref.Error != "") && !hasGroup(b) {
			t.Fatalf("rejected %x, which protowire reads as %+v", b, ref)
		}
	})
}

// hasGroup reports whether a well-formed message has a group field at the
// top level (Envoy never writes one; the filter's decoder refuses them).
func hasGroup(b []byte) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeField(b)
		if n < 0 {
			return false
		}
		if typ == protowire.StartGroupType {
			return true
		}
		_ = num
		b = b[n:]
	}
	return false
}

// highS returns the ECDSA P-256 signature R || (n - S), as valid as R || S.
func highS(sig []byte) []byte {
	n := elliptic.P256().Params().N
	s := new(big.Int).Sub(n, new(big.Int).SetBytes(sig[32:]))
	out := append([]byte(nil), sig[:32]...)
	return append(out, s.FillBytes(make([]byte, 32))...)
}

// readFuzzCorpus returns the inputs of a Go fuzz corpus directory.
func readFuzzCorpus(t *testing.T, dir string) []string {
	t.Helper()
	inputs, err := testjwt.FuzzCorpus(dir)
	if err != nil {
		t.Fatal(err)
	}
	return inputs
}
