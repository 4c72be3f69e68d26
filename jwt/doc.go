// Package jwt is scopegate's JOSE core: strict compact JWS parsing, JWKS
// parsing into ready-to-use public keys, signature verification with the
// algorithm bound to the key, registered-claim checks, and scope and claim
// lookups for authorization.
//
// It knows nothing about proxies. It is compiled into the wasm filter, so the
// request path (Parse, KeySet.Verify, Validator.Validate, Scopes,
// ClaimContains, ClaimHeaderValue) avoids encoding/json, fmt and reflection
// and allocates little: JSON is read by a small strict scanner in this
// package, and decoded strings point into the token's own buffers.
//
// Everything that comes from a token is untrusted: sizes and nesting depth are
// bounded, duplicate JSON member names are rejected (a parser differential
// between this package and whoever reads the payload next would be a bypass),
// and errors never echo token content.
package jwt
