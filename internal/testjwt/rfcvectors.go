package testjwt

import "strings"

// Published JWS test vectors (RFC 7515 appendix A, RFC 7520, RFC 8037) and
// the key set holding their keys.

// Known-answer vectors, used by the jwt tests and the differential tests of
// the proxy's crypto: RFC 7515 appendix A.1 (HS256), A.2 (RS256), A.3
// (ES256) share one payload; RFC 8037 appendix A.4 signs a non-JSON payload.
const (
	RFC7515Payload = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
	RFC7515HSKey   = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
	RFC7515HS256   = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + RFC7515Payload + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	RFC7515RSAN    = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
	RFC7515RS256   = "eyJhbGciOiJSUzI1NiJ9." + RFC7515Payload + ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
	RFC7515ECX     = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
	RFC7515ECY     = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
	RFC7515ES256   = "eyJhbGciOiJFUzI1NiJ9." + RFC7515Payload + ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
	RFC8037X       = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	RFC8037Input   = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
	RFC8037Sig     = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)

// Signature-level vectors whose payloads are text, not claims sets: RFC 7515
// appendix A.4 (ES512 on P-521) and RFC 7520 §4.4 (HS256 with a kid).
const (
	RFC7515P521X   = "AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk"
	RFC7515P521Y   = "ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"
	RFC7515ES512In = "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA"
	RFC7515ES512   = "AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn"
	RFC7520HSKey   = "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"
	RFC7520HS256In = "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9.SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4"
	RFC7520HS256   = "s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0"
)

var RFCJWKS = []byte(`{"keys":[
 {"kty":"oct","kid":"a1","k":"` + RFC7515HSKey + `"},
 {"kty":"RSA","kid":"a2","n":"` + RFC7515RSAN + `","e":"AQAB"},
 {"kty":"EC","kid":"a3","crv":"P-256","x":"` + RFC7515ECX + `","y":"` + RFC7515ECY + `"},
 {"kty":"OKP","kid":"a4","crv":"Ed25519","x":"` + RFC8037X + `"},
 {"kty":"EC","kid":"a5","crv":"P-521","x":"` + RFC7515P521X + `","y":"` + RFC7515P521Y + `"},
 {"kty":"oct","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037","use":"sig","alg":"HS256","k":"` + RFC7520HSKey + `"}
]}`)

// SignatureVector is one published signature: the kid of its key in
// RFCJWKS, its algorithm, the JWS signing input and the base64url
// signature. Token says the input's payload is a claims set, so Input + "."
// + Signature is a JWT; the others sign text.
type SignatureVector struct {
	Name, Kid, Alg, Input, Signature string
	Token                            bool
}

// RFCVectors lists every vector above.
var RFCVectors = func() []SignatureVector {
	token := func(name, kid, alg, raw string) SignatureVector {
		dot := strings.LastIndexByte(raw, '.')
		return SignatureVector{Name: name, Kid: kid, Alg: alg, Input: raw[:dot], Signature: raw[dot+1:], Token: true}
	}
	text := func(name, kid, alg, input, sig string) SignatureVector {
		return SignatureVector{Name: name, Kid: kid, Alg: alg, Input: input, Signature: sig}
	}
	return []SignatureVector{
		token("RFC 7515 A.1 HS256", "a1", "HS256", RFC7515HS256),
		token("RFC 7515 A.2 RS256", "a2", "RS256", RFC7515RS256),
		token("RFC 7515 A.3 ES256", "a3", "ES256", RFC7515ES256),
		text("RFC 7515 A.4 ES512", "a5", "ES512", RFC7515ES512In, RFC7515ES512),
		text("RFC 8037 A.4 Ed25519", "a4", "EdDSA", RFC8037Input, RFC8037Sig),
		text("RFC 7520 4.4 HS256", "018c0ae5-4d9b-471b-bfd6-eef314bc7037", "HS256", RFC7520HS256In, RFC7520HS256),
	}
}()
