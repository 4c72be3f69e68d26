package abi

import (
	"errors"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func TestStatusError(t *testing.T) {
	tests := []struct {
		name   string
		status uint32
		want   error
	}{
		{"OK is no error", statusOK, nil},
		{"NOT_FOUND is the SDK's not-found error", statusNotFound, types.ErrorStatusNotFound},
		{"BAD_ARGUMENT is the SDK's bad-argument error", statusBadArgument, types.ErrorStatusBadArgument},
		{"EMPTY is the SDK's empty error", statusEmpty, types.ErrorStatusEmpty},
		{"CAS_MISMATCH is the SDK's CAS error", statusCasMismatch, types.ErrorStatusCasMismatch},
		{"INTERNAL_FAILURE is the SDK's internal-failure error", statusInternalFailure, types.ErrorInternalFailure},
		{"UNIMPLEMENTED is the SDK's unimplemented error", statusUnimplemented, types.ErrorUnimplemented},
		{"SERIALIZATION_FAILURE has its own error", statusSerializationFail, errSerialization},
		{"PARSE_FAILURE has its own error", statusParseFailure, errParse},
		{"INVALID_MEMORY_ACCESS has its own error", statusInvalidMemoryAccess, errMemoryAccess},
		{"an unknown code names the code", 99, statusCodeError(99)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := statusError(tt.status)
			if !errors.Is(got, tt.want) || (tt.want == nil) != (got == nil) {
				t.Fatalf("statusError(%d) = %v, want %v", tt.status, got, tt.want)
			}
		})
	}
	if got := statusError(99).Error(); got != "error status returned by host: code 99" {
		t.Fatalf("unknown status text = %q", got)
	}
}

func TestLogLevelString(t *testing.T) {
	names := map[LogLevel]string{LogLevelTrace: "trace", LogLevelDebug: "debug", LogLevelInfo: "info",
		LogLevelWarn: "warn", LogLevelError: "error", LogLevelCritical: "critical", 9: "level(9)"}
	for l, want := range names {
		if got := l.String(); got != want {
			t.Errorf("LogLevel(%d).String() = %q, want %q", uint32(l), got, want)
		}
	}
}
