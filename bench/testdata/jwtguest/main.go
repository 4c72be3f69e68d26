//go:build wasip1

// Command jwtguest runs pieces of the jwt package inside the VM for
// benchmarks that compare the same code natively and in wasm. Its plugin
// configuration is "<compact JWS>\n<JWKS>"; the export bench_jwt(op, n)
// runs operation op n times and returns the elapsed nanoseconds (0 when an
// operation fails).
package main

import (
	"bytes"
	"encoding/base64"
	"hash/maphash"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tidwall/gjson"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/jwt"
)

func init() { abi.SetVMContext(&vmContext{}) }

// main is never called in a c-shared (reactor) module.
func main() {}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct{ types.DefaultPluginContext }

var (
	raw     string
	token   *jwt.Token
	keys    *jwt.KeySet
	seed    = maphash.MakeSeed()
	allowed = jwt.DefaultAlgs.With(jwt.HS256)
	valid   = jwt.Validator{Issuer: "https://idp.example.com/realms/demo", Audiences: []string{"orders-api"}, ClockSkew: time.Minute, RequireExp: true}
	sink    uint64
	b64     = base64.RawURLEncoding.Strict()
	buf     [16384]byte
)

func (*pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	data, err := abi.GetPluginConfiguration()
	if err != nil {
		return types.OnPluginStartStatusFailed
	}
	tok, set, _ := bytes.Cut(data, []byte("\n"))
	raw = string(tok)
	if token, err = jwt.Parse(raw, 0); err != nil {
		abi.LogError("jwtguest: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	if keys, _, err = jwt.ParseJWKS(set, jwt.JWKSOptions{AllowOct: true}); err != nil {
		abi.LogError("jwtguest: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

// Operations of bench_jwt.
const (
	opParse    = 0 // jwt.Parse
	opVerify   = 1 // KeySet.Verify of the parsed token
	opValidate = 2 // Validator.Validate of its payload
	opScopes   = 3 // jwt.Scopes
	opHash     = 4 // maphash of the whole token (the cache key)
	opSubValue = 5 // jwt.ClaimHeaderValue(payload, "sub")
	opBase64   = 6 // base64url-decoding the three segments (part of Parse)
	// The same reads through the claim index Parse records (issue #14).
	opValidateToken = 7  // Validator.ValidateToken
	opTokenScopes   = 8  // Token.Scopes
	opTokenSub      = 9  // Token.ClaimHeaderValue("sub")
	opTokenIss      = 10 // Token.StringClaim("iss")
	opGJSONIss      = 11 // gjson.GetBytes(payload, "iss"), what the filter read iss with before
	// Where Parse notes the registered claims (issue #14, round 2).
	opTokenIssuer = 12 // Token.Issuer
	opTokenCnf    = 13 // Token.Confirmation
	opReadCnf     = 14 // jwt.ReadConfirmation(payload), what the filter read cnf with before
	opVerifyHost  = 15 // KeySet.VerifyWith through the host's verify_signature
)

// hostVerifier asks the host's verify_signature, as the filter's does
// (arguments encoded into a reused buffer, one foreign call).
type hostVerifier struct{ args []byte }

func (v *hostVerifier) VerifySignature(hash string, spki, sig, signed []byte) jwt.Verdict {
	b := protowire.AppendTag(v.args[:0], 1, protowire.BytesType)
	b = protowire.AppendString(b, hash)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, spki)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendBytes(b, sig)
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	v.args = protowire.AppendBytes(b, signed)
	out, err := abi.CallForeignFunction("verify_signature", v.args)
	switch {
	case err != nil:
		return jwt.Fallback
	case string(out) == "\x08\x01": // result: true
		return jwt.Valid
	}
	return jwt.Invalid
}

var verifier = &hostVerifier{}

//go:wasmexport bench_jwt
func benchJWT(op, n uint32) uint64 {
	now := time.Now()
	for i := uint32(0); i < n; i++ {
		switch op {
		case opParse:
			if _, err := jwt.Parse(raw, 0); err != nil {
				return 0
			}
		case opVerify:
			if _, err := keys.Verify(token, allowed); err != nil {
				return 0
			}
		case opValidate:
			if _, err := valid.Validate(token.Payload, now); err != nil {
				return 0
			}
		case opScopes:
			sink += uint64(len(jwt.Scopes(token.Payload, []string{"scope", "scp"})))
		case opHash:
			sink += maphash.String(seed, raw)
		case opSubValue:
			v, _ := jwt.ClaimHeaderValue(token.Payload, "sub")
			sink += uint64(len(v))
		case opBase64:
			for _, seg := range strings.Split(raw, ".") {
				n, err := b64.Decode(buf[:], []byte(seg))
				if err != nil {
					return 0
				}
				sink += uint64(n)
			}
		case opValidateToken:
			if _, err := valid.ValidateToken(token, now); err != nil {
				return 0
			}
		case opTokenScopes:
			sink += uint64(len(token.Scopes([]string{"scope", "scp"})))
		case opTokenSub:
			v, _ := token.ClaimHeaderValue("sub")
			sink += uint64(len(v))
		case opTokenIss:
			v, _ := token.StringClaim("iss")
			sink += uint64(len(v))
		case opGJSONIss:
			sink += uint64(len(gjson.GetBytes(token.Payload, "iss").Str))
		case opVerifyHost:
			if _, c, err := keys.VerifyWith(token, allowed, verifier); err != nil || c.Native != 1 {
				return 0
			}
		case opTokenIssuer:
			v, _ := token.Issuer()
			sink += uint64(len(v))
		case opTokenCnf:
			if _, err := token.Confirmation(); err != nil {
				return 0
			}
		case opReadCnf:
			if _, err := jwt.ReadConfirmation(token.Payload); err != nil {
				return 0
			}
		default:
			return 0
		}
	}
	return uint64(time.Since(now).Nanoseconds())
}
