package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/host/envoycrypto"
	"github.com/scopegate/scopegate/internal/testjwt"
	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// The V8 host (bench/v8/proxywasm.mjs) is held to the Go host's behaviour:
// the same module, configuration and requests must give the same decisions,
// headers, local responses, violations, traps and metrics in both. These
// tests send a few requests each; they time nothing.

// outcome is what a host did with one job, in a form both hosts produce.
type outcome struct {
	LoadFailed bool
	Decisions  []host.Decision
	Violations []jsViolation
	Traps      int
	Metrics    map[string]uint64
}

// hostJob is one module, its configuration and the requests to send.
type hostJob struct {
	module     string
	config     string
	noEvents   bool              // poll_oneoff answers "no events" instead of ENOSYS
	noVerify   bool              // verify_signature is absent (an Envoy before 1.30)
	callouts   map[string]string // cluster -> the callout answer's body for every path (status 200)
	requests   []host.Request
	metrics    []string
	loadErrHas string // a load error must contain this (both hosts); "" = must load
	// lastOnly compares only the last decision (with violations, traps and
	// metrics): for a guest whose fate depends on timing. V8 compiles each
	// function when it first runs, so a guest's first 1 ms sleep can be
	// over before its runtime looks at the clock.
	lastOnly bool
}

// runGoHost runs the job in the Go host. Callout clusters are served by a
// real HTTP server answering the same body.
func runGoHost(t *testing.T, j hostJob) (outcome, error) {
	t.Helper()
	cfg := host.Config{Module: j.module, PluginConfig: []byte(j.config), Log: io.Discard}
	if j.config == "" {
		cfg.PluginConfig = nil
	}
	if j.noEvents {
		cfg.PollOneoff = host.PollOneoffNoEvents
	}
	if j.noVerify {
		cfg.VerifySignature = host.VerifySignatureAbsent
	}
	if len(j.callouts) > 0 {
		cfg.Clusters = map[string]string{}
		for cluster, body := range j.callouts {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(body)) }))
			t.Cleanup(srv.Close)
			cfg.Clusters[cluster] = srv.URL
		}
	}
	h, err := host.New(context.Background(), cfg)
	if err != nil {
		return outcome{LoadFailed: true}, err
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	var out outcome
	for _, r := range j.requests {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		d, err := h.DoOn(ctx, 0, r)
		cancel()
		if err != nil {
			t.Fatalf("Go host: %v", err)
		}
		out.Decisions = append(out.Decisions, d)
	}
	for _, v := range h.Violations() {
		out.Violations = append(out.Violations, jsViolation{Rule: v.Rule, VM: v.VM, Detail: v.Detail})
	}
	out.Traps = h.Traps()
	out.Metrics = map[string]uint64{}
	for _, m := range j.metrics {
		if v, ok := h.Metric(m); ok {
			out.Metrics[m] = v
		}
	}
	return out, nil
}

// runJSHost runs the job in the V8 host (bench/v8/run.mjs).
func runJSHost(t *testing.T, j hostJob) (outcome, string) {
	t.Helper()
	job := jsJob{Module: j.module, PluginConfig: latin1(j.config), Metrics: j.metrics}
	if j.noEvents {
		job.PollOneoff = "no-events"
	}
	if j.noVerify {
		job.VerifySignature = "absent"
	}
	for cluster, body := range j.callouts {
		if job.Clusters == nil {
			job.Clusters = map[string]map[string]*jsAnswer{}
		}
		job.Clusters[cluster] = map[string]*jsAnswer{"*": {Status: 200, Body: latin1(body)}}
	}
	for _, r := range j.requests {
		jr := toJS(r)
		job.Steps = append(job.Steps, jsStep{Request: &jr})
	}
	in, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	var res jsResult
	raw := runNode(t, 2*time.Minute, "run.mjs", in)
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("run.mjs output: %v\n%s", err, raw)
	}
	if res.LoadError != "" {
		return outcome{LoadFailed: true}, res.LoadError
	}
	out := outcome{Traps: res.Traps, Metrics: res.Metrics}
	if len(res.Violations) > 0 {
		out.Violations = res.Violations
	}
	for _, d := range res.Decisions {
		out.Decisions = append(out.Decisions, d.decision())
	}
	if out.Metrics == nil {
		out.Metrics = map[string]uint64{}
	}
	return out, ""
}

