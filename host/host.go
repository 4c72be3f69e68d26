// Package host runs proxy-wasm modules (ABI 0.2.0 and 0.2.1) on wazero the
// way Envoy 1.33+ does: only the WASI functions Envoy provides, a canary VM
// followed by one VM per worker, and Envoy's rules enforced and reported as
// violations. It also offers an HTTP reverse proxy that runs every request
// through the plugin, an admin handler with Envoy-style /stats, and helpers
// (Do, Tick, Logs, Violations, Traps) for tests.
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
)

// PollOneoffMode selects how WASI poll_oneoff answers.
type PollOneoffMode int

const (
	// PollOneoffENOSYS answers ENOSYS (52), as Envoy 1.33 to 1.38 do. A
	// standard Go guest aborts the moment its runtime needs to wait.
	PollOneoffENOSYS PollOneoffMode = iota
	// PollOneoffNoEvents answers success with zero events, as newer Envoy does.
	PollOneoffNoEvents
)

// String names the mode the way the CLI flag spells it.
func (m PollOneoffMode) String() string {
	if m == PollOneoffNoEvents {
		return "no-events"
	}
	return "enosys"
}

// ParsePollOneoffMode parses "enosys" or "no-events".
func ParsePollOneoffMode(s string) (PollOneoffMode, error) {
	switch strings.ToLower(s) {
	case "", "enosys":
		return PollOneoffENOSYS, nil
	case "no-events", "noevents":
		return PollOneoffNoEvents, nil
	}
	return 0, fmt.Errorf("poll_oneoff mode %q: want enosys or no-events", s)
}

// LogLevel is a log severity. The zero value means "default" (info).
type LogLevel int

// Log levels, in proxy-wasm order (proxy-wasm numbers them from 0; these are one higher
// so that the zero value of Config.LogLevel selects the default).
const (
	LogTrace LogLevel = iota + 1
	LogDebug
	LogInfo
	LogWarn
	LogError
	LogCritical
)

