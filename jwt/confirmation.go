package jwt

// Confirmation is what a token's cnf claim (RFC 7800) binds it to, in the
// two forms a resource server can check: the JWK SHA-256 thumbprint of a
// DPoP key (RFC 9449 §6.1, cnf.jkt) and the SHA-256 of a TLS client
// certificate (RFC 8705 §3.1, cnf.x5t#S256), both base64url. Empty strings
// mean no such binding.
type Confirmation struct {
	JKT     string
	X5TS256 string
}

// Bound reports whether the token is bound to any key or certificate.
func (c Confirmation) Bound() bool { return c.JKT != "" || c.X5TS256 != "" }

var (
	errCnfType    = newError(ReasonBadClaim, "token cnf claim is not an object")
	errCnfJKT     = newError(ReasonBadClaim, "token cnf.jkt is not a base64url SHA-256 thumbprint")
	errCnfX5T     = newError(ReasonBadClaim, "token cnf.x5t#S256 is not a base64url SHA-256 digest")
	errCnfUnknown = newError(ReasonBadClaim, "token is bound (cnf) by a method that cannot be checked here")
)

// sha256B64Len is the length of a SHA-256 digest in unpadded base64url.
const sha256B64Len = 43

// ReadConfirmation reads the cnf claim of a payload. A token without cnf,
// or with an empty cnf object, is unbound. A cnf that is not an object, a
// jkt or x5t#S256 that is not the base64url of 32 bytes, or a cnf that
// binds the token only by methods this package cannot check (cnf.jwk,
// cnf.x5t, ...) is an error: a bound token must never pass as a bearer
// token because its binding was not understood. The strings may share
// memory with payload.
func ReadConfirmation(payload []byte) (Confirmation, error) {
	v, ok := member(payload, "cnf")
	return confirmation(v, ok)
}

// Confirmation is ReadConfirmation on the token's payload, finding cnf
// where Parse noted it instead of scanning the payload.
func (t *Token) Confirmation() (Confirmation, error) {
	if t.claims.overflow {
		return ReadConfirmation(t.Payload)
	}
	v, ok := t.registeredValue(t.registered.cnf)
	return confirmation(v, ok)
}

// confirmation reads the cnf claim's value v (present says whether there
// is one).
func confirmation(v []byte, present bool) (Confirmation, error) {
	var c Confirmation
	if !present {
		return c, nil
	}
	if kindOf(v) != kindObject {
		return c, errCnfType
	}
	others := false
	it := newMemberIter(v)
	for {
		name, mv, ok := it.next()
		if !ok {
			break
		}
		switch {
		case name.equalString("jkt"):
			s, ok := sha256Member(mv)
			if !ok {
				return c, errCnfJKT
			}
			c.JKT = s
		case name.equalString("x5t#S256"):
			s, ok := sha256Member(mv)
			if !ok {
				return c, errCnfX5T
			}
			c.X5TS256 = s
		default:
			others = true
		}
	}
	if others && !c.Bound() {
		return c, errCnfUnknown
	}
	return c, nil
}

// sha256Member reads a string that must be the canonical base64url of a
// SHA-256 digest.
func sha256Member(v []byte) (string, bool) {
	s, ok := stringValue(v)
	if !ok || s.escaped || len(s.raw) != sha256B64Len {
		return "", false
	}
	var buf [33]byte
	if out, ok := decodeB64(buf[:], bytesString(s.raw)); !ok || len(out) != 32 {
		return "", false
	}
	return bytesString(s.raw), true
}
