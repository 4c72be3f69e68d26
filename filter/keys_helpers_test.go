package filter

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// Where the remote test provider's keys live.
const (
	jwksURI       = "https://idp.example.com/realms/demo/certs"
	discoveryURI  = "https://idp.example.com/realms/demo/.well-known/openid-configuration"
	discoveryPath = "/realms/demo/.well-known/openid-configuration"
)

// remoteConfig is one remote_jwks provider (issuer testIssuer, cluster
// "idp") with extra remote_jwks members such as `"cache_duration_s":60`.
func remoteConfig(fetchExtra string) string {
	f := `"cluster":"idp","uri":"` + jwksURI + `"`
	if fetchExtra != "" {
		f += "," + fetchExtra
	}
	return `{"providers":[{"name":"idp","issuer":"` + testIssuer + `","remote_jwks":{` + f + `}}]}`
}

// discoveryConfig is one discovery provider with the given issuer and extra
// discovery members.
func discoveryConfig(issuer, fetchExtra string) string {
	f := `"cluster":"idp","uri":"` + discoveryURI + `"`
	if fetchExtra != "" {
		f += "," + fetchExtra
	}
	iss := ""
	if issuer != "" {
		iss = `"issuer":"` + issuer + `",`
	}
	return `{"providers":[{"name":"idp",` + iss + `"discovery":{` + f + `}}]}`
}

// keysHarness is the core harness plus bookkeeping of the callouts the
// filter made (the emulator lists every callout ever made, and reuses ids).
type keysHarness struct {
	*coreHarness
	seen int
	vm   *recordingVM
}

// recordingVM remembers the plugin context it created, so tests can look
// into the key store.
type recordingVM struct {
	*vmContext
	plugin *pluginContext
}

func (v *recordingVM) NewPluginContext(id uint32) types.PluginContext {
	pc := v.vmContext.NewPluginContext(id)
	v.plugin = pc.(*pluginContext)
	return pc
}

// startKeys configures the filter with cfg under the emulator (like the
// core harness) and requires on_configure to succeed.
func startKeys(t testing.TB, cfg string) *keysHarness {
	t.Helper()
	clock := &testClock{now: time.Unix(1_800_000_000, 0)}
	vm := &recordingVM{vmContext: newVMContext(clock.Now)}
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithVMContext(vm).WithPluginConfiguration([]byte(cfg)))
	t.Cleanup(reset)
	if host.StartVM() != types.OnVMStartStatusOK {
		t.Fatal("on_vm_start failed")
	}
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		t.Fatalf("on_configure failed: %v", host.GetErrorLogs())
	}
	return &keysHarness{coreHarness: &coreHarness{t: t, host: host, clock: clock, vm: vm.vmContext}, vm: vm}
}

// plugin is the plugin context (root) the filter runs in.
func (k *keysHarness) plugin() *pluginContext { return k.vm.plugin }

// newCallouts returns the callouts made since the last call.
func (k *keysHarness) newCallouts() []proxytest.HttpCalloutAttribute {
	all := k.host.GetCalloutAttributesFromContext(proxytest.PluginContextID)
	out := all[k.seen:]
	k.seen = len(all)
	return out
}

// tick runs on_tick and returns the callouts it made.
func (k *keysHarness) tick() []proxytest.HttpCalloutAttribute {
	k.host.Tick()
	return k.newCallouts()
}

// one requires exactly one callout.
func (k *keysHarness) one(calls []proxytest.HttpCalloutAttribute) proxytest.HttpCalloutAttribute {
	k.t.Helper()
	if len(calls) != 1 {
		k.t.Fatalf("want exactly one callout, got %d: %+v", len(calls), calls)
	}
	return calls[0]
}

// fetchNow ticks and requires one callout.
func (k *keysHarness) fetchNow() proxytest.HttpCalloutAttribute {
	k.t.Helper()
	return k.one(k.tick())
}

// answer delivers a response with a status and body to a callout.
func (k *keysHarness) answer(c proxytest.HttpCalloutAttribute, status string, body []byte) {
	k.host.CallOnHttpCallResponse(c.CalloutID, [][2]string{{":status", status}, {"content-type", "application/json"}}, nil, body)
}

// failCall delivers (0,0,0): what the host sends for a connection failure or timeout.
func (k *keysHarness) failCall(c proxytest.HttpCalloutAttribute) {
	k.host.CallOnHttpCallResponse(c.CalloutID, nil, nil, nil)
}

func (k *keysHarness) advance(d time.Duration) { k.clock.now = k.clock.now.Add(d) }

// startRequest sends GET path with the token and returns the stream id and
// the action on_request_headers returned.
func (k *keysHarness) startRequest(path, token string) (uint32, types.Action) {
	id := k.host.InitializeHttpContext()
	action := k.host.CallOnRequestHeaders(id, [][2]string{
		{":method", "GET"}, {":path", path}, {":authority", "api.example.com"},
		{"authorization", "Bearer " + token}}, true)
	return id, action
}

// outcome describes what became of a stream: "continued", a local status, or "paused".
func (k *keysHarness) outcome(id uint32) string {
	if r := k.host.GetSentLocalResponse(id); r != nil {
		return "answered " + strconv.Itoa(int(r.StatusCode))
	}
	if k.host.GetCurrentHttpStreamAction(id) == types.ActionContinue {
		return "continued"
	}
	return "paused"
}

// requireOutcome checks what became of a stream.
func (k *keysHarness) requireOutcome(id uint32, want string) {
	k.t.Helper()
	if got := k.outcome(id); got != want {
		k.t.Fatalf("stream %d: %s, want %s; warn logs: %v", id, got, want, k.host.GetWarnLogs())
	}
}

// request sends one request and returns its immediate outcome.
func (k *keysHarness) request(token string) string {
	id, _ := k.startRequest("/x", token)
	return k.outcome(id)
}

func (k *keysHarness) tok(key *testjwt.Key) string { return k.token(key, "alice") }

func (k *keysHarness) logsAt(level string) string {
	var l []string
	switch level {
	case "warn":
		l = k.host.GetWarnLogs()
	case "error":
		l = k.host.GetErrorLogs()
	default:
		l = k.host.GetInfoLogs()
	}
	return strings.Join(l, "\n")
}

func header(hs [][2]string, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// asRoot makes the plugin's root context effective again, as the host does
// before each root callback (store-level tests call onTick directly).
func asRoot() { _ = abi.SetEffectiveContext(proxytest.PluginContextID) }