// sameOutcome runs j in both hosts and fails t where they differ.
func sameOutcome(t *testing.T, j hostJob) outcome {
	t.Helper()
	goOut, goErr := runGoHost(t, j)
	jsOut, jsErr := runJSHost(t, j)
	if j.loadErrHas != "" {
		if goErr == nil || !strings.Contains(goErr.Error(), j.loadErrHas) {
			t.Errorf("Go host load error = %v, want one containing %q", goErr, j.loadErrHas)
		}
		if !strings.Contains(jsErr, j.loadErrHas) {
			t.Errorf("V8 host load error = %q, want one containing %q", jsErr, j.loadErrHas)
		}
		return jsOut
	}
	if goErr != nil || jsOut.LoadFailed {
		t.Fatalf("load: Go host %v, V8 host %q", goErr, jsErr)
	}
	first := 0
	if j.lastOnly {
		first = len(j.requests) - 1
	}
	for i := first; i < max(len(goOut.Decisions), len(jsOut.Decisions)); i++ {
		var g, v host.Decision
		if i < len(goOut.Decisions) {
			g = goOut.Decisions[i]
		}
		if i < len(jsOut.Decisions) {
			v = jsOut.Decisions[i]
		}
		if !reflect.DeepEqual(g, v) {
			t.Errorf("request %d (%s):\n Go host: %+v\n V8 host: %+v", i, j.requests[i].Path, g, v)
		}
	}
	if !reflect.DeepEqual(goOut.Violations, jsOut.Violations) {
		t.Errorf("violations:\n Go host: %v\n V8 host: %v", goOut.Violations, jsOut.Violations)
	}
	if goOut.Traps != jsOut.Traps {
		t.Errorf("traps: Go host %d, V8 host %d", goOut.Traps, jsOut.Traps)
	}
	if !reflect.DeepEqual(goOut.Metrics, jsOut.Metrics) {
		t.Errorf("metrics:\n Go host: %v\n V8 host: %v", goOut.Metrics, jsOut.Metrics)
	}
	return jsOut
}

