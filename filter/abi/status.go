package abi

import (
	"strconv"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// LogLevel is a proxy-wasm log level (TRACE 0 .. CRITICAL 5).
type LogLevel uint32

// The proxy-wasm log levels.
const (
	LogLevelTrace LogLevel = iota
	LogLevelDebug
	LogLevelInfo
	LogLevelWarn
	LogLevelError
	LogLevelCritical
)

// String names the level the way Envoy prints it.
func (l LogLevel) String() string {
	switch l {
	case LogLevelTrace:
		return "trace"
	case LogLevelDebug:
		return "debug"
	case LogLevelInfo:
		return "info"
	case LogLevelWarn:
		return "warn"
	case LogLevelError:
		return "error"
	case LogLevelCritical:
		return "critical"
	}
	return "level(" + strconv.FormatUint(uint64(l), 10) + ")"
}

// Host status codes (proxy-wasm ABI v0.2.1).
const (
	statusOK                  = 0
	statusNotFound            = 1
	statusBadArgument         = 2
	statusSerializationFail   = 3
	statusParseFailure        = 4
	statusInvalidMemoryAccess = 6
	statusEmpty               = 7
	statusCasMismatch         = 8
	statusInternalFailure     = 10
	statusUnimplemented       = 12
)

// statusError maps a host status to the SDK's error values, so filter code
// compares errors the same way natively and in wasm (errors.Is(err,
// types.ErrorStatusNotFound)). The common statuses return preallocated
// values; only unknown codes allocate.
func statusError(st uint32) error {
	switch st {
	case statusOK:
		return nil
	case statusNotFound:
		return types.ErrorStatusNotFound
	case statusBadArgument:
		return types.ErrorStatusBadArgument
	case statusEmpty:
		return types.ErrorStatusEmpty
	case statusCasMismatch:
		return types.ErrorStatusCasMismatch
	case statusInternalFailure:
		return types.ErrorInternalFailure
	case statusUnimplemented:
		return types.ErrorUnimplemented
	case statusSerializationFail:
		return errSerialization
	case statusParseFailure:
		return errParse
	case statusInvalidMemoryAccess:
		return errMemoryAccess
	}
	return statusCodeError(st)
}

// statusCodeError is a host status without an SDK error value.
type statusCodeError uint32

func (e statusCodeError) Error() string {
	return "error status returned by host: code " + strconv.FormatUint(uint64(e), 10)
}

var (
	errSerialization = statusCodeError(statusSerializationFail)
	errParse         = statusCodeError(statusParseFailure)
	errMemoryAccess  = statusCodeError(statusInvalidMemoryAccess)
)
