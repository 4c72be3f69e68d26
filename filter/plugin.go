package filter

import (
	"errors"
	"strconv"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/internal/version"
	"github.com/scopegate/scopegate/jwt"
)

// NewVMContext returns the VM context that scopegate registers with the host.
// It makes no host call, so cmd/scopegate can call it from init().
func NewVMContext() types.VMContext { return newVMContext(abi.Now) }

// newVMContext lets tests inject the clock used for token times and caching.
func newVMContext(now func() time.Time) *vmContext { return &vmContext{now: now} }

type vmContext struct {
	types.DefaultVMContext
	now      func() time.Time
	hostSigs hostSignatures // the proxy's verify_signature, as this VM knows it
	// readHook, when set (by tests), reads requests instead of readRequest.
	readHook func(h *httpContext) error
}

// NewPluginContext creates the root context of one plugin instance.
func (v *vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{id: contextID, now: v.now, vm: v}
}

// pluginContext is the root context: the parsed plan, the key store, the
// verified-token cache and the counters, shared by the VM's streams.
type pluginContext struct {
	types.DefaultPluginContext
	id    uint32
	now   func() time.Time
	vm    *vmContext
	cfg   *Config
	m     *metrics
	keys  *keyStore
	cache *tokenCache

	hostSigs *hostSignatures // the VM's view of verify_signature
	verifier jwt.Verifier    // asks the proxy; nil: every signature in Go
	replay   *replayStore    // DPoP jti values seen by every worker (replay.go)

	// Reused by every request of the VM (one callback runs at a time, and
	// authorize never runs inside another: parked streams are resumed from
	// root callbacks only).
	headerBuf []byte         // the request's header map, read in place (readRequest)
	logBuf    []byte         // the denial log line (logDenial)
	idle      []*httpContext // contexts of deleted streams, for new ones
	parsed    jwt.Token      // the token a cache miss parses, reused (http.go)
	invalid   invalidAnswers // the 401s for rejected tokens, by description (respond.go)
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
	if err := pc.startHostCrypto(&pc.vm.hostSigs); err != nil {
		abi.LogError("invalid configuration: " + err.Error())
		pc.cfg = nil
		return types.OnPluginStartStatusFailed
	}
	pc.cache = newTokenCache(tokenCacheMaxEntries)
	pc.keys = newKeyStore(cfg, pc.m, pc.now)
	pc.keys.start()
	pc.replay = newReplayStore()
	pc.replay.create()
	abi.LogInfo(configuredLine(cfg))
	return types.OnPluginStartStatusOK
}

// configuredLine is the info line logged once the configuration is in force:
// which build runs and what it enforces, e.g.
// "scopegate 0.1.0 configured: 2 providers, 3 rules".
func configuredLine(cfg *Config) string {
	return "scopegate " + version.Version + " configured: " +
		pluralCount(len(cfg.Providers), "provider") + ", " + pluralCount(len(cfg.Rules), "rule")
}

// pluralCount writes n and noun, plural unless n is 1.
func pluralCount(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// OnTick drives key fetching and refreshing.
func (pc *pluginContext) OnTick() {
	if pc.keys != nil {
		pc.keys.onTick()
	}
}

// maxIdleContexts bounds the contexts kept for reuse.
const maxIdleContexts = 256

// NewHttpContext creates the per-stream context, reusing one of a deleted
// stream when there is one (a request then allocates nothing).
func (pc *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	if n := len(pc.idle); n > 0 {
		h := pc.idle[n-1]
		pc.idle[n-1] = nil
		pc.idle = pc.idle[:n-1]
		h.id, h.plugin = contextID, pc
		return h
	}
	return &httpContext{id: contextID, plugin: pc}
}

// RecycleHttpContext (abi.HttpContextRecycler) keeps the context of a
// deleted stream for a later one. The host names the stream in no callback
// after proxy_on_delete, and OnHttpStreamDone, which ran before, took it
// off the key store's waiting list; a stream still parked is not reused
// all the same.
func (pc *pluginContext) RecycleHttpContext(ctx types.HttpContext) {
	h, ok := ctx.(*httpContext)
	if !ok || h.plugin != pc || h.parked || len(pc.idle) >= maxIdleContexts {
		return
	}
	*h = httpContext{}
	pc.idle = append(pc.idle, h)
}
