package filter

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/internal/testjwt"
)

// Issuers and keys shared by the core tests.
const (
	testIssuer  = "https://idp.example.com/realms/demo"
	otherIssuer = "https://other.example.com"
)

func rsKey() *testjwt.Key { return testjwt.CachedKey("RS256", "rs-1") }
func esKey() *testjwt.Key { return testjwt.CachedKey("ES256", "es-1") }

// testClock is the injected clock; tests move it by hand.
type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time { return c.now }

// coreHarness runs the filter under the SDK's proxytest emulator.
type coreHarness struct {
	t     testing.TB
	host  proxytest.HostEmulator
	clock *testClock
	vm    *vmContext
}

// startFilter configures the filter with cfg (JSON) and requires on_configure
// to succeed. The emulator is process-global, so tests never run in parallel.
func startFilter(t testing.TB, cfg string) *coreHarness {
	t.Helper()
	h, status := startFilterStatus(t, cfg)
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("on_configure failed: %v", h.host.GetErrorLogs())
	}
	return h
}

func startFilterStatus(t testing.TB, cfg string) (*coreHarness, types.OnPluginStartStatus) {
	t.Helper()
	clock := &testClock{now: time.Unix(1_800_000_000, 0)}
	vm := newVMContext(clock.Now)
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithVMContext(vm).WithPluginConfiguration([]byte(cfg)))
	t.Cleanup(reset)
	h := &coreHarness{t: t, host: host, clock: clock, vm: vm}
	if host.StartVM() != types.OnVMStartStatusOK {
		t.Fatal("on_vm_start failed")
	}
	return h, host.StartPlugin()
}

// response is what one request through the filter produced.
type response struct {
	id       uint32
	action   types.Action
	local    *proxytest.LocalHttpResponse
	upstream [][2]string // request headers as the upstream would see them
}

func (r *response) status() int {
	if r.local == nil {
		return 200
	}
	return int(r.local.StatusCode)
}

func (r *response) header(name string) string {
	if r.local == nil {
		return ""
	}
	for _, h := range r.local.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

func (r *response) upstreamHeader(name string) (string, bool) {
	for _, h := range r.upstream {
		if strings.EqualFold(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}

// body decodes the local answer's JSON body.
func (r *response) body(t *testing.T) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(r.local.Data, &m); err != nil {
		t.Fatalf("body %q is not a JSON object of strings: %v", r.local.Data, err)
	}
	return m
}

// do sends one request without a body with the given method, path and
// extra headers.
func (h *coreHarness) do(method, path string, headers ...[2]string) *response {
	return h.doBody(method, path, true, headers...)
}

// doBody is do with on_request_headers' end_of_stream given: false means a
// body follows the headers.
func (h *coreHarness) doBody(method, path string, endOfStream bool, headers ...[2]string) *response {
	id := h.host.InitializeHttpContext()
	all := append([][2]string{{":method", method}, {":path", path}, {":authority", "api.example.com"}}, headers...)
	action := h.host.CallOnRequestHeaders(id, all, endOfStream)
	return h.result(id, action)
}

func (h *coreHarness) result(id uint32, action types.Action) *response {
	return &response{
		id:       id,
		action:   action,
		local:    h.host.GetSentLocalResponse(id),
		upstream: h.host.GetCurrentRequestHeaders(id),
	}
}

// get sends GET path with "authorization: Bearer <token>" when token != "".
func (h *coreHarness) get(path, token string) *response { return h.call("GET", path, token) }

// call sends method and path with "authorization: Bearer <token>" when
// token != "".
func (h *coreHarness) call(method, path, token string) *response {
	if token == "" {
		return h.do(method, path)
	}
	return h.do(method, path, [2]string{"authorization", "Bearer " + token})
}

func (h *coreHarness) counter(name string) uint64 {
	v, err := h.host.GetCounterMetric(name)
	if err != nil {
		h.t.Fatalf("metric %s: %v", name, err)
	}
	return v
}

func (h *coreHarness) infoLogs() string { return strings.Join(h.host.GetInfoLogs(), "\n") }

// token mints a token from key with standard claims at the harness time.
func (h *coreHarness) token(k *testjwt.Key, sub string, scopes ...string) string {
	return k.Sign(testjwt.Claims(testIssuer, sub, h.clock.now, scopes...), nil)
}

// localConfig is a one-provider configuration with local keys plus extra
// top-level JSON members (e.g. `"rules": [...]`) and provider members.
func localConfig(providerExtra, topExtra string, keys ...*testjwt.Key) string {
	if len(keys) == 0 {
		keys = []*testjwt.Key{rsKey(), esKey()}
	}
	p := `{"name":"idp","issuer":"` + testIssuer + `","local_jwks":` + string(testjwt.JWKS(keys...))
	if providerExtra != "" {
		p += "," + providerExtra
	}
	p += "}"
	cfg := `{"providers":[` + p + `]`
	if topExtra != "" {
		cfg += "," + topExtra
	}
	return cfg + "}"
}
