package host

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// proxy-wasm status codes.
const (
	statusOK                   = 0
	statusNotFound             = 1
	statusBadArgument          = 2
	statusSerializationFailure = 3
	statusParseFailure         = 4
	statusInvalidMemoryAccess  = 6
	statusEmpty                = 7
	statusCasMismatch          = 8
	statusInternalFailure      = 10
	statusUnimplemented        = 12
)

// proxy-wasm enums used by the host.
const (
	actionContinue = 0
	actionPause    = 1

	bufferRequestBody      = 0
	bufferResponseBody     = 1
	bufferHTTPCallResponse = 4
	bufferVMConfig         = 6
	bufferPluginConfig     = 7

	mapRequestHeaders          = 0
	mapRequestTrailers         = 1
	mapResponseHeaders         = 2
	mapResponseTrailers        = 3
	mapHTTPCallResponseHeaders = 6
	mapHTTPCallResponseTrails  = 7

	streamRequest  = 0
	streamResponse = 1
)

// WASI module names Envoy registers its WASI functions under.
const (
	wasiSnapshot = "wasi_snapshot_preview1"
	wasiUnstable = "wasi_unstable"
)

// envoyWASI lists the WASI functions Envoy 1.33 provides (proxy-wasm-cpp-host
// FOR_ALL_WASI_FUNCTIONS as pinned by Envoy 1.33): any other WASI import makes
// the module fail to load.
var envoyWASI = []string{
	"fd_write", "fd_read", "fd_seek", "fd_close", "fd_fdstat_get", "fd_fdstat_set_flags",
	"environ_get", "environ_sizes_get", "args_get", "args_sizes_get", "clock_time_get",
	"random_get", "sched_yield", "poll_oneoff", "proc_exit", "path_open",
	"fd_prestat_get", "fd_prestat_dir_name",
}

// initAllowed is what Envoy lets a guest call during _initialize; any other
// host function traps the VM ("restricted_callback").
var initAllowed = map[string]bool{
	"env.proxy_log":       true,
	"fd_write":            true,
	"args_sizes_get":      true,
	"args_get":            true,
	"environ_sizes_get":   true,
	"environ_get":         true,
	"fd_prestat_get":      true,
	"fd_prestat_dir_name": true,
	"clock_time_get":      true,
	"random_get":          true,
	"fd_fdstat_get":       true,
	"fd_fdstat_set_flags": true,
}

// allocAllowed is what Envoy lets a guest call inside its allocator.
var allocAllowed = map[string]bool{
	"env.proxy_log":  true,
	"fd_write":       true,
	"clock_time_get": true,
}

// ruleName normalizes an import to the key used by initAllowed/allocAllowed.
func ruleName(module, name string) string {
	if module == wasiSnapshot || module == wasiUnstable {
		return name
	}
	return module + "." + name
}

// checkModule verifies the ABI marker, the allocator export and that every
// import is one Envoy provides for that ABI version.
func (h *Host) checkModule() error {
	exports := h.compiled.ExportedFunctions()
	switch {
	case exports["proxy_abi_version_0_2_1"] != nil:
		h.abi = "0.2.1"
	case exports["proxy_abi_version_0_2_0"] != nil:
		h.abi = "0.2.0"
	case exports["proxy_abi_version_0_1_0"] != nil:
		return fmt.Errorf("host: module declares proxy-wasm ABI 0.1.0; only 0.2.0 and 0.2.1 are supported")
	default:
		return fmt.Errorf("host: module exports no proxy_abi_version_0_2_x marker; is it a proxy-wasm module?")
	}
	if exports["malloc"] == nil && exports["proxy_on_memory_allocate"] == nil {
		return fmt.Errorf("host: module is missing malloc function (export malloc or proxy_on_memory_allocate)")
	}
	var bad []string
	for name, def := range exports {
		want, known := guestSignatures[name]
		if known && !allI32(def.ParamTypes(), want[0]) || known && !allI32(def.ResultTypes(), want[1]) {
			bad = append(bad, name)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("host: bad function signature for %s (Envoy requires the ABI's i32 parameters and results)", strings.Join(bad, ", "))
	}
	provided := map[string]bool{}
	for _, f := range h.envFunctions() {
		provided["env."+f.name] = true
	}
	for _, n := range envoyWASI {
		provided[wasiSnapshot+"."+n] = true
		provided[wasiUnstable+"."+n] = true
	}
	var unknown []string
	for _, def := range h.compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		if !provided[mod+"."+name] {
			unknown = append(unknown, mod+"."+name)
		}
	}
	for _, def := range h.compiled.ImportedMemories() {
		mod, name, _ := def.Import()
		unknown = append(unknown, mod+"."+name+" (memory)")
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("host: module imports %s, which Envoy does not provide", strings.Join(unknown, ", "))
	}
	return nil
}

