package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// vmPhase says what the VM is running, for Envoy's call restrictions.
type vmPhase int

const (
	phaseNormal vmPhase = iota
	phaseInit           // inside _initialize
	phaseAlloc          // inside the guest allocator
)

// vm is one module instance: the canary or one worker. A VM is
// single-threaded, so every call into it holds mu.
type vm struct {
	h    *Host
	name string
	ctx  context.Context
	mod  api.Module
	mem  api.Memory
	fns  map[string]api.Function

	// The guest allocator (malloc, else proxy_on_memory_allocate) and the
	// reused stacks calls pass their arguments and results in: a host call
	// that returns data, and every callback, costs no Go allocation.
	allocFn    api.Function
	allocName  string
	allocStack [1]uint64
	callStack  [8]uint64

	mu           sync.Mutex
	phase        vmPhase
	failed       bool
	failReason   string
	closed       bool
	rootID       uint32
	nextID       uint32
	effective    uint32
	streams      map[uint32]*stream
	props        map[string][]byte
	vmConfig     []byte
	pluginConfig []byte
	calloutResp  *calloutResponse
	starting     bool // inside on_vm_start / on_configure: the plugin configuration is readable
	nextToken    uint32
	ended        uint64 // streams finished; its parity picks the on_log/on_done order

	tickPeriod atomic.Int64 // nanoseconds
	tickReset  chan struct{}
}

type vmKey struct{}

// vmFrom returns the VM a host function was called from.
func vmFrom(ctx context.Context) *vm {
	v, _ := ctx.Value(vmKey{}).(*vm)
	return v
}

// guestExports are the exports the host calls; missing optional ones are skipped.
var guestExports = []string{
	"_initialize", "_start", "malloc", "proxy_on_memory_allocate",
	"proxy_on_context_create", "proxy_on_vm_start", "proxy_on_configure", "proxy_on_tick",
	"proxy_on_request_headers", "proxy_on_request_body", "proxy_on_request_trailers",
	"proxy_on_response_headers", "proxy_on_response_body", "proxy_on_response_trailers",
	"proxy_on_http_call_response", "proxy_on_done", "proxy_on_log", "proxy_on_delete",
	"proxy_on_queue_ready",
}

