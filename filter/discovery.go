package filter

// Reading an OpenID Connect discovery document (OpenID Connect Discovery 1.0
// §3): only "issuer" and "jwks_uri" matter here.

import (
	"errors"

	"github.com/tidwall/gjson"
)

// parseDiscovery returns the document's issuer and jwks_uri. The document
// must be a JSON object naming each of them once, as a non-empty string; a
// repeated member is rejected rather than letting parsers disagree on it.
func parseDiscovery(doc []byte) (issuer, jwksURI string, err error) {
	if !gjson.ValidBytes(doc) {
		return "", "", errors.New("not valid JSON")
	}
	root := gjson.ParseBytes(doc)
	if !root.IsObject() {
		return "", "", errors.New("not a JSON object")
	}
	var seenIssuer, seenJWKS int
	var bad error
	root.ForEach(func(k, v gjson.Result) bool {
		var dst *string
		switch k.String() {
		case "issuer":
			seenIssuer++
			dst = &issuer
		case "jwks_uri":
			seenJWKS++
			dst = &jwksURI
		default:
			return true
		}
		if v.Type != gjson.String || v.Str == "" {
			bad = errors.New(k.String() + " is not a non-empty string")
			return false
		}
		*dst = v.Str
		return true
	})
	switch {
	case bad != nil:
		return "", "", bad
	case seenIssuer == 0:
		return "", "", errors.New("no issuer")
	case seenJWKS == 0:
		return "", "", errors.New("no jwks_uri")
	case seenIssuer > 1 || seenJWKS > 1:
		return "", "", errors.New("issuer or jwks_uri appears more than once")
	}
	return issuer, jwksURI, nil
}
