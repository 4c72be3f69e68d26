// Package envoycrypto answers Envoy's verify_signature foreign function the
// way Envoy 1.30 to 1.36 does, with Go's crypto instead of BoringSSL. Like
// Envoy it verifies a signature over bytes and knows nothing of tokens.
//
// What it reproduces, from Envoy's source/extensions/common/wasm/foreign.cc
// and source/common/crypto/utility_impl.cc of those releases:
//
//   - The arguments are a serialized VerifySignatureArguments {string
//     hash_function = 1; bytes public_key = 2; bytes signature = 3; bytes
//     text = 4;}. If they do not parse, the status is BadArgument and no
//     result is written. (Field 5, public_key_pem, exists from 1.37 on;
//     here, as in 1.30-1.36, it is an unknown field and ignored.)
//   - Otherwise the status is Ok and the result is a serialized
//     VerifySignatureResult {bool result = 1; string error = 2;}.
//   - hash_function is compared case-insensitively with sha1, sha224,
//     sha256, sha384 and sha512; any other name is result false, error
//     "<name> is not supported.".
//   - public_key is a DER SubjectPublicKeyInfo (bytes after it are
//     ignored, as EVP_parse_public_key leaves them). A key that does not
//     parse, or one that cannot verify with a digest (Ed25519), is result
//     false, error "Failed to initialize digest verify.".
//   - RSA keys verify RSASSA-PKCS1-v1_5 only (EVP's default padding); EC
//     keys verify a DER ECDSA-Sig-Value over the digest of text. A
//     signature that does not verify is result false, error "Failed to
//     verify digest. Error code: 0"; a valid one result true, no error.
//
// Where Go and BoringSSL differ, it is at edges scopegate never sends: key
// types BoringSSL might also parse (DSA, X25519) are answered like an
// unusable key here, and Go refuses RSA keys under 1024 bits.
package envoycrypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"unicode/utf8"

	// The hashes verify_signature names; crypto.Hash.New panics for one
	// that was never linked in.
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"

	"google.golang.org/protobuf/encoding/protowire"
)

// Status is a proxy-wasm status code.
type Status uint32

// The statuses VerifySignature answers.
const (
	StatusOK          Status = 0
	StatusBadArgument Status = 2
)

// Result is a decoded VerifySignatureResult.
type Result struct {
	Valid bool
	Error string
}

// Error messages of Envoy's crypto utility (1.30-1.36).
const (
	msgInitFailed   = "Failed to initialize digest verify."
	msgVerifyFailed = "Failed to verify digest. Error code: 0"
)

// arguments is a decoded VerifySignatureArguments.
type arguments struct {
	hash                  string
	key, signature, input []byte
}

// VerifySignature answers one verify_signature call: args is the
// serialized VerifySignatureArguments; the answer is the serialized
// VerifySignatureResult (nil with BadArgument).
func VerifySignature(args []byte) ([]byte, Status) {
	a, ok := parseArguments(args)
	if !ok {
		return nil, StatusBadArgument
	}
	return EncodeResult(verify(a)), StatusOK
}

// parseArguments decodes the arguments as protobuf's C++ parser does for
// this proto3 message: the last occurrence of a field wins, a field with an
// unexpected wire type or an unknown number is skipped, and a malformed
// encoding (truncation, field number 0, a stray end-group, a reserved wire
// type) or a hash_function that is not UTF-8 fails the parse.
func parseArguments(b []byte) (arguments, bool) {
	var a arguments
	ok := walkMessage(b, func(num protowire.Number, typ protowire.Type, rest []byte) int {
		if typ != protowire.BytesType || num < 1 || num > 4 {
			return 0
		}
		v, m := protowire.ConsumeBytes(rest)
		switch {
		case m < 0:
		case num == 1:
			if !utf8.Valid(v) {
				return -1
			}
			a.hash = string(v)
		case num == 2:
			a.key = v
		case num == 3:
			a.signature = v
		default:
			a.input = v
		}
		return m
	})
	return a, ok
}

// walkMessage reads the fields of a serialized message in order. take is
// offered each field (its number, wire type and the bytes after its tag)
// and answers how many bytes its value took (negative: malformed), or 0 to
// have the field skipped as protobuf skips one it does not know. It reports
// whether the whole message was well formed.
func walkMessage(b []byte, take func(num protowire.Number, typ protowire.Type, rest []byte) int) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return false
		}
		b = b[n:]
		m := take(num, typ, b)
		if m == 0 {
			m = protowire.ConsumeFieldValue(num, typ, b)
		}
		if m < 0 {
			return false
		}
		b = b[m:]
	}
	return true
}

// hashByName is EVP's digest for a verify_signature hash name, compared
// case-insensitively (ASCII only, like absl::AsciiStrToLower).
func hashByName(name string) crypto.Hash {
	lower := make([]byte, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower) {
	case "sha1":
		return crypto.SHA1
	case "sha224":
		return crypto.SHA224
	case "sha256":
		return crypto.SHA256
	case "sha384":
		return crypto.SHA384
	case "sha512":
		return crypto.SHA512
	}
	return 0
}

func verify(a arguments) Result {
	h := hashByName(a.hash)
	if h == 0 {
		return Result{Error: a.hash + " is not supported."}
	}
	pub := parsePublicKey(a.key)
	d := h.New()
	d.Write(a.input)
	digest := d.Sum(nil)
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(pub, h, digest, a.signature) == nil {
			return Result{Valid: true}
		}
	case *ecdsa.PublicKey:
		if ecdsa.VerifyASN1(pub, digest, a.signature) {
			return Result{Valid: true}
		}
	default:
		// No key, or one EVP cannot verify with a digest (Ed25519).
		return Result{Error: msgInitFailed}
	}
	return Result{Error: msgVerifyFailed}
}

// parsePublicKey reads the first DER element of der as a
// SubjectPublicKeyInfo and ignores what follows, as EVP_parse_public_key
// does. It returns nil when there is no usable key.
func parsePublicKey(der []byte) any {
	var first asn1.RawValue
	if _, err := asn1.Unmarshal(der, &first); err != nil {
		return nil
	}
	pub, err := x509.ParsePKIXPublicKey(first.FullBytes)
	if err != nil {
		return nil
	}
	return pub
}

// EncodeResult serializes a VerifySignatureResult (proto3: default values
// are left out).
func EncodeResult(r Result) []byte {
	var b []byte
	if r.Valid {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	if r.Error != "" {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, r.Error)
	}
	return b
}

// EncodeArguments serializes a VerifySignatureArguments with fields 1 to
// 4, for tests and tools that play the guest's part.
func EncodeArguments(hash string, key, signature, text []byte) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, hash)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, key)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendBytes(b, signature)
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	return protowire.AppendBytes(b, text)
}

// DecodeResult reads a serialized VerifySignatureResult by protobuf's
// rules (unknown fields and groups skipped, the last occurrence of a field
// wins), for tests and tools that play the guest's part.
func DecodeResult(b []byte) (Result, bool) {
	var r Result
	ok := walkMessage(b, func(num protowire.Number, typ protowire.Type, rest []byte) int {
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, m := protowire.ConsumeVarint(rest)
			r.Valid = v != 0
			return m
		case num == 2 && typ == protowire.BytesType:
			v, m := protowire.ConsumeString(rest)
			r.Error = v
			return m
		}
		return 0
	})
	return r, ok
}