// startVM instantiates the module and runs Envoy's start sequence on it:
// _initialize (restricted), root context create, on_vm_start, on_configure.
func (h *Host) startVM(ctx context.Context, name string) (*vm, error) {
	v := &vm{
		h:            h,
		name:         name,
		fns:          map[string]api.Function{},
		streams:      map[uint32]*stream{},
		props:        map[string][]byte{},
		vmConfig:     h.cfg.VMConfig,
		pluginConfig: h.cfg.PluginConfig,
		tickReset:    make(chan struct{}, 1),
	}
	v.ctx = context.WithValue(context.Background(), vmKey{}, v)
	modName := fmt.Sprintf("%s#%d", name, h.nextVMID.Add(1))
	mod, err := h.runtime.InstantiateModule(v.ctx, h.compiled, wazero.NewModuleConfig().WithName(modName).WithStartFunctions())
	if err != nil {
		return nil, fmt.Errorf("instantiating module: %w", err)
	}
	v.mod = mod
	v.mem = mod.Memory()
	for _, n := range guestExports {
		if f := mod.ExportedFunction(n); f != nil {
			v.fns[n] = f
		}
	}
	v.allocName = "malloc"
	if v.fns[v.allocName] == nil {
		v.allocName = "proxy_on_memory_allocate"
	}
	v.allocFn = v.fns[v.allocName]
	v.mu.Lock()
	defer v.mu.Unlock()
	fail := func(what string, err error) (*vm, error) {
		v.closeLocked(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return nil, errors.New(what)
	}
	v.phase = phaseInit
	if v.fns["_initialize"] != nil {
		_, err = v.call("_initialize")
	} else if v.fns["_start"] != nil {
		_, err = v.call("_start")
	}
	v.phase = phaseNormal
	if err != nil {
		return fail("_initialize", err)
	}
	v.nextID = 1
	v.rootID = v.newContextID()
	if _, err := v.callOn(v.rootID, "proxy_on_context_create", uint64(v.rootID), 0); err != nil {
		return fail("proxy_on_context_create (root)", err)
	}
	v.starting = true
	defer func() { v.starting = false }()
	if v.fns["proxy_on_vm_start"] != nil {
		r, err := v.callOn(v.rootID, "proxy_on_vm_start", uint64(v.rootID), uint64(len(v.vmConfig)))
		if err != nil {
			return fail("proxy_on_vm_start", err)
		}
		if r == 0 {
			return fail("proxy_on_vm_start returned false (Envoy rejects the VM)", nil)
		}
	}
	if v.fns["proxy_on_configure"] != nil {
		r, err := v.callOn(v.rootID, "proxy_on_configure", uint64(v.rootID), uint64(len(v.pluginConfig)))
		if err != nil {
			return fail("proxy_on_configure", err)
		}
		if r == 0 {
			v.closeLocked(ctx)
			return nil, ErrConfigureRejected
		}
	}
	return v, nil
}

func (v *vm) newContextID() uint32 {
	id := v.nextID
	v.nextID++
	return id
}

// errVMFailed is returned for calls into a VM that has trapped.
var errVMFailed = errors.New("wasm VM failed (trapped earlier)")

// call invokes a guest export; v.mu must be held. A missing export returns
// 0. A trap fails the VM (closed) and is reported. Exports do not nest (the
// allocator, which runs inside host calls, has its own stack), so one
// reused stack serves every call; more arguments than it holds is a host
// bug, reported rather than truncated.
func (v *vm) call(name string, args ...uint64) (uint64, error) {
	if len(args) > len(v.callStack) {
		return 0, fmt.Errorf("%s: %d arguments, but the call stack holds %d", name, len(args), len(v.callStack))
	}
	if v.failed || v.closed {
		return 0, errVMFailed
	}
	f := v.fns[name]
	if f == nil {
		return 0, nil
	}
	stack := v.callStack[:]
	copy(stack, args)
	if err := f.CallWithStack(v.ctx, stack); err != nil {
		v.fail(name, err)
		return 0, err
	}
	if len(f.Definition().ResultTypes()) > 0 {
		return stack[0], nil
	}
	return 0, nil
}

// callOn calls an export with ctxID as the effective context, as Envoy does.
func (v *vm) callOn(ctxID uint32, name string, args ...uint64) (uint64, error) {
	prev := v.effective
	v.effective = ctxID
	defer func() { v.effective = prev }()
	return v.call(name, args...)
}

// fail marks the VM failed after a trap: its requests are answered 503
// from now on (Envoy's fail_open=false), and paused requests are released.
func (v *vm) fail(fn string, err error) {
	if v.failed {
		return
	}
	v.failed = true
	v.failReason = fmt.Sprintf("Function: %s failed: %v", fn, err)
	v.h.traps.Add(1)
	v.h.log(LogCritical, v.name, "Plugin Crash: "+v.failReason)
	for _, st := range v.streams {
		st.vmFailed = true
		st.wake()
	}
}

// alloc calls the guest allocator (malloc, else proxy_on_memory_allocate)
// under Envoy's allocator restrictions. A trap inside it traps the caller.
func (v *vm) alloc(size uint32) uint32 {
	prev := v.phase
	v.phase = phaseAlloc
	v.allocStack[0] = uint64(size)
	err := v.allocFn.CallWithStack(v.ctx, v.allocStack[:])
	v.phase = prev
	if err != nil {
		panic(fmt.Errorf("guest allocator %s failed: %w", v.allocName, err))
	}
	return uint32(v.allocStack[0])
}

// reserve is how a host call returns data: one guest allocation of n
// bytes, its pointer and size written to the return slots, and the guest
// memory to fill returned (filled before the guest runs again). Empty data
// is (0, 0), without an allocation.
func (v *vm) reserve(n int, ptrPtr, sizePtr uint32) ([]byte, uint32) {
	if n == 0 {
		if !v.writeU32(ptrPtr, 0) || !v.writeU32(sizePtr, 0) {
			return nil, statusInvalidMemoryAccess
		}
		return nil, statusOK
	}
	p := v.alloc(uint32(n))
	buf, ok := v.mem.Read(p, uint32(n))
	if p == 0 || !ok {
		return nil, statusInvalidMemoryAccess
	}
	if !v.writeU32(ptrPtr, p) || !v.writeU32(sizePtr, uint32(n)) {
		return nil, statusInvalidMemoryAccess
	}
	return buf, statusOK
}

// returnBytes hands data to the guest (see reserve).
func (v *vm) returnBytes(data []byte, ptrPtr, sizePtr uint32) uint32 {
	buf, st := v.reserve(len(data), ptrPtr, sizePtr)
	copy(buf, data)
	return st
}

// returnString hands s to the guest (see reserve) without converting it.
func (v *vm) returnString(s string, ptrPtr, sizePtr uint32) uint32 {
	buf, st := v.reserve(len(s), ptrPtr, sizePtr)
	copy(buf, s)
	return st
}

// read returns a view of guest memory (valid until the guest runs again).
func (v *vm) read(ptr, size uint32) ([]byte, bool) {
	if size == 0 {
		return nil, true
	}
	return v.mem.Read(ptr, size)
}

func (v *vm) writeU32(ptr, x uint32) bool        { return v.mem.WriteUint32Le(ptr, x) }
func (v *vm) writeU64(ptr uint32, x uint64) bool { return v.mem.WriteUint64Le(ptr, x) }

func (v *vm) memorySize() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return 0
	}
	return uint64(v.mem.Size())
}

