package jwt

// Verifier checks signatures with cryptography outside this package — a
// proxy's own, FIPS-validated and many times faster than Go compiled to
// wasm. It only does the math: the key, the algorithm bound to it, the
// signature's length and range are all judged by this package before it is
// asked (see Key.CheckSignature), so the Verifier needs to know nothing of
// JWTs and this package nothing of proxies.
//
// It is asked about RS256/384/512 and ES256/384/512 only (NativeAlgs): hash
// is "sha256", "sha384" or "sha512"; spki is the key's DER
// SubjectPublicKeyInfo; sig is the RSASSA-PKCS1-v1_5 signature for an RSA
// key, the DER ECDSA-Sig-Value (converted from the JWS R || S) for an EC
// key; signed is the JWS signing input. It must not keep or modify the
// slices.
type Verifier interface {
	VerifySignature(hash string, spki, sig, signed []byte) Verdict
}

// Verdict is a Verifier's answer about one signature.
type Verdict uint8

// The answers a Verifier can give.
const (
	// Fallback: the Verifier did not check the signature (no native
	// crypto, an error, an answer it could not read); Go checks it.
	Fallback Verdict = iota
	// Valid: the signature verifies.
	Valid
	// Invalid: the signature does not verify. Go is not asked.
	Invalid
	// Unverifiable: the Verifier could not check the signature and Go must
	// not either (a deployment that allows only the native crypto). The
	// signature counts as neither valid nor known invalid.
	Unverifiable
)

// NativeAlgs are the algorithms a Verifier is asked about: the ones whose
// signatures a proxy's verify_signature can check (RSASSA-PKCS1-v1_5 and
// ECDSA). RSASSA-PSS, EdDSA and HMAC are always checked in Go.
const NativeAlgs AlgSet = 1<<RS256 | 1<<RS384 | 1<<RS512 | 1<<ES256 | 1<<ES384 | 1<<ES512

// Check is the outcome of one signature check (Key.CheckSignature).
type Check struct {
	// Valid: the signature verifies.
	Valid bool
	// Native: the Verifier decided; otherwise this package did, in Go (a
	// signature rejected before any cryptography counts as Go's).
	Native bool
	// Failed: the Verifier answered Unverifiable; nobody decided.
	Failed bool
}

// Checks counts the signature checks of one verification by who made them;
// Unverifiable answers are in neither.
type Checks struct {
	Native, Go int
}

// hashName is the name a Verifier gets for the hash of a NativeAlgs
// algorithm ("" for the others).
func (a Alg) hashName() string {
	switch a {
	case RS256, ES256:
		return "sha256"
	case RS384, ES384:
		return "sha384"
	case RS512, ES512:
		return "sha512"
	}
	return ""
}