// TestV8HostFollowsTheGoHostsRules runs the host's own test guests
// (host/testdata/guests) through both hosts: each breaks one of Envoy's
// rules, or passes, and both hosts must say the same.
func TestV8HostFollowsTheGoHostsRules(t *testing.T) {
	guest := func(name string) string {
		p, err := wasmbuild.Build("./host/testdata/guests/"+name, wasmbuild.Options{NoOverlay: true})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	req := func(path string, headers ...[2]string) host.Request {
		return host.Request{Method: "GET", Path: path, Authority: "api.example.com", Headers: headers}
	}
	cases := []struct {
		name string
		job  hostJob
		// check adds what the case proves beyond "both hosts agree".
		check func(t *testing.T, o outcome)
	}{
		{"a passing guest sees and edits the same headers and properties", hostJob{module: guest("pass"), config: "cfg",
			requests: []host.Request{req("/a?b=c", [2]string{"User-Agent", "t"}), req("/", [2]string{"x-deny", "1"}), req("/x", [2]string{"x-read-config", "1"}),
				// Bytes that are not ASCII, or not UTF-8, reach the guest and come back unchanged.
				req("/caf\xc3\xa9\xff", [2]string{"x-name", "Zo\xc3\xab \x80"})},
			metrics: []string{"pass.requests"}},
			func(t *testing.T, o outcome) {
				if !o.Decisions[0].Continue || o.Decisions[1].Status != 403 || o.Metrics["pass.requests"] != 4 ||
					headerOf(o.Decisions[3].Headers, "x-seen-path") != "/caf\xc3\xa9\xff" {
					t.Errorf("outcome = %+v", o)
				}
			}},
		{"a callout answered by the cluster resumes the paused request", hostJob{module: guest("pass"),
			callouts: map[string]string{"backend": "from the cluster"},
			requests: []host.Request{req("/", [2]string{"x-callout", "backend"})}},
			func(t *testing.T, o outcome) {
				d := o.Decisions[0]
				if !d.Continue || headerOf(d.Headers, "x-callout-body") != "from the cluster" || headerOf(d.Headers, "x-callout-status-after-switch") != "absent" {
					t.Errorf("decision = %+v", d)
				}
			}},
		{"a local response with more than 1024 headers gets none", hostJob{module: guest("pass"),
			requests: []host.Request{req("/", [2]string{"x-big-local", "1"})}},
			func(t *testing.T, o outcome) {
				d := o.Decisions[0]
				if d.Status != 418 || len(d.ResponseHeaders) != 0 || len(o.Violations) != 1 || o.Violations[0].Rule != host.RuleHeaderMapLimit {
					t.Errorf("outcome = %+v", o)
				}
			}},
		{"an import Envoy does not provide fails the load", hostJob{module: guest("badimport"),
			loadErrHas: "wasi_snapshot_preview1.fd_filestat_get, which Envoy does not provide"}, nil},
		{"an export with a non-i32 parameter fails the load", hostJob{module: guest("badsig"),
			loadErrHas: "bad function signature for proxy_on_request_headers"}, nil},
		{"a proxy call during _initialize fails the load", hostJob{module: guest("initcall"),
			loadErrHas: "env.proxy_define_metric called during _initialize"}, nil},
		{"a proxy call inside the allocator traps the VM", hostJob{module: guest("alloccall"),
			requests: []host.Request{req("/p")}},
			func(t *testing.T, o outcome) {
				if o.Decisions[0].Status != 503 || o.Traps != 1 || len(o.Violations) != 1 || o.Violations[0].Rule != host.RuleAllocatorCall {
					t.Errorf("outcome = %+v", o)
				}
			}},
		{"callouts breaking Envoy's rules answer BAD_ARGUMENT", hostJob{module: guest("badcluster"),
			callouts: map[string]string{"backend": ""},
			requests: []host.Request{req("/"), req("/", [2]string{"x-no-authority", "1"}), req("/", [2]string{"x-no-timeout", "1"})}},
			func(t *testing.T, o outcome) {
				if len(o.Violations) != 3 || string(o.Decisions[2].Body) != "http call status 2" {
					t.Errorf("outcome = %+v", o)
				}
			}},
		{"a panicking guest fails closed", hostJob{module: guest("panic"),
			requests: []host.Request{req("/"), req("/", [2]string{"x-panic", "1"}), req("/")}},
			func(t *testing.T, o outcome) {
				if !o.Decisions[0].Continue || o.Decisions[1].Status != 503 || o.Decisions[2].Status != 503 || o.Traps != 1 {
					t.Errorf("outcome = %+v", o)
				}
			}},
		{"a guest whose runtime must sleep dies on ENOSYS", hostJob{module: guest("sleep"), lastOnly: true,
			requests: []host.Request{req("/"), req("/"), req("/")}},
			func(t *testing.T, o outcome) {
				if o.Decisions[2].Status != 503 || o.Traps != 1 {
					t.Errorf("outcome = %+v", o)
				}
			}},
		{"the same guest lives when poll_oneoff answers no events", hostJob{module: guest("sleep"), noEvents: true,
			requests: []host.Request{req("/")}},
			func(t *testing.T, o outcome) {
				if !o.Decisions[0].Continue || o.Traps != 0 {
					t.Errorf("outcome = %+v", o)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := sameOutcome(t, c.job)
			if c.check != nil && !t.Failed() {
				c.check(t, o)
			}
		})
	}
}

// TestV8HostRunsScopegateLikeTheGoHost sends one request of every
// BenchmarkEngine row through the shipped module in both hosts, plus a
// provider whose keys come from a callout: decisions, upstream headers,
// local responses and counters must match.
func TestV8HostRunsScopegateLikeTheGoHost(t *testing.T) {
	sc := newEngineScenario(t, 0)
	t.Run("every benchmark row gets the same answer in both hosts", func(t *testing.T) {
		for _, module := range slices.Sorted(maps.Keys(sc.Modules)) {
			t.Run(module, func(t *testing.T) {
				m := sc.Modules[module]
				j := hostJob{module: m.Path, config: fromLatin1(m.PluginConfig), metrics: scopegateMetrics}
				var rows []engineRow
				for _, r := range sc.Rows {
					if r.Module == module {
						j.requests = append(j.requests, r.requests[0])
						rows = append(rows, r)
					}
				}
				o := sameOutcome(t, j)
				for k, d := range o.Decisions {
					r := rows[k]
					if d.Continue != r.Expect.Continue || (!d.Continue && d.Status != r.Expect.Status) {
						t.Errorf("row %s: %+v, want %+v", r.Name, d, r.Expect)
					}
				}
			})
		}
	})
	t.Run("without verify_signature both hosts check every signature in Go", func(t *testing.T) {
		m := sc.Modules["scopegate-miss"]
		j := hostJob{module: m.Path, config: fromLatin1(m.PluginConfig), metrics: scopegateMetrics, noVerify: true}
		for _, alg := range hostCryptoAlgs {
			j.requests = append(j.requests, minimalRequest("/api/orders/42", mint(keyFor(alg))))
		}
		o := sameOutcome(t, j)
		if o.Metrics["scopegate.signature.host"] != 0 || o.Metrics["scopegate.signature.guest"] != uint64(len(hostCryptoAlgs)) {
			t.Errorf("metrics %v: want every signature checked in Go", o.Metrics)
		}
	})
	t.Run("keys fetched through a callout verify the same token", func(t *testing.T) {
		k := keyFor("ES256")
		cfg := `{"providers": [{"name": "idp", "issuer": "` + issuer + `", "audiences": ["orders-api"],
		  "remote_jwks": {"cluster": "idp", "uri": "https://idp.example.com/certs"}}],
		  "rules": [{"match": {"prefix": "/api"}, "requires": {"scopes": ["orders:read"]}}]}`
		j := hostJob{module: sc.Modules["scopegate"].Path, config: cfg, metrics: scopegateMetrics,
			callouts: map[string]string{"idp": string(testjwt.JWKS(k))},
			requests: []host.Request{minimalRequest("/api/orders/42", mint(k)), minimalRequest("/api/orders/42", "not.a.token")}}
		o := sameOutcome(t, j)
		if len(o.Decisions) == 2 && (!o.Decisions[0].Continue || o.Decisions[1].Status != 401) {
			t.Errorf("decisions = %+v; want the token through and the garbage 401", o.Decisions)
		}
	})
}

// scopegateMetrics are the counters DESIGN §4 names.
var scopegateMetrics = []string{"scopegate.allowed", "scopegate.denied.missing", "scopegate.denied.invalid",
	"scopegate.denied.scope", "scopegate.denied.unavailable", "scopegate.jwks.fetch_ok",
	"scopegate.jwks.fetch_failed", "scopegate.cache.hit", "scopegate.cache.miss",
	"scopegate.signature.host", "scopegate.signature.guest", "scopegate.signature.host_error"}

func headerOf(m [][2]string, key string) string {
	for _, p := range m {
		if p[0] == key {
			return p[1]
		}
	}
	return ""
}

// TestV8VerifySignatureAnswersLikeTheGoHost sends the same verify_signature
// arguments to the V8 host's envoycrypto.mjs and the Go host's
// host/envoycrypto: every status and result must be the same bytes. The
// calls: valid and invalid signatures for each key kind and hash, the
// rules of Envoy's crypto (PKCS#1 v1.5 only, DER ECDSA, Ed25519 failing,
// unknown hashes), malformed argument messages, and byte flips of each.
func TestV8VerifySignatureAnswersLikeTheGoHost(t *testing.T) {
	calls := verifySignatureCalls(t)
	in := make([]string, len(calls))
	for i, c := range calls {
		in[i] = base64.StdEncoding.EncodeToString(c)
	}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Status int     `json:"status"`
		Result *string `json:"result"`
	}
	if err := json.Unmarshal(runNode(t, 2*time.Minute, "verifysig.mjs", data), &got); err != nil || len(got) != len(calls) {
		t.Fatalf("verifysig.mjs: %d answers for %d calls, %v", len(got), len(calls), err)
	}
	statuses := map[int]int{}
	for i, c := range calls {
		want, wantStatus := envoycrypto.VerifySignature(c)
		var result []byte
		if got[i].Result != nil {
			result, _ = base64.StdEncoding.DecodeString(*got[i].Result)
		}
		if got[i].Status != int(wantStatus) || !bytes.Equal(result, want) || (got[i].Result == nil) != (want == nil) {
			r, _ := envoycrypto.DecodeResult(want)
			g, _ := envoycrypto.DecodeResult(result)
			t.Errorf("call %d (%x...):\n V8 host: status %d %+v\n Go host: status %d %+v", i, c[:min(len(c), 24)], got[i].Status, g, wantStatus, r)
		}
		r, _ := envoycrypto.DecodeResult(want)
		statuses[int(wantStatus)*10+map[bool]int{true: 1}[r.Valid]]++
	}
	// Valid signatures, refusals and malformed arguments are all among them.
	if statuses[1] == 0 || statuses[0] == 0 || statuses[20] == 0 {
		t.Errorf("answers by kind: %v", statuses)
	}
}

// verifySignatureCalls builds the calls of TestV8VerifySignatureAnswersLikeTheGoHost.
func verifySignatureCalls(t *testing.T) [][]byte {
	t.Helper()
	text := []byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9")
	spki := func(pub any) []byte {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	digest := func(h crypto.Hash) []byte {
		d := h.New()
		d.Write(text)
		return d.Sum(nil)
	}
	must := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rsaKey := keyFor("RS256").Signer.(*rsa.PrivateKey)
	rsaDER := spki(&rsaKey.PublicKey)
	var calls [][]byte
	add := func(hash string, key, sig []byte) {
		calls = append(calls, envoycrypto.EncodeArguments(hash, key, sig, text))
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		sig := must(rsa.SignPKCS1v15(nil, rsaKey, h, digest(h)))
		name := strings.ToLower(strings.ReplaceAll(h.String(), "-", ""))
		add(name, rsaDER, sig)
		add(strings.ToUpper(name), rsaDER, sig)
		add("sha256", rsaDER, sig) // the wrong hash for all but one
	}
	add("sha256", rsaDER, must(rsa.SignPSS(rand.Reader, rsaKey, crypto.SHA256, digest(crypto.SHA256), nil)))
	add("sha256", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey), must(rsa.SignPKCS1v15(nil, rsaKey, crypto.SHA256, digest(crypto.SHA256))))
	add("sha256", append(bytes.Clone(rsaDER), 0xde, 0xad), must(rsa.SignPKCS1v15(nil, rsaKey, crypto.SHA256, digest(crypto.SHA256))))
	for _, alg := range []string{"ES256", "ES384", "ES512"} {
		k := keyFor(alg).Signer.(*ecdsa.PrivateKey)
		h := map[string]crypto.Hash{"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512}[alg]
		name := strings.ToLower(strings.ReplaceAll(h.String(), "-", ""))
		der := must(ecdsa.SignASN1(rand.Reader, k, digest(h)))
		add(name, spki(&k.PublicKey), der)
		add("sha1", spki(&k.PublicKey), der)
		r, s, err := ecdsa.Sign(rand.Reader, k, digest(h))
		if err != nil {
			t.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		add(name, spki(&k.PublicKey), append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...))
	}
	ed := keyFor("EdDSA").Signer.(ed25519.PrivateKey)
	add("sha512", spki(ed.Public()), ed25519.Sign(ed, text))
	add("md5", rsaDER, nil)
	add("", rsaDER, nil)
	add("sh\u00e4256", rsaDER, nil)
	add("sha256", nil, nil)
	add("sha256", []byte{0x30, 0x03, 1, 2, 3}, nil)
	add("sha256", append([]byte{0x30, 0x81}, rsaDER[2:]...), nil) // a non-minimal length
	calls = append(calls, nil, []byte{0x0a, 0x7f}, []byte{0x0a, 0x80}, []byte{0x02, 0x00}, []byte{0x0e}, []byte{0x4b},
		envoycrypto.EncodeArguments("sha\xff256", rsaDER, nil, text),
		append(envoycrypto.EncodeArguments("md5", nil, nil, nil), calls[2]...),
		append(bytes.Clone(calls[2]), 0x2a, 0x03, '-', '-', '-', 0x48, 0x01, 0x53, 0x08, 0x01, 0x54))
	// Byte flips of each call, at positions a seeded generator picks.
	rng := mrand.New(mrand.NewPCG(15, 15))
	for _, c := range slices.Clone(calls) {
		for range 6 {
			if len(c) == 0 {
				break
			}
			m := bytes.Clone(c)
			m[rng.IntN(len(m))] ^= byte(1 << rng.IntN(8))
			calls = append(calls, m)
		}
	}
	return calls
}