// effectiveStream is the stream of the effective context (nil for the root).
func (v *vm) effectiveStream() *stream {
	if v.effective == v.rootID {
		return nil
	}
	return v.streams[v.effective]
}

func (v *vm) setEffectiveContext(s []uint64) uint32 {
	id := u32(s[0])
	if id == v.rootID {
		v.effective = id
		return statusOK
	}
	if st, ok := v.streams[id]; ok && !st.ended {
		v.effective = id
		return statusOK
	}
	return statusBadArgument
}

// close ends a VM without any further callback. This is also how the canary
// is discarded: Envoy kills it after on_configure, so its root context never
// gets on_done or on_delete, and a guest must not rely on them there.
func (v *vm) close(ctx context.Context) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closeLocked(ctx)
}

func (v *vm) closeLocked(ctx context.Context) {
	if v.closed {
		return
	}
	v.closed = true
	for _, st := range v.streams {
		st.vmFailed = true
		st.wake()
	}
	v.mod.Close(ctx)
}

// setTickPeriod is proxy_set_tick_period_milliseconds (0 stops ticks).
func (v *vm) setTickPeriod(d time.Duration) {
	v.tickPeriod.Store(int64(d))
	select {
	case v.tickReset <- struct{}{}:
	default:
	}
}

// startTicker runs proxy_on_tick on real time for a worker VM.
func (v *vm) startTicker() {
	v.h.bg.Add(1)
	go func() {
		defer v.h.bg.Done()
		var t *time.Ticker
		defer func() {
			if t != nil {
				t.Stop()
			}
		}()
		for {
			var c <-chan time.Time
			if t != nil {
				t.Stop()
				t = nil
			}
			if p := time.Duration(v.tickPeriod.Load()); p > 0 {
				t = time.NewTicker(p)
				c = t.C
			}
		wait:
			for {
				select {
				case <-v.h.closeCh:
					return
				case <-v.tickReset:
					break wait
				case <-c:
					v.tick()
				}
			}
		}
	}()
}

// tick runs proxy_on_tick on the root context.
func (v *vm) tick() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.failed || v.closed {
		return
	}
	v.callOn(v.rootID, "proxy_on_tick", uint64(v.rootID))
}
