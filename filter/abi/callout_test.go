package abi

import (
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func TestCheckCallout(t *testing.T) {
	full := [][2]string{{":method", "GET"}, {":path", "/jwks"}, {":authority", "idp"}, {"accept", "application/json"}}
	without := func(name string) [][2]string {
		var out [][2]string
		for _, kv := range full {
			if kv[0] != name {
				out = append(out, kv)
			}
		}
		return out
	}
	tests := []struct {
		name    string
		cluster string
		headers [][2]string
		timeout uint32
		wantErr string // "" for valid
	}{
		{"a call with the three pseudo headers and a timeout is valid", "idp", full, 3000, ""},
		{"a call without :method is refused", "idp", without(":method"), 3000, "lacks :method"},
		{"a call without :path is refused", "idp", without(":path"), 3000, "lacks :path"},
		{"a call without :authority is refused", "idp", without(":authority"), 3000, "lacks :authority"},
		{"an empty :path counts as missing", "idp", append(without(":path"), [2]string{":path", ""}), 3000, "lacks :path"},
		{"a zero timeout is refused", "idp", full, 0, "needs a timeout"},
		{"an empty cluster is refused", "", full, 3000, "needs a cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkCallout(tt.cluster, tt.headers, tt.timeout)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("checkCallout: %v", err)
				}
				return
			}
			if !errors.Is(err, types.ErrorStatusBadArgument) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("checkCallout = %v, want BAD_ARGUMENT mentioning %q", err, tt.wantErr)
			}
		})
	}
}