// String returns Envoy's name for the level, as printed in its logs.
func (l LogLevel) String() string {
	switch l {
	case LogTrace:
		return "trace"
	case LogDebug:
		return "debug"
	case LogInfo, 0:
		return "info"
	case LogWarn:
		return "warning"
	case LogError:
		return "error"
	case LogCritical:
		return "critical"
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// ParseLogLevel parses trace, debug, info, warn/warning, error or critical.
func ParseLogLevel(s string) (LogLevel, error) {
	switch strings.ToLower(s) {
	case "trace":
		return LogTrace, nil
	case "debug":
		return LogDebug, nil
	case "", "info":
		return LogInfo, nil
	case "warn", "warning":
		return LogWarn, nil
	case "error":
		return LogError, nil
	case "critical":
		return LogCritical, nil
	}
	return 0, fmt.Errorf("log level %q: want trace, debug, info, warn, error or critical", s)
}

// proxyLevel maps a proxy-wasm level number (0 trace .. 5 critical) to a LogLevel.
func proxyLevel(n uint32) LogLevel {
	if n > 5 {
		n = 5
	}
	return LogLevel(n + 1)
}

// Config describes one plugin and how to host it.
type Config struct {
	// Module is the path of the .wasm file (ignored when ModuleBytes is set).
	Module string
	// ModuleBytes is the module itself.
	ModuleBytes []byte
	// PluginConfig is buffer 7, read in proxy_on_configure.
	PluginConfig []byte
	// VMConfig is buffer 6, read in proxy_on_vm_start.
	VMConfig []byte
	// PluginName names the plugin in logs and properties (default "scopegate").
	PluginName string
	// RootID is the plugin's root_id (property plugin_root_id; default "").
	RootID string
	// VMID is the VM's vm_id (property plugin_vm_id; default "").
	VMID string
	// Workers is the number of worker VMs (default 1).
	Workers int
	// ManualTicks stops proxy_on_tick from running on real time: worker VMs
	// tick only when Tick or TickOn is called, so a test decides exactly
	// when each VM's periodic work happens.
	ManualTicks bool
	// Clusters maps the cluster names callouts may use to real addresses as
	// URLs, e.g. "idp" -> "http://127.0.0.1:9000". Like an Envoy cluster, only
	// the scheme and host:port count: the callout's :path is sent as it is,
	// and a path in the URL is ignored.
	Clusters map[string]string
	// Upstream is the base URL Handler forwards allowed requests to (a path
	// in it prefixes the request's path). Requests always go to its host:
	// nothing in a request can name another.
	Upstream string
	// PollOneoff selects the poll_oneoff behaviour (default ENOSYS, like Envoy 1.33-1.38).
	PollOneoff PollOneoffMode
	// VerifySignature selects what proxy_call_foreign_function answers
	// (default: Envoy's verify_signature, as Envoy 1.30 and later have it).
	VerifySignature VerifySignatureMode
	// CompilationCacheDir is wazero's compilation cache directory (default:
	// the user cache directory + scopegate/wazero).
	CompilationCacheDir string
	// LogLevel is the lowest level written to Log (default info). Logs()
	// keeps every entry regardless.
	LogLevel LogLevel
	// Log receives log lines (default os.Stderr).
	Log io.Writer
}

// LogEntry is one log line from a plugin (proxy_log, or stdout/stderr through fd_write).
type LogEntry struct {
	Time    time.Time // when the host received it
	Level   LogLevel  // fd_write maps stdout to info and stderr to error, as Envoy does
	Plugin  string    // Config.PluginName
	VM      string    // "canary" or "worker-N": which VM logged it
	Message string    // the text, without a trailing newline
}

// Rules a Violation can name. A module Envoy would refuse outright (an
// import it does not provide, a missing allocator, a bad export signature)
// is a load error from New instead.
const (
	RuleInitCall           = "initialize-restricted-call" // a call other than proxy_log/WASI during _initialize
	RuleAllocatorCall      = "allocator-restricted-call"  // a call other than proxy_log/fd_write/clock_time_get inside the allocator
	RuleHTTPCall           = "http-call"                  // proxy_http_call with an unknown cluster, missing pseudo headers or no timeout
	RuleHeaderMapLimit     = "header-map-limit"           // a guest header map over 1024 pairs or 1 MiB (Envoy treats it as empty)
	RuleMalformedHeaderMap = "malformed-header-map"       // a guest header map that does not parse (Envoy treats it as empty, status OK)
)

// Violation is one breach of Envoy's rules by the guest.
type Violation struct {
	Rule   string // one of the Rule* constants
	VM     string // "canary" or "worker-N"
	Detail string // what the guest did, naming the call
}

// String renders the violation for logs and errors.
func (v Violation) String() string { return v.Rule + " (" + v.VM + "): " + v.Detail }

// MemoryStats describes one VM's memory.
type MemoryStats struct {
	// Bytes is the size of the VM's linear memory.
	Bytes uint64
}

// Request is one HTTP request as the filter sees it.
type Request struct {
	// Method, Path (with the query string) and Authority become :method,
	// :path and :authority; empty Method and Path mean GET and /.
	Method, Path, Authority string
	// Headers are the regular (non-pseudo) request headers; names are lowercased.
	Headers [][2]string
	// Body is the request body; when not empty, on_request_body follows
	// on_request_headers.
	Body []byte
	// Scheme is :scheme (default "http").
	Scheme string
	// RemoteAddr is the downstream address ("ip:port", property source.address).
	RemoteAddr string
	// ClientCertificate is the DER of the TLS client certificate the
	// downstream presented, if any; the filter reads its SHA-256 as Envoy's
	// property connection.sha256_peer_certificate_digest (lower-case hex).
	ClientCertificate []byte
}

// Decision is what the filter decided for a request.
type Decision struct {
	// Continue is true when the request may go upstream.
	Continue bool
	// Headers are the request headers after the filter, pseudo headers included.
	Headers [][2]string
	// RequestBody is the request body after the filter.
	RequestBody []byte
	// Status, ResponseHeaders and Body are the local response when !Continue.
	Status          int
	ResponseHeaders [][2]string
	Body            []byte
}

// Host runs one plugin in a canary VM and a set of worker VMs.
type Host struct {
	cfg      Config
	clusters map[string]string // name -> scheme://host:port
	upstream *url.URL          // Config.Upstream parsed; nil when none
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	abi      string
	workers  []*vm
	next     atomic.Uint64
	start    time.Time
	nextVMID atomic.Int64

	shared   *sharedData
	queues   *sharedQueues
	metrics  *metricRegistry
	client   *http.Client
	callouts atomic.Int64
	traps    atomic.Int64
	paused   atomic.Int64 // paused streams not yet resumed or answered

	calloutsPending atomic.Int64 // callouts whose answer callback has not finished
	// foreignCalls counts proxy_call_foreign_function calls.
	foreignCalls atomic.Int64

	// The prefixes of plugin log lines (pluginLog), fixed by the config.
	streamLogPrefix, rootLogPrefix string

	mu         sync.Mutex
	logs       []LogEntry
	lineBuf    []byte // writeLine's reused line (under mu)
	violations []Violation
	closed     bool
	bg         sync.WaitGroup
	closeCh    chan struct{}
}

// maxLogEntries bounds the in-memory log kept for Logs().
const maxLogEntries = 100000

var (
	cacheMu sync.Mutex
	caches  = map[string]wazero.CompilationCache{}
)

// compilationCache returns one cache per directory for the whole process,
// so Hosts created one after another reuse compiled code in memory too.
func compilationCache(dir string) wazero.CompilationCache {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if c, ok := caches[dir]; ok {
		return c
	}
	c, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		// An unusable directory only costs compile time: keep the cache in memory.
		c = wazero.NewCompilationCache()
	}
	caches[dir] = c
	return c
}

// DefaultCompilationCacheDir is $(os.UserCacheDir)/scopegate/wazero, or a
// directory under the temp dir when there is no user cache directory.
func DefaultCompilationCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "scopegate", "wazero")
}

