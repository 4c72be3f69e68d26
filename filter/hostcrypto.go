package filter

// Signatures checked by the proxy's own crypto (docs/host-crypto.md).
// Envoy 1.30 and later register the foreign function verify_signature,
// reached through proxy_call_foreign_function: it verifies RSASSA-PKCS1-v1_5
// and DER ECDSA signatures with Envoy's BoringSSL (its FIPS module in FIPS
// builds), 10-50x faster than Go compiled to wasm. The jwt package judges
// everything but the math first and hands RS*/ES* signatures to the
// Verifier below (jwt.Verifier); PS*, EdDSA and HS* stay in Go.
//
// Calling the function is only safe where it exists or answers NotFound:
// Kong's ngx_wasm_module traps the VM on any foreign function it does not
// know. So before the first call the filter asks whether the host is
// Envoy, by two properties ngx_wasm_module does not have (plugin_vm_id:
// "not yet implemented"; xds.node: no xDS at all) and Envoy 1.30+ answers in
// on_configure, then probes verify_signature with arguments that cannot
// parse: Envoy answers BadArgument without doing any crypto, an Envoy
// without the function NotFound.

import (
	"errors"
	"strconv"
	"strings"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/jwt"
)

// HostCrypto is the host_crypto setting (DESIGN §3).
type HostCrypto uint8

// The host_crypto values.
const (
	// HostCryptoAuto sends RS*/ES* checks to the proxy's verify_signature
	// where the host is Envoy and has it, and checks in Go otherwise.
	HostCryptoAuto HostCrypto = iota
	// HostCryptoRequire checks RS*/ES* with verify_signature only, never in
	// Go: configure fails where the host lacks it or an algorithm it cannot
	// check is allowed.
	HostCryptoRequire
	// HostCryptoOff checks every signature in Go.
	HostCryptoOff
)

var hostCryptoNames = [...]string{HostCryptoAuto: "auto", HostCryptoRequire: "require", HostCryptoOff: "off"}

// String returns the configuration spelling.
func (m HostCrypto) String() string {
	if int(m) < len(hostCryptoNames) {
		return hostCryptoNames[m]
	}
	return "host_crypto(" + strconv.Itoa(int(m)) + ")"
}

// parseHostCrypto reads the setting's spelling.
func parseHostCrypto(s string) (HostCrypto, bool) {
	for m, name := range hostCryptoNames {
		if s == name {
			return HostCrypto(m), true
		}
	}
	return 0, false
}

// verifySignatureFunction is Envoy's foreign function.
const verifySignatureFunction = "verify_signature"

// probeArguments cannot parse as VerifySignatureArguments: field 1
// (hash_function) claims 127 bytes and none follow.
var probeArguments = []byte{0x0a, 0x7f}

// hostSignatures is what one VM knows about the proxy's verify_signature.
// The VM's plugin contexts share it: the question is asked once per VM, and
// a NotFound or Unimplemented answer later turns it off for the VM's life.
type hostSignatures struct {
	probed    bool
	available bool
	why       string // why it is not available, for the log
}

// probe finds out, once per VM, whether verify_signature can be called.
func (hs *hostSignatures) probe() {
	if hs.probed {
		return
	}
	hs.probed = true
	for _, path := range [][]string{{"plugin_vm_id"}, {"xds", "node"}} {
		if _, err := abi.GetProperty(path); err != nil {
			hs.why = "the host does not look like Envoy 1.30 or later (property " + strings.Join(path, ".") + ": " + err.Error() + ")"
			return
		}
	}
	_, err := abi.CallForeignFunction(verifySignatureFunction, probeArguments)
	switch {
	case err == nil, errors.Is(err, types.ErrorStatusBadArgument):
		hs.available = true
	default:
		hs.why = "the proxy's verify_signature answered " + statusName(err)
	}
}

// statusName names a host status error in a log line.
func statusName(err error) string {
	switch {
	case errors.Is(err, types.ErrorStatusNotFound):
		return "NotFound (the function does not exist in this proxy)"
	case errors.Is(err, types.ErrorUnimplemented):
		return "Unimplemented"
	case errors.Is(err, types.ErrorStatusBadArgument):
		return "BadArgument"
	case errors.Is(err, types.ErrorInternalFailure):
		return "InternalFailure"
	}
	return err.Error()
}

// startHostCrypto applies host_crypto at configure time: it probes the host
// when the mode may use it, says once (per VM and plugin) which path
// signatures take, and fails on "require" without verify_signature.
func (pc *pluginContext) startHostCrypto(hs *hostSignatures) error {
	mode := pc.cfg.HostCrypto
	pc.hostSigs = hs
	if mode == HostCryptoOff {
		abi.LogInfo(`host_crypto "off": every token signature is checked in Go`)
		return nil
	}
	hs.probe()
	switch {
	case !hs.available && mode == HostCryptoRequire:
		return errors.New(`host_crypto: "require", but ` + hs.why)
	case !hs.available:
		abi.LogInfo(`host_crypto "auto": every token signature is checked in Go: ` + hs.why)
		return nil
	}
	pc.verifier = &hostVerifier{plugin: pc}
	others := "the others in Go"
	if mode == HostCryptoRequire {
		others = "no algorithm is checked in Go"
	}
	abi.LogInfo(`host_crypto "` + mode.String() + `": ` + jwt.NativeAlgs.String() +
		" token signatures are checked by the proxy's verify_signature, " + others)
	return nil
}

