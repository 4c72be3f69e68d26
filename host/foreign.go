package host

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/scopegate/scopegate/host/envoycrypto"
)

// VerifySignatureMode says what proxy_call_foreign_function answers, so
// tests can play each kind of proxy a filter meets.
type VerifySignatureMode int

const (
	// VerifySignaturePresent plays Envoy 1.30 and later: the foreign
	// function verify_signature answers as Envoy 1.30-1.36 do
	// (host/envoycrypto), any other name is NotFound. The default.
	VerifySignaturePresent VerifySignatureMode = iota
	// VerifySignatureAbsent plays an Envoy without verify_signature: every
	// foreign function is NotFound.
	VerifySignatureAbsent
	// VerifySignatureUnimplemented answers every foreign call with
	// Unimplemented (12), as APISIX and MOSN-based hosts do.
	VerifySignatureUnimplemented
	// VerifySignatureTrap plays Kong's ngx_wasm_module: any foreign
	// function it does not know (all of them, here) traps the VM, and
	// Envoy's plugin_vm_id and xds.* properties do not exist (a dotted path
	// outside a request is InternalFailure, as there).
	VerifySignatureTrap
)

var verifySignatureModeNames = [...]string{
	VerifySignaturePresent:       "present",
	VerifySignatureAbsent:        "absent",
	VerifySignatureUnimplemented: "unimplemented",
	VerifySignatureTrap:          "trap",
}

// String names the mode the way the CLI flag spells it.
func (m VerifySignatureMode) String() string {
	if m >= 0 && int(m) < len(verifySignatureModeNames) {
		return verifySignatureModeNames[m]
	}
	return fmt.Sprintf("VerifySignatureMode(%d)", int(m))
}

// ParseVerifySignatureMode parses present, absent, unimplemented or trap.
func ParseVerifySignatureMode(s string) (VerifySignatureMode, error) {
	for m, name := range verifySignatureModeNames {
		if strings.EqualFold(s, name) {
			return VerifySignatureMode(m), nil
		}
	}
	if s == "" {
		return VerifySignaturePresent, nil
	}
	return 0, fmt.Errorf("verify_signature mode %q: want present, absent, unimplemented or trap", s)
}

// unknownForeignFunction is the panic value that traps a VM calling a
// foreign function in VerifySignatureTrap mode, as ngx_wasm_module does.
type unknownForeignFunction struct{ name string }

func (u unknownForeignFunction) Error() string { return "unknown foreign function " + u.name }

// callForeignFunction is proxy_call_foreign_function(name, name_size, args,
// args_size, results, results_size). Like proxy-wasm-cpp-host, a found
// function's answer goes through the guest allocator, and the result slots
// are written whatever the function's status; NotFound writes nothing.
func (v *vm) callForeignFunction(s []uint64) uint32 {
	name, ok1 := v.read(u32(s[0]), u32(s[1]))
	args, ok2 := v.read(u32(s[2]), u32(s[3]))
	if !ok1 || !ok2 {
		return statusInvalidMemoryAccess
	}
	v.h.foreignCalls.Add(1)
	switch v.h.cfg.VerifySignature {
	case VerifySignatureTrap:
		panic(unknownForeignFunction{string(name)})
	case VerifySignatureUnimplemented:
		return statusUnimplemented
	case VerifySignatureAbsent:
		return statusNotFound
	}
	if string(name) != "verify_signature" {
		return statusNotFound
	}
	out, st := envoycrypto.VerifySignature(args)
	if st != envoycrypto.StatusOK {
		if !v.writeU32(u32(s[4]), 0) || !v.writeU32(u32(s[5]), 0) {
			return statusInvalidMemoryAccess
		}
		return uint32(st)
	}
	return v.returnBytes(out, u32(s[4]), u32(s[5]))
}

// ForeignCalls returns how many times guests called
// proxy_call_foreign_function (whatever the answer).
func (h *Host) ForeignCalls() int { return int(h.foreignCalls.Load()) }

// envoyOnlyProperty answers the properties only Envoy has, in the mode
// that plays ngx_wasm_module (handled false: answer as Envoy does).
func (v *vm) envoyOnlyProperty(key string) (status uint32, handled bool) {
	if v.h.cfg.VerifySignature != VerifySignatureTrap {
		return 0, false
	}
	if key != "plugin_vm_id" && key != "xds" && !strings.HasPrefix(key, "xds.") {
		return 0, false
	}
	if strings.Contains(key, ".") && v.effectiveStream() == nil {
		return statusInternalFailure, true // "cannot get scoped properties outside of a request"
	}
	return statusNotFound, true
}

// nodeProperty is the xds.node property: Envoy's bootstrap Node message
// (id = 1, cluster = 2), serialized.
var nodeProperty = func() []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, "scopegate-proxy")
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendString(b, "local")
}()