// ErrConfigureRejected is wrapped by New's error when the module's
// proxy_on_configure returned false: the plugin refused its configuration
// (the module has usually logged why), as opposed to failing to load or
// trapping.
var ErrConfigureRejected = errors.New("proxy_on_configure returned false (Envoy rejects the plugin configuration)")

// New compiles the module (through the compilation cache), runs the canary
// VM (_initialize, root context, on_vm_start, on_configure, then discarded)
// and starts the worker VMs the same way. It fails with an error naming any
// import Envoy does not provide, any rule violation during loading, a trap,
// or on_vm_start / on_configure returning false (ErrConfigureRejected).
func New(ctx context.Context, cfg Config) (*Host, error) {
	if cfg.PluginName == "" {
		cfg.PluginName = "scopegate"
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.LogLevel == 0 {
		cfg.LogLevel = LogInfo
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	if cfg.CompilationCacheDir == "" {
		cfg.CompilationCacheDir = DefaultCompilationCacheDir()
	}
	clusters, err := clusterAddresses(cfg.Clusters)
	if err != nil {
		return nil, err
	}
	upstream, err := upstreamURL(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	code := cfg.ModuleBytes
	if code == nil {
		if cfg.Module == "" {
			return nil, errors.New("host: no module given (Config.Module or Config.ModuleBytes)")
		}
		b, err := os.ReadFile(cfg.Module)
		if err != nil {
			return nil, fmt.Errorf("host: reading module: %w", err)
		}
		code = b
	}
	h := &Host{
		cfg:      cfg,
		clusters: clusters,
		upstream: upstream,

		streamLogPrefix: envoyLogPrefix(cfg.PluginName, cfg.RootID, cfg.VMID),
		rootLogPrefix:   envoyLogPrefix(cfg.RootID, cfg.VMID),
		start:           time.Now(),
		shared:          newSharedData(),
		queues:          newSharedQueues(),
		metrics:         newMetricRegistry(),
		client:          &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		closeCh:         make(chan struct{}),
	}
	rc := wazero.NewRuntimeConfig().WithCompilationCache(compilationCache(cfg.CompilationCacheDir))
	h.runtime = wazero.NewRuntimeWithConfig(ctx, rc)
	ok := false
	defer func() {
		if !ok {
			// Stops any callout a VM dispatched while loading before the
			// runtime goes, so a failed New leaves no goroutine behind.
			h.Close(ctx)
		}
	}()
	compiled, err := h.runtime.CompileModule(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("host: compiling module: %w", err)
	}
	h.compiled = compiled
	if err := h.checkModule(); err != nil {
		return nil, err
	}
	if err := h.instantiateHostModules(ctx); err != nil {
		return nil, err
	}

	canary, err := h.startVM(ctx, "canary")
	if err != nil {
		return nil, fmt.Errorf("host: canary VM: %w", err)
	}
	canary.close(ctx)
	for i := 0; i < cfg.Workers; i++ {
		w, err := h.startVM(ctx, fmt.Sprintf("worker-%d", i))
		if err != nil {
			return nil, fmt.Errorf("host: worker VM %d: %w", i, err)
		}
		h.workers = append(h.workers, w)
	}
	if vs := h.Violations(); len(vs) > 0 {
		msgs := make([]string, len(vs))
		for i, v := range vs {
			msgs[i] = v.String()
		}
		return nil, fmt.Errorf("host: Envoy rule violations while loading: %s", strings.Join(msgs, "; "))
	}
	if !cfg.ManualTicks {
		for _, w := range h.workers {
			w.startTicker()
		}
	}
	ok = true
	return h, nil
}

// clusterAddresses validates the cluster URLs and keeps their scheme and host.
func clusterAddresses(in map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(in))
	for name, raw := range in {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("host: cluster %q: %q is not an http(s)://host:port URL", name, raw)
		}
		out[name] = u.Scheme + "://" + u.Host
	}
	return out, nil
}

// upstreamURL parses Config.Upstream: an http(s) URL with a host and at
// most a base path; no user info, query or fragment, which the request
// target would be appended to.
func upstreamURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("host: upstream %q is not an http(s)://host[:port][/base] URL", raw)
	}
	return u, nil
}

