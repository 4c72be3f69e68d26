package devidp

// Sender-constrained tokens: a token request that carries a DPoP proof
// (RFC 9449 §5) gets a token bound to the proof's key (cnf.jkt, token_type
// DPoP); one made over TLS with a client certificate (RFC 8705 §3) gets a
// token bound to that certificate (cnf.x5t#S256). The proof is checked with
// scopegate's own jwt package, as the authorization server must: signature,
// typ, jwk, htm POST, htu the token endpoint, iat within a minute, jti not
// seen before.

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/scopegate/scopegate/jwt"
)

// proofWindow is how far a token request's proof iat may be from now.
const proofWindow = time.Minute

// maxSeenProofs bounds the remembered jti values.
const maxSeenProofs = 10000

// proofJTIs remembers the jti values of accepted proofs until they expire.
type proofJTIs struct {
	mu   sync.Mutex
	seen map[string]time.Time // jti+thumbprint -> expiry
}

// fresh reports whether key was unseen, recording it until expires.
func (p *proofJTIs) fresh(key string, expires, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[string]time.Time{}
	}
	if exp, ok := p.seen[key]; ok && now.Before(exp) {
		return false
	}
	if len(p.seen) >= maxSeenProofs {
		for k, exp := range p.seen {
			if !now.Before(exp) {
				delete(p.seen, k)
			}
		}
		if len(p.seen) >= maxSeenProofs {
			clear(p.seen) // a development provider forgets rather than refuses
		}
	}
	p.seen[key] = expires
	return true
}

// binding returns the cnf claim for a token request (nil: unbound), or an
// error describing why its DPoP proof is refused.
func (s *Server) binding(r *http.Request) (cnf map[string]any, err error) {
	proofs := r.Header.Values("DPoP")
	if len(proofs) > 1 {
		return nil, errors.New("more than one DPoP proof")
	}
	cnf = map[string]any{}
	if len(proofs) == 1 {
		jkt, err := s.checkTokenProof(proofs[0])
		if err != nil {
			return nil, err
		}
		cnf["jkt"] = jkt
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
		cnf["x5t#S256"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if len(cnf) == 0 {
		return nil, nil
	}
	return cnf, nil
}

// checkTokenProof validates a DPoP proof sent to the token endpoint and
// returns its key's thumbprint.
func (s *Server) checkTokenProof(raw string) (string, error) {
	var allowed jwt.AlgSet
	for _, a := range jwt.DefaultProofAlgs {
		allowed = allowed.With(a)
	}
	p, err := jwt.ParseProof(raw, allowed, 0)
	if err != nil {
		return "", err
	}
	if p.HTM != http.MethodPost {
		return "", errors.New("DPoP proof htm is not POST")
	}
	if !sameEndpoint(p.HTU, s.cfg.Issuer+"/token") {
		return "", errors.New("DPoP proof htu is not the token endpoint " + s.cfg.Issuer + "/token")
	}
	now := s.cfg.Now()
	iat := time.Unix(int64(p.IAT), 0)
	if iat.Before(now.Add(-proofWindow)) || iat.After(now.Add(proofWindow)) {
		return "", errors.New("DPoP proof iat is not within a minute of now")
	}
	if !s.proofs.fresh(p.Thumbprint+" "+p.JTI, iat.Add(2*proofWindow), now) {
		return "", errors.New("DPoP proof was already used")
	}
	return p.Thumbprint, nil
}

// sameEndpoint compares a proof's htu with an endpoint URL, ignoring query
// and fragment and the case of scheme and host (RFC 9449 §4.3).
func sameEndpoint(htu, endpoint string) bool {
	a, err1 := url.Parse(htu)
	b, err2 := url.Parse(endpoint)
	if err1 != nil || err2 != nil || a.User != nil {
		return false
	}
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" && !(p == "80" && strings.EqualFold(u.Scheme, "http")) && !(p == "443" && strings.EqualFold(u.Scheme, "https")) {
			return p
		}
		return ""
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) &&
		port(a) == port(b) && a.EscapedPath() == b.EscapedPath()
}

// proofAlgNames lists the DPoP proof algorithms the token endpoint accepts.
func proofAlgNames() []string {
	names := make([]string, len(jwt.DefaultProofAlgs))
	for i, a := range jwt.DefaultProofAlgs {
		names[i] = a.String()
	}
	return names
}
