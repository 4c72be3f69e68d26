package filter

// Certificate-bound tokens (RFC 8705 §3): a token whose cnf.x5t#S256 names
// a client certificate is accepted only on a request made with that
// certificate. The certificate's SHA-256 comes from the connection (Envoy's
// attribute connection.sha256_peer_certificate_digest, lower-case hex of
// the DER's SHA-256) or, when client_cert_header is configured, only from
// that header (for XFCC the Hash= of its last element), which a
// TLS-terminating front must set and overwrite.

import (
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/scopegate/scopegate/filter/abi"
)

// CertificatePolicy is a provider's certificate_bound block with its
// defaults applied.
type CertificatePolicy struct {
	// Required: every token must be certificate-bound (mode "required").
	// Otherwise unbound tokens pass and bound ones need their certificate.
	Required bool
	// ClientCertHeader is the lower-case name of the trusted header that
	// carries the client certificate's hash; "" reads the connection.
	ClientCertHeader string
}

// peerCertificateDigest is the Envoy attribute holding the hex SHA-256 of
// the downstream TLS peer certificate.
var peerCertificateDigest = []string{"connection", "sha256_peer_certificate_digest"}

// certificateBound parses a provider's certificate_bound block.
func (p *configParser) certificateBound(path string, r gjson.Result) CertificatePolicy {
	var pol CertificatePolicy
	if !r.Exists() || !p.object(path, r, "mode", "client_cert_header") {
		return pol
	}
	pol.Required = p.mode(join(path, "mode"), member(r, "mode"))
	if hdr := member(r, "client_cert_header"); hdr.Exists() && !(hdr.Type == gjson.String && hdr.Str == "") {
		pol.ClientCertHeader = p.headerName(join(path, "client_cert_header"), hdr)
	}
	return pol
}

// checkCertificate applies the token's provider's certificate policy: nil
// lets the request on; a mismatch is 401 invalid_token (DESIGN §4).
func (h *httpContext) checkCertificate(vt *verifiedToken, headers headerList) *denial {
	pol := &vt.provider.CertificateBound
	if vt.cnf.X5TS256 == "" {
		if pol.Required {
			return certDenial(vt, "the token is not certificate-bound", "certificate_bound mode is required")
		}
		return nil
	}
	digest, from := h.clientCertDigest(pol, headers)
	switch {
	case digest == nil:
		return certDenial(vt, "the token is bound to a client certificate the request does not present", "no client certificate in "+from)
	case base64.RawURLEncoding.EncodeToString(digest) != vt.cnf.X5TS256:
		return certDenial(vt, "the token is bound to another client certificate", "the client certificate in "+from+" does not match cnf.x5t#S256")
	}
	return nil
}

func certDenial(vt *verifiedToken, description, why string) *denial {
	return &denial{kind: denyInvalid, certificate: true, description: description,
		reason: "certificate-bound token refused: " + why, sub: vt.sub, iss: vt.iss}
}

// clientCertDigest returns the SHA-256 of the client certificate (nil when
// there is none) and where it was looked for, for the log.
func (h *httpContext) clientCertDigest(pol *CertificatePolicy, headers headerList) ([]byte, string) {
	if pol.ClientCertHeader != "" {
		_, last, _ := headers.find(pol.ClientCertHeader)
		return headerCertDigest(last), "header " + pol.ClientCertHeader
	}
	v, err := abi.GetProperty(peerCertificateDigest)
	if err != nil {
		return nil, "the connection"
	}
	return decodeHexDigest(string(v)), "the connection"
}

// headerCertDigest reads a certificate hash from a trusted header: an XFCC
// value (the Hash= of its last element, Envoy's hex SHA-256 of the DER) or
// a bare hex SHA-256. Anything else is no certificate.
//
// The XFCC a front writes is not all the front's: Envoy writes the URI and
// DNS SANs of the client's certificate unquoted and unescaped (a SAN
// "x,Hash=<other>" makes a last element of its own), and APPEND_FORWARD
// keeps whatever XFCC the client sent before the front's element (an open
// quote there swallows the front's comma). So a value is read only when
// every way of reading it names the same certificate (DESIGN §5, one
// reading): quotes balanced, every "hash=" in it a Hash key (none hidden in
// a quoted value), and no URI or DNS value before the last element whose
// comma it could have supplied. Otherwise it is no certificate (401).
func headerCertDigest(v string) []byte {
	v = strings.TrimSpace(v)
	if d := decodeHexDigest(v); d != nil {
		return d
	}
	elements, balanced := splitQuoted(v, ',')
	if !balanced {
		return nil
	}
	last := elements[len(elements)-1]
	if before := strings.ToLower(v[:len(v)-len(last)]); strings.Contains(before, "uri=") || strings.Contains(before, "dns=") {
		return nil
	}
	var digest []byte
	keys, found := 0, false
	for i, el := range elements {
		pairs, _ := splitQuoted(el, ';')
		for _, pair := range pairs {
			k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "hash") {
				continue
			}
			keys++
			if i == len(elements)-1 && !found {
				digest, found = decodeHexDigest(strings.Trim(strings.TrimSpace(val), `"`)), true
			}
		}
	}
	if keys != hashMentions(v) {
		return nil
	}
	return digest
}

// hashMentions counts "hash" followed by optional spaces or tabs and "=",
// in any case, anywhere in s: every place a Hash key could be read from.
func hashMentions(s string) int {
	n := 0
	for i := 0; i+4 <= len(s); i++ {
		if !strings.EqualFold(s[i:i+4], "hash") {
			continue
		}
		j := i + 4
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j < len(s) && s[j] == '=' {
			n++
		}
	}
	return n
}

// splitQuoted splits s at sep outside double quotes (XFCC quotes values that
// hold ',', ';' or '='; a backslash escapes a quote inside them). balanced
// is false when s ends inside a quoted value.
func splitQuoted(s string, sep byte) (parts []string, balanced bool) {
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:]), !quoted
}

// decodeHexDigest decodes 64 hex digits (either case) into a SHA-256
// digest; anything else is nil.
func decodeHexDigest(s string) []byte {
	if len(s) != 64 {
		return nil
	}
	out := make([]byte, 32)
	if _, err := hex.Decode(out, []byte(s)); err != nil {
		return nil
	}
	return out
}
