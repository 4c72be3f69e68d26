package filter

import (
	"errors"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/filter/abi"
)

// NewVMContext returns the VM context that scopegate registers with the host.
// It makes no host call, so cmd/scopegate can call it from init().
func NewVMContext() types.VMContext { return newVMContext(abi.Now) }

// newVMContext lets tests inject the clock used for token times and caching.
func newVMContext(now func() time.Time) *vmContext { return &vmContext{now: now} }

type vmContext struct {
	types.DefaultVMContext
	now func() time.Time
}

// NewPluginContext creates the root context of one plugin instance.
func (v *vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{id: contextID, now: v.now}
}

// pluginContext is the root context: the parsed plan, the key store, the
// verified-token cache and the counters, shared by the VM's streams.
type pluginContext struct {
	types.DefaultPluginContext
	id     uint32
	now    func() time.Time
	cfg    *Config
	m      *metrics
	keys   *keyStore
	cache  *tokenCache
	replay *replayStore // DPoP jti values seen by every worker (replay.go)
}

// OnPluginStart (proxy_on_configure) parses the configuration. A bad
// configuration is logged at error level and rejected, so the proxy refuses
// it instead of running it wrong.
func (pc *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	data, err := abi.GetPluginConfiguration()
	if err != nil && !errors.Is(err, types.ErrorStatusNotFound) {
		abi.LogError("reading the plugin configuration: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		abi.LogError("invalid configuration: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	for _, w := range cfg.Warnings {
		abi.LogWarn("configuration: " + w)
	}
	pc.cfg = cfg
	pc.m = defineMetrics()
	pc.cache = newTokenCache(tokenCacheMaxEntries)
	pc.keys = newKeyStore(cfg, pc.m, pc.now)
	pc.keys.start()
	pc.replay = newReplayStore()
	pc.replay.create()
	return types.OnPluginStartStatusOK
}

// OnTick drives key fetching and refreshing.
func (pc *pluginContext) OnTick() {
	if pc.keys != nil {
		pc.keys.onTick()
	}
}

// NewHttpContext creates the per-stream context.
func (pc *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{id: contextID, plugin: pc}
}
