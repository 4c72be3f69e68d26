//go:build wasip1

// Command verifyguest is the benchmark floor for a cache miss: on the same
// binding as scopegate, each request runs only the standard library's bare
// signature check (hash plus crypto/* verify) of a fixed token, for the
// algorithm named in the x-bench-alg request header. Everything a caller of
// crypto/* could precompute (public keys, decoded signatures, the DER form
// of ECDSA signatures) is prepared at configure time.
//
// Plugin configuration: one line per algorithm,
// "<alg> <key> <compact JWS>", where key is, base64 (standard): the HMAC
// secret, the raw Ed25519 key, the uncompressed EC point, or for RSA the
// modulus followed by ":" and the decimal public exponent. (crypto/x509
// would pull os file functions Envoy does not provide into the module.)
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"strconv"
	"strings"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/filter/abi"
)

func init() { abi.SetVMContext(&vmContext{}) }

// main is never called in a c-shared (reactor) module.
func main() {}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct{ types.DefaultPluginContext }

// verifiers maps an algorithm name to its prepared check.
var verifiers = map[string]func() bool{}

func (*pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	data, err := abi.GetPluginConfiguration()
	if err != nil {
		abi.LogError("verifyguest: " + err.Error())
		return types.OnPluginStartStatusFailed
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			abi.LogError("verifyguest: bad line " + line)
			return types.OnPluginStartStatusFailed
		}
		v, err := prepare(f[0], f[1], f[2])
		if err != nil {
			abi.LogError("verifyguest: " + f[0] + ": " + err.Error())
			return types.OnPluginStartStatusFailed
		}
		if !v() {
			abi.LogError("verifyguest: " + f[0] + ": the token does not verify")
			return types.OnPluginStartStatusFailed
		}
		verifiers[f[0]] = v
	}
	return types.OnPluginStartStatusOK
}

func (*pluginContext) NewHttpContext(uint32) types.HttpContext { return stateless }

type httpContext struct{ types.DefaultHttpContext }

var stateless = &httpContext{}

// OnHttpRequestHeaders runs the check; a failed one is answered 401 so the
// benchmark notices.
func (*httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	alg, err := abi.GetHttpRequestHeader("x-bench-alg")
	if v := verifiers[alg]; err != nil || v == nil || !v() {
		_ = abi.SendHttpResponse(401, nil, nil, -1)
		return types.ActionPause
	}
	return types.ActionContinue
}

func hashOf(alg string) crypto.Hash {
	switch alg[2:] {
	case "384":
		return crypto.SHA384
	case "512":
		return crypto.SHA512
	}
	return crypto.SHA256
}

// sum hashes msg into buf (no allocation), like a caller of crypto/* would.
func sum(h crypto.Hash, msg []byte, buf *[64]byte) []byte {
	switch h {
	case crypto.SHA384:
		*(*[48]byte)(buf[:48]) = sha512.Sum384(msg)
		return buf[:48]
	case crypto.SHA512:
		*buf = sha512.Sum512(msg)
		return buf[:]
	}
	*(*[32]byte)(buf[:32]) = sha256.Sum256(msg)
	return buf[:32]
}

func prepare(alg, keyB64, token string) (func() bool, error) {
	dot := strings.LastIndexByte(token, '.')
	input := []byte(token[:dot])
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if err != nil {
		return nil, err
	}
	h := hashOf(alg)
	if strings.HasPrefix(alg, "HS") {
		keyBytes, err := base64.StdEncoding.DecodeString(keyB64)
		if err != nil {
			return nil, err
		}
		return func() bool {
			var buf [64]byte
			m := hmac.New(h.New, keyBytes)
			m.Write(input)
			return hmac.Equal(m.Sum(buf[:0]), sig)
		}, nil
	}
	pub, err := publicKey(alg, keyB64)
	if err != nil {
		return nil, err
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if strings.HasPrefix(alg, "PS") {
			opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
			return func() bool {
				var buf [64]byte
				return rsa.VerifyPSS(k, h, sum(h, input, &buf), sig, opts) == nil
			}, nil
		}
		return func() bool {
			var buf [64]byte
			return rsa.VerifyPKCS1v15(k, h, sum(h, input, &buf), sig) == nil
		}, nil
	case *ecdsa.PublicKey:
		n := len(sig) / 2
		der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
		if err != nil {
			return nil, err
		}
		return func() bool {
			var buf [64]byte
			return ecdsa.VerifyASN1(k, sum(h, input, &buf), der)
		}, nil
	case ed25519.PublicKey:
		return func() bool { return ed25519.Verify(k, input, sig) }, nil
	}
	return nil, errUnsupported
}

type unsupported struct{}

func (unsupported) Error() string { return "unsupported key type" }

var errUnsupported error = unsupported{}

// publicKey decodes the key field of a configuration line.
func publicKey(alg, field string) (any, error) {
	b64, exp, isRSA := strings.Cut(field, ":")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, err
	}
	switch {
	case isRSA:
		e, err := strconv.Atoi(exp)
		if err != nil {
			return nil, err
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(raw), E: e}, nil
	case alg == "EdDSA":
		return ed25519.PublicKey(raw), nil
	case alg == "ES256":
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	case alg == "ES384":
		return ecdsa.ParseUncompressedPublicKey(elliptic.P384(), raw)
	case alg == "ES512":
		return ecdsa.ParseUncompressedPublicKey(elliptic.P521(), raw)
	}
	return nil, errUnsupported
}