// Close stops the tickers, waits for callouts in flight and closes every VM.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.closeCh)
	h.mu.Unlock()
	h.closeWorkers(ctx)
	h.bg.Wait()
	return h.runtime.Close(ctx)
}

func (h *Host) closeWorkers(ctx context.Context) {
	for _, w := range h.workers {
		w.close(ctx)
	}
}

// Workers returns the number of worker VMs.
func (h *Host) Workers() int { return len(h.workers) }

// ABIVersion returns the proxy-wasm ABI the module declares ("0.2.0" or "0.2.1").
func (h *Host) ABIVersion() string { return h.abi }

// log records a message of the host's own about a VM (a rule violation, a
// crash) and writes it as "<plugin>: <message>".
func (h *Host) log(level LogLevel, vmName, msg string) {
	h.record(level, vmName, h.cfg.PluginName, msg)
}

// pluginLog records a message the plugin logged (proxy_log, or stdout and
// stderr through fd_write) and writes it the way Envoy does:
// "wasm log<prefix>: <message>", so a grep written for Envoy's log finds
// the same lines here. The prefix is proxy-wasm-cpp-host's: " <name>
// <root_id> <vm_id>" (empty parts left out) for a stream, without the name
// for the root context, and nothing during _initialize, which runs before
// any plugin is attached.
func (v *vm) pluginLog(level LogLevel, msg string) {
	who := "wasm log"
	switch {
	case v.phase == phaseInit:
	case v.effectiveStream() != nil:
		who = v.h.streamLogPrefix
	default:
		who = v.h.rootLogPrefix
	}
	v.h.record(level, v.name, who, msg)
}

// envoyLogPrefix is "wasm log" followed by the non-empty parts, each after a
// space: proxy-wasm-cpp-host's prefix for a plugin's log line.
func envoyLogPrefix(parts ...string) string {
	prefix := "wasm log"
	for _, p := range parts {
		if p != "" {
			prefix += " " + p
		}
	}
	return prefix
}

