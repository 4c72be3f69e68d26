package jwt

import (
	"crypto/rsa"
	"math/big"
)

// A key's DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) is what a native
// verifier is handed (see Verifier). It is built once when the key is
// parsed, by hand: crypto/x509 would link file-system code into the wasm
// module that Envoy's WASI does not provide.

// DER object identifiers, tag and length included.
var (
	oidRSAEncryption = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01} // 1.2.840.113549.1.1.1
	derNull          = []byte{0x05, 0x00}
	oidECPublicKey   = []byte{0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01}       // 1.2.840.10045.2.1
	oidP256          = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07} // 1.2.840.10045.3.1.7
	oidP384          = []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}                   // 1.3.132.0.34
	oidP521          = []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}                   // 1.3.132.0.35
)

// DER tags used below.
const (
	derInteger   = 0x02
	derBitString = 0x03
	derSequence  = 0x30
)

// derLenSize is how many bytes the DER length of n takes (n < 65536).
func derLenSize(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n < 0x100:
		return 2
	}
	return 3
}

// appendHeader appends a tag and the DER length n (definite form).
func appendHeader(dst []byte, tag byte, n int) []byte {
	dst = append(dst, tag)
	switch {
	case n < 0x80:
		return append(dst, byte(n))
	case n < 0x100:
		return append(dst, 0x81, byte(n))
	}
	return append(dst, 0x82, byte(n>>8), byte(n))
}

// tlvSize is the encoded size of a value with n content bytes.
func tlvSize(n int) int { return 1 + derLenSize(n) + n }

// positiveInt returns the minimal big-endian content of a positive INTEGER
// holding b (leading zeros dropped, a 0x00 prefix when the top bit is set)
// as the bytes and whether the prefix is needed.
func positiveInt(b []byte) ([]byte, bool) {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b, len(b) > 0 && b[0]&0x80 != 0
}

func intContentLen(b []byte, pad bool) int {
	if pad {
		return len(b) + 1
	}
	return len(b)
}

func appendInteger(dst, b []byte, pad bool) []byte {
	dst = appendHeader(dst, derInteger, intContentLen(b, pad))
	if pad {
		dst = append(dst, 0)
	}
	return append(dst, b...)
}

// appendSPKI wraps an algorithm identifier (its two DER elements, already
// encoded) and the public key bits into a SubjectPublicKeyInfo.
func appendSPKI(dst []byte, algOID, algParams []byte, key func([]byte) []byte, keyLen int) []byte {
	algLen := len(algOID) + len(algParams)
	bitsLen := 1 + keyLen // the unused-bits byte, then the key
	total := tlvSize(algLen) + tlvSize(bitsLen)
	dst = appendHeader(dst, derSequence, total)
	dst = appendHeader(dst, derSequence, algLen)
	dst = append(dst, algOID...)
	dst = append(dst, algParams...)
	dst = appendHeader(dst, derBitString, bitsLen)
	dst = append(dst, 0)
	return key(dst)
}

// rsaSPKI encodes an RSA public key (RFC 8017 RSAPublicKey, rsaEncryption
// with NULL parameters).
func rsaSPKI(pub *rsa.PublicKey) []byte {
	n, padN := positiveInt(pub.N.Bytes())
	e, padE := positiveInt(big.NewInt(int64(pub.E)).Bytes())
	inner := tlvSize(intContentLen(n, padN)) + tlvSize(intContentLen(e, padE))
	keyLen := tlvSize(inner)
	out := make([]byte, 0, tlvSize(tlvSize(len(oidRSAEncryption)+len(derNull))+tlvSize(1+keyLen)))
	return appendSPKI(out, oidRSAEncryption, derNull, func(dst []byte) []byte {
		dst = appendHeader(dst, derSequence, inner)
		dst = appendInteger(dst, n, padN)
		return appendInteger(dst, e, padE)
	}, keyLen)
}

// ecSPKI encodes an EC public key on a named curve as an uncompressed point
// (RFC 5480). point is 0x04 || X || Y.
func ecSPKI(curveOID, point []byte) []byte {
	out := make([]byte, 0, tlvSize(tlvSize(len(oidECPublicKey)+len(curveOID))+tlvSize(1+len(point))))
	return appendSPKI(out, oidECPublicKey, curveOID, func(dst []byte) []byte {
		return append(dst, point...)
	}, len(point))
}

// curveOID names a curve by its JWK crv.
func curveOID(crv string) []byte {
	switch crv {
	case "P-256":
		return oidP256
	case "P-384":
		return oidP384
	case "P-521":
		return oidP521
	}
	return nil
}

// SPKI returns the key's DER SubjectPublicKeyInfo for RSA and EC keys (nil
// for Ed25519 and HMAC keys, which are only ever checked in Go). The slice
// is shared: callers must not modify it.
func (k *Key) SPKI() []byte { return k.spki }