// verifySignature is KeySet.VerifyWith with this plugin's verifier, counting
// who checked each signature. Other signatures (a DPoP proof, say) take the
// same path with Key.CheckSignature(..., pc.verifier) and countChecks.
func (pc *pluginContext) verifySignature(set *jwt.KeySet, t *jwt.Token, allowed jwt.AlgSet) (*jwt.Key, error) {
	key, checks, err := set.VerifyWith(t, allowed, pc.verifier)
	pc.countChecks(checks)
	return key, err
}

// countChecks adds signature checks to scopegate.signature.{host,guest}.
func (pc *pluginContext) countChecks(c jwt.Checks) {
	if c.Native > 0 {
		pc.m.signatureHost.Increment(uint64(c.Native))
	}
	if c.Go > 0 {
		pc.m.signatureGuest.Increment(uint64(c.Go))
	}
}

// hostVerifier is the jwt.Verifier that asks the proxy's verify_signature.
type hostVerifier struct {
	plugin *pluginContext
	args   []byte // the arguments of the last call, reused
}

// VerifySignature asks the proxy. Only Ok with result true is Valid, and
// Ok with result false Invalid. NotFound or Unimplemented turn the proxy's
// crypto off for the rest of the VM's life (said once in the log); any
// other status or an answer Envoy would not give leaves this signature to
// Go. With host_crypto "require" Go is never asked: such a signature is
// Unverifiable.
func (v *hostVerifier) VerifySignature(hash string, spki, sig, signed []byte) jwt.Verdict {
	pc := v.plugin
	if !pc.hostSigs.available {
		return v.unchecked()
	}
	v.args = appendVerifyArguments(v.args[:0], hash, spki, sig, signed)
	out, err := abi.CallForeignFunction(verifySignatureFunction, v.args)
	if err == nil {
		if valid, ok := decodeVerifyResult(out); ok {
			if valid {
				return jwt.Valid
			}
			return jwt.Invalid
		}
		err = errMalformedResult
	}
	pc.m.signatureHostError.Increment(1)
	if errors.Is(err, types.ErrorStatusNotFound) || errors.Is(err, types.ErrorUnimplemented) {
		pc.hostSigs.available = false
		pc.hostSigs.why = "the proxy's verify_signature answered " + statusName(err)
		if pc.cfg.HostCrypto == HostCryptoRequire {
			abi.LogError(pc.hostSigs.why + `: tokens are answered 503 for the rest of this VM's life (host_crypto "require")`)
		} else {
			abi.LogWarn(pc.hostSigs.why + ": token signatures are checked in Go for the rest of this VM's life")
		}
	} else if abi.LogEnabled(abi.LogLevelDebug) {
		abi.LogDebug("the proxy's verify_signature failed (" + statusName(err) + "); this signature is checked without it")
	}
	return v.unchecked()
}

var errMalformedResult = errors.New("an answer that is not a VerifySignatureResult")

// unchecked is the verdict for a signature the proxy did not check.
func (v *hostVerifier) unchecked() jwt.Verdict {
	if v.plugin.cfg.HostCrypto == HostCryptoRequire {
		return jwt.Unverifiable
	}
	return jwt.Fallback
}

// The protobuf messages of verify_signature, encoded and decoded by hand
// (no reflection in the wasm):
//
//	VerifySignatureArguments {string hash_function = 1; bytes public_key = 2;
//	                          bytes signature = 3; bytes text = 4;}
//	VerifySignatureResult    {bool result = 1; string error = 2;}

// appendVerifyArguments encodes the arguments: each field is a tag byte
// (field number << 3 | wire type 2), a varint length and the bytes.
func appendVerifyArguments(dst []byte, hash string, key, sig, text []byte) []byte {
	dst = append(dst, 1<<3|2)
	dst = appendVarint(dst, uint64(len(hash)))
	dst = append(dst, hash...)
	dst = appendLengthDelimited(dst, 2<<3|2, key)
	dst = appendLengthDelimited(dst, 3<<3|2, sig)
	return appendLengthDelimited(dst, 4<<3|2, text)
}

func appendLengthDelimited(dst []byte, tag byte, b []byte) []byte {
	dst = append(dst, tag)
	dst = appendVarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendVarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// readVarint decodes a varint at the start of b; n is 0 when b ends inside
// it or it overflows 64 bits.
func readVarint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		if i == 9 && b[i] > 1 {
			return 0, 0
		}
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// decodeVerifyResult reads a VerifySignatureResult. ok is false for
// anything Envoy does not write: a malformed encoding, a group, and a false
// result without an error message (Envoy always says why). Unknown fields
// and known fields with another wire type are skipped, as protobuf does;
// the last result field wins.
func decodeVerifyResult(b []byte) (valid, ok bool) {
	hasError := false
	for len(b) > 0 {
		tag, n := readVarint(b)
		if n == 0 || tag>>3 == 0 || tag>>3 > 1<<29-1 {
			return false, false
		}
		b = b[n:]
		field := tag >> 3
		switch tag & 7 {
		case 0: // varint
			x, n := readVarint(b)
			if n == 0 {
				return false, false
			}
			if field == 1 {
				valid = x != 0
			}
			b = b[n:]
		case 1: // fixed64
			if len(b) < 8 {
				return false, false
			}
			b = b[8:]
		case 2: // length-delimited
			l, n := readVarint(b)
			if n == 0 || l > uint64(len(b)-n) {
				return false, false
			}
			if field == 2 {
				hasError = l > 0
			}
			b = b[n+int(l):]
		case 5: // fixed32
			if len(b) < 4 {
				return false, false
			}
			b = b[4:]
		default: // groups, reserved wire types
			return false, false
		}
	}
	if !valid && !hasError {
		return false, false
	}
	return valid, true
}