// record keeps a log entry and writes it as "<who>: <msg>" when the entry
// is at or above the configured level.
func (h *Host) record(level LogLevel, vmName, who, msg string) {
	e := LogEntry{Time: time.Now(), Level: level, Plugin: h.cfg.PluginName, VM: vmName, Message: msg}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.logs) >= maxLogEntries {
		h.logs = append(h.logs[:0], h.logs[len(h.logs)/2:]...)
	}
	h.logs = append(h.logs, e)
	if level >= h.cfg.LogLevel && h.cfg.Log != io.Discard {
		h.writeLine(h.cfg.Log, e.Time, level, who, msg)
	}
	if debugLog && h.cfg.Log != os.Stderr {
		h.writeLine(os.Stderr, e.Time, level, h.cfg.PluginName+" "+vmName, msg)
	}
}

// debugLog (environment SCOPEGATE_HOST_DEBUG=1) copies every log entry, at
// every level, to stderr, whatever Config.Log says: for debugging tests.
var debugLog = os.Getenv("SCOPEGATE_HOST_DEBUG") != ""

// writeLine writes one line in Envoy's format, "[time][level][wasm] who:
// msg", built in a reused buffer; h.mu must be held.
func (h *Host) writeLine(w io.Writer, t time.Time, level LogLevel, who, msg string) {
	b := append(h.lineBuf[:0], '[')
	b = t.UTC().AppendFormat(b, "2006-01-02 15:04:05.000")
	b = append(b, "]["...)
	b = append(b, level.String()...)
	b = append(b, "][wasm] "...)
	b = append(b, who...)
	b = append(b, ": "...)
	b = append(b, msg...)
	b = append(b, '\n')
	w.Write(b)
	h.lineBuf = b
}

// Logs returns a copy of the log entries seen so far (every level).
func (h *Host) Logs() []LogEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]LogEntry(nil), h.logs...)
}

func (h *Host) violation(vmName, rule, detail string) {
	v := Violation{Rule: rule, VM: vmName, Detail: detail}
	h.mu.Lock()
	h.violations = append(h.violations, v)
	h.mu.Unlock()
	h.log(LogError, vmName, "Envoy rule violation: "+v.String())
}

// Violations returns the Envoy-rule violations seen so far.
func (h *Host) Violations() []Violation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Violation(nil), h.violations...)
}

// Traps returns how many VMs have trapped (each trapped VM fails closed).
func (h *Host) Traps() int { return int(h.traps.Load()) }

// CalloutsPending returns the number of proxy_http_call callouts whose
// answer (or failure) has not been delivered yet: a callout counts until its
// proxy_on_http_call_response has returned, so a callout the guest makes
// from that callback keeps the count above zero.
func (h *Host) CalloutsPending() int { return int(h.calloutsPending.Load()) }

// CalloutCount returns how many proxy_http_call callouts were dispatched.
func (h *Host) CalloutCount() int { return int(h.callouts.Load()) }

// MemoryStats returns the linear memory size of worker VM i.
func (h *Host) MemoryStats(worker int) MemoryStats {
	if worker < 0 || worker >= len(h.workers) {
		return MemoryStats{}
	}
	return MemoryStats{Bytes: h.workers[worker].memorySize()}
}

// Metric returns a plugin metric by name: a counter's or gauge's value, or a
// histogram's number of recorded values.
func (h *Host) Metric(name string) (uint64, bool) { return h.metrics.value(name) }

// Tick runs proxy_on_tick once on every live worker VM now (for tests).
func (h *Host) Tick(ctx context.Context) {
	for _, w := range h.workers {
		w.tick()
	}
}

// TickOn runs proxy_on_tick once on worker VM number worker now (for tests,
// usually with Config.ManualTicks).
func (h *Host) TickOn(worker int) error {
	if worker < 0 || worker >= len(h.workers) {
		return fmt.Errorf("host: no worker %d (have %d)", worker, len(h.workers))
	}
	h.workers[worker].tick()
	return nil
}

// Paused returns the number of requests (Do, DoOn, Handler) whose stream
// the filter paused and has not yet resumed or answered, across all workers.
// A request stops counting the moment the filter resumes or answers it,
// before Do returns.
func (h *Host) Paused() int { return int(h.paused.Load()) }