// guestSignatures are the guest exports Envoy looks up, with the number of
// i32 parameters and results it requires (DESIGN §2: every parameter and
// result is i32). Envoy fails the load on a mismatch ("Bad function
// signature for: ...") rather than calling the function.
var guestSignatures = map[string][2]int{
	"_initialize": {0, 0}, "_start": {0, 0},
	"malloc": {1, 1}, "proxy_on_memory_allocate": {1, 1},
	"proxy_on_context_create": {2, 0},
	"proxy_on_vm_start":       {2, 1}, "proxy_on_configure": {2, 1},
	"proxy_on_tick": {1, 0}, "proxy_on_queue_ready": {2, 0},
	"proxy_on_request_headers": {3, 1}, "proxy_on_request_body": {3, 1}, "proxy_on_request_trailers": {2, 1},
	"proxy_on_response_headers": {3, 1}, "proxy_on_response_body": {3, 1}, "proxy_on_response_trailers": {2, 1},
	"proxy_on_http_call_response": {5, 0},
	"proxy_on_done":               {1, 1}, "proxy_on_log": {1, 0}, "proxy_on_delete": {1, 0},
}

// allI32 reports whether types is exactly n i32s.
func allI32(types []api.ValueType, n int) bool {
	if len(types) != n {
		return false
	}
	for _, t := range types {
		if t != api.ValueTypeI32 {
			return false
		}
	}
	return true
}

// hostFunc is one host function exported to guests.
type hostFunc struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	fn      func(v *vm, stack []uint64)
}

// i32s returns n i32 value types.
func i32s(n int) []api.ValueType {
	t := make([]api.ValueType, n)
	for i := range t {
		t[i] = api.ValueTypeI32
	}
	return t
}

var (
	i32  = api.ValueTypeI32
	i64  = api.ValueTypeI64
	ret1 = []api.ValueType{api.ValueTypeI32}
)

// fn builds a hostFunc with n i32 parameters and an i32 status result.
func fn(name string, n int, f func(v *vm, s []uint64) uint32) hostFunc {
	return hostFunc{name: name, params: i32s(n), results: ret1, fn: func(v *vm, s []uint64) { s[0] = uint64(f(v, s)) }}
}

// instantiateHostModules registers env, wasi_snapshot_preview1 and wasi_unstable.
func (h *Host) instantiateHostModules(ctx context.Context) error {
	groups := []struct {
		module string
		funcs  []hostFunc
	}{
		{"env", h.envFunctions()},
		{wasiSnapshot, h.wasiFunctions()},
		{wasiUnstable, h.wasiFunctions()},
	}
	for _, g := range groups {
		b := h.runtime.NewHostModuleBuilder(g.module)
		for _, f := range g.funcs {
			b.NewFunctionBuilder().
				WithGoModuleFunction(h.gate(g.module, f), f.params, f.results).
				WithName(f.name).
				Export(f.name)
		}
		if _, err := b.Instantiate(ctx); err != nil {
			return fmt.Errorf("host: registering %s functions: %w", g.module, err)
		}
	}
	return nil
}

// restrictedCall is the panic value that traps a VM on a forbidden host call.
type restrictedCall struct{ msg string }

func (r restrictedCall) Error() string { return r.msg }

// gate wraps a host function with Envoy's call restrictions (during
// _initialize and inside the allocator): a forbidden call is reported as a
// violation and traps the VM, as V8's "restricted_callback" does.
func (h *Host) gate(module string, f hostFunc) api.GoModuleFunc {
	key := ruleName(module, f.name)
	full := module + "." + f.name
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		v := vmFrom(ctx)
		if v == nil {
			panic(fmt.Errorf("host function %s called outside a VM", full))
		}
		switch v.phase {
		case phaseInit:
			if !initAllowed[key] && !(key == "poll_oneoff" && h.cfg.PollOneoff == PollOneoffNoEvents) {
				msg := full + " called during _initialize (Envoy allows only proxy_log and WASI there)"
				h.violation(v.name, RuleInitCall, msg)
				panic(restrictedCall{"restricted_callback: " + msg})
			}
		case phaseAlloc:
			if !allocAllowed[key] {
				msg := full + " called inside the allocator (Envoy allows only proxy_log, fd_write, clock_time_get there)"
				h.violation(v.name, RuleAllocatorCall, msg)
				panic(restrictedCall{"restricted_callback: " + msg})
			}
		}
		f.fn(v, stack)
	}
}
