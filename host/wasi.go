package host

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// WASI errno values the host answers with.
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28
	errnoNoent   = 44
	errnoNosys   = 52
	errnoNotsup  = 58
)

// maxRandomGet is Envoy's bound on one random_get.
const maxRandomGet = 64 << 10

// wasiFunctions implements exactly the WASI functions Envoy 1.33 provides,
// answering as Envoy does (most file functions are stubs).
func (h *Host) wasiFunctions() []hostFunc {
	return []hostFunc{
		fn("fd_write", 4, (*vm).fdWrite),
		fn("fd_read", 4, func(*vm, []uint64) uint32 { return errnoNosys }),
		{name: "fd_seek", params: []api.ValueType{i32, i64, i32, i32}, results: ret1, fn: func(v *vm, s []uint64) {
			v.h.log(LogError, v.name, "wasi_unstable fd_seek")
			s[0] = errnoSuccess
		}},
		fn("fd_close", 1, func(v *vm, s []uint64) uint32 {
			v.h.log(LogError, v.name, "wasi_unstable fd_close")
			return errnoSuccess
		}),
		fn("fd_fdstat_get", 2, func(v *vm, s []uint64) uint32 {
			fd := u32(s[0])
			if fd != 1 && fd != 2 {
				return errnoBadf
			}
			var stat [24]byte
			stat[8] = 64 // fs_rights_base: fd_write
			v.mem.Write(u32(s[1]), stat[:])
			return errnoSuccess
		}),
		fn("fd_fdstat_set_flags", 2, func(*vm, []uint64) uint32 { return errnoNosys }),
		fn("environ_get", 2, func(*vm, []uint64) uint32 { return errnoSuccess }),
		fn("environ_sizes_get", 2, zeroSizes),
		fn("args_get", 2, func(*vm, []uint64) uint32 { return errnoSuccess }),
		fn("args_sizes_get", 2, zeroSizes),
		{name: "clock_time_get", params: []api.ValueType{i32, i64, i32}, results: ret1, fn: func(v *vm, s []uint64) {
			var t uint64
			switch u32(s[0]) {
			case 0:
				t = uint64(time.Now().UnixNano())
			case 1:
				t = uint64(time.Since(v.h.start).Nanoseconds()) + 1
			default:
				s[0] = errnoNotsup
				return
			}
			if !v.writeU64(u32(s[2]), t) {
				s[0] = errnoFault
				return
			}
			s[0] = errnoSuccess
		}},
		fn("random_get", 2, func(v *vm, s []uint64) uint32 {
			n := u32(s[1])
			if n > maxRandomGet {
				return errnoInval
			}
			if n == 0 {
				return errnoSuccess
			}
			buf := make([]byte, n)
			rand.Read(buf)
			if !v.mem.Write(u32(s[0]), buf) {
				return errnoFault
			}
			return errnoSuccess
		}),
		fn("sched_yield", 0, func(*vm, []uint64) uint32 { return errnoSuccess }),
		fn("poll_oneoff", 4, func(v *vm, s []uint64) uint32 {
			if v.h.cfg.PollOneoff != PollOneoffNoEvents {
				return errnoNosys
			}
			if !v.writeU32(u32(s[3]), 0) {
				return errnoFault
			}
			return errnoSuccess
		}),
		{name: "proc_exit", params: i32s(1), fn: func(v *vm, s []uint64) {
			v.h.log(LogError, v.name, "wasi_unstable proc_exit")
			panic(fmt.Errorf("proc_exit(%d)", u32(s[0])))
		}},
		{name: "path_open", params: []api.ValueType{i32, i32, i32, i32, i32, i64, i64, i32, i32}, results: ret1, fn: func(_ *vm, s []uint64) {
			s[0] = errnoNoent
		}},
		fn("fd_prestat_get", 2, func(*vm, []uint64) uint32 { return errnoBadf }),
		fn("fd_prestat_dir_name", 3, func(*vm, []uint64) uint32 { return errnoNosys }),
	}
}

// zeroSizes answers args_sizes_get / environ_sizes_get: nothing.
func zeroSizes(v *vm, s []uint64) uint32 {
	if !v.writeU32(u32(s[0]), 0) || !v.writeU32(u32(s[1]), 0) {
		return errnoFault
	}
	return errnoSuccess
}

// fdWrite sends stdout to the log at info and stderr at error, like Envoy.
func (v *vm) fdWrite(s []uint64) uint32 {
	fd, iovs, n := u32(s[0]), u32(s[1]), u32(s[2])
	var level LogLevel
	switch fd {
	case 1:
		level = LogInfo
	case 2:
		level = LogError
	default:
		return errnoBadf
	}
	var sb strings.Builder
	for i := uint32(0); i < n; i++ {
		ptr, ok1 := v.mem.ReadUint32Le(iovs + 8*i)
		size, ok2 := v.mem.ReadUint32Le(iovs + 8*i + 4)
		if !ok1 || !ok2 {
			return errnoFault
		}
		b, ok := v.read(ptr, size)
		if !ok {
			return errnoFault
		}
		sb.Write(b)
	}
	out := sb.String()
	written := len(out)
	if written > 0 {
		v.pluginLog(level, strings.TrimSuffix(out, "\n"))
	}
	if !v.writeU32(u32(s[3]), uint32(written)) {
		return errnoFault
	}
	return errnoSuccess
}
