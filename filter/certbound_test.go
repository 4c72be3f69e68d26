package filter

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// Two client certificates, as the SHA-256 of their DER.
var (
	certA = sha256.Sum256([]byte("client certificate A (DER)"))
	certB = sha256.Sum256([]byte("client certificate B (DER)"))
)

func x5t(digest [32]byte) string { return base64.RawURLEncoding.EncodeToString(digest[:]) }

// certToken is a token with the scope "read" bound to the certificate.
func (h *coreHarness) certToken(digest [32]byte) string {
	c := claimsAt(h, map[string]any{"scope": "read", "cnf": map[string]any{"x5t#S256": x5t(digest)}})
	return rsKey().Sign(c, nil)
}

// presentCertificate sets the connection property Envoy fills for a TLS
// client certificate: the hex (lower-case, as Envoy writes it, unless
// upper) of the DER's SHA-256. Without it the property is absent.
func (h *coreHarness) presentCertificate(t *testing.T, digest *[32]byte, upper bool) {
	t.Helper()
	v := hex.EncodeToString(digest[:])
	if upper {
		v = strings.ToUpper(v)
	}
	if err := h.host.SetProperty(peerCertificateDigest, []byte(v)); err != nil {
		t.Fatal(err)
	}
}

func wantCertDenied(t *testing.T, h *coreHarness, r *response, logged string) {
	t.Helper()
	if r.status() != 401 || !strings.HasPrefix(r.header("www-authenticate"), `Bearer error="invalid_token", error_description="`) {
		t.Fatalf("status %d www-authenticate %q, want 401 Bearer invalid_token", r.status(), r.header("www-authenticate"))
	}
	if b := r.body(t); b["error"] != "invalid_token" {
		t.Errorf("body %v", b)
	}
	if !strings.Contains(h.infoLogs(), "certificate-bound token refused: "+logged) {
		t.Errorf("no log line says %q:\n%s", logged, h.infoLogs())
	}
}

func TestCertificateBoundFromTheConnection(t *testing.T) {
	for _, cfg := range []struct{ name, block string }{
		{"without a certificate_bound block", ""},
		{"with mode allowed", `"certificate_bound":{"mode":"allowed"}`},
	} {
		with(t, cfg.name, localConfig(cfg.block, readRule), func(t *testing.T, h *coreHarness) {
			tok := h.certToken(certA)
			t.Run("a bound token without a client certificate is 401", func(t *testing.T) {
				wantCertDenied(t, h, h.get("/api/orders", tok), "no client certificate in the connection")
			})
			t.Run("a client header cannot stand in for the connection", func(t *testing.T) {
				r := h.do("GET", "/api/orders", [2]string{"authorization", "Bearer " + tok},
					[2]string{"x-forwarded-client-cert", "Hash=" + hex.EncodeToString(certA[:])})
				wantCertDenied(t, h, r, "no client certificate in the connection")
			})
			t.Run("an unbound token passes without a certificate", func(t *testing.T) {
				wantStatus(t, h.get("/api/orders", h.token(rsKey(), "bob", "read")), 200)
			})
			t.Run("a bound token over another certificate is 401", func(t *testing.T) {
				h.presentCertificate(t, &certB, false)
				wantCertDenied(t, h, h.get("/api/orders", tok), "the client certificate in the connection does not match cnf.x5t#S256")
			})
			t.Run("a bound token over its certificate passes", func(t *testing.T) {
				h.presentCertificate(t, &certA, false)
				wantStatus(t, h.get("/api/orders", tok), 200)
			})
			t.Run("the digest is read in either case of hex", func(t *testing.T) {
				h.presentCertificate(t, &certA, true)
				wantStatus(t, h.get("/api/orders", tok), 200)
			})
			t.Run("an unbound token passes with a certificate", func(t *testing.T) {
				wantStatus(t, h.get("/api/orders", h.token(rsKey(), "bob", "read")), 200)
			})
		})
	}
	with(t, "a cnf.x5t#S256 that is not a digest", localConfig("", readRule), func(t *testing.T, h *coreHarness) {
		h.presentCertificate(t, &certA, false)
		bad := rsKey().Sign(claimsAt(h, map[string]any{"scope": "read", "cnf": map[string]any{"x5t#S256": hex.EncodeToString(certA[:])}}), nil)
		if r := h.get("/api/orders", bad); r.status() != 401 || !strings.Contains(r.header("www-authenticate"), "x5t#S256") {
			t.Fatalf("status %d www-authenticate %q", r.status(), r.header("www-authenticate"))
		}
		wantStatus(t, h.get("/api/orders", h.certToken(certA)), 200)
	})
}

func TestCertificateBoundRequired(t *testing.T) {
	h := startFilter(t, localConfig(`"certificate_bound":{"mode":"required"}`, readRule))
	h.presentCertificate(t, &certA, false)
	t.Run("an unbound token is 401 even over a client certificate", func(t *testing.T) {
		wantCertDenied(t, h, h.get("/api/orders", h.token(rsKey(), "bob", "read")), "certificate_bound mode is required")
	})
	t.Run("a token bound to the certificate passes", func(t *testing.T) {
		wantStatus(t, h.get("/api/orders", h.certToken(certA)), 200)
	})
	for name, want := range map[string]uint64{metricDeniedInvalid: 1, metricDeniedInvalidCertificate: 1, metricDeniedInvalidDPoP: 0} {
		if got := h.counter(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

func TestCertificateBoundFromAHeader(t *testing.T) {
	h := startFilter(t, localConfig(`"certificate_bound":{"client_cert_header":"X-Forwarded-Client-Cert"}`, readRule))
	tok := h.certToken(certA)
	hexA, hexB := hex.EncodeToString(certA[:]), hex.EncodeToString(certB[:])
	call := func(xfcc ...string) *response {
		hs := [][2]string{{"authorization", "Bearer " + tok}}
		for _, v := range xfcc {
			hs = append(hs, [2]string{"x-forwarded-client-cert", v})
		}
		return h.do("GET", "/api/orders", hs...)
	}
	pass := map[string][]string{
		"Envoy's XFCC element":                 {`By=spiffe://cluster.local/ns/a/sa/gw;Hash=` + hexA + `;Subject="CN=client,O=Example";URI=spiffe://client`},
		"the last element of an appended XFCC": {`Hash=` + hexB + `;Subject="a,b;c=d",By=x;Hash=` + hexA},
		"the last of two XFCC headers":         {`Hash=` + hexB, `Hash=` + hexA},
		"a quoted hash in upper-case hex":      {`hash="` + strings.ToUpper(hexA) + `"`},
		"a bare hex digest":                    {hexA},
	}
	for name, v := range pass {
		t.Run(name+" passes", func(t *testing.T) { wantStatus(t, call(v...), 200) })
	}
	fail := map[string][]string{
		"no header":           nil,
		"another certificate": {`Hash=` + hexB},
		"the certificate only in an earlier element": {`Hash=` + hexA + `,Hash=` + hexB},
		"an element without Hash":                    {`Hash=` + hexA + `,By=x;Subject="CN=a"`},
		"a hash hidden in a quoted value":            {`Subject="Hash=` + hexA + `"`},
		"a truncated hash":                           {`Hash=` + hexA[:62]},
		"a base64 hash":                              {`Hash=` + x5t(certA)},
	}
	for name, v := range fail {
		t.Run(name+" is 401", func(t *testing.T) {
			r := call(v...)
			if r.status() != 401 || !strings.HasPrefix(r.header("www-authenticate"), `Bearer error="invalid_token"`) {
				t.Fatalf("status %d www-authenticate %q", r.status(), r.header("www-authenticate"))
			}
		})
	}
	t.Run("the connection's certificate is not consulted when a header is configured", func(t *testing.T) {
		h.presentCertificate(t, &certA, false)
		wantCertDenied(t, h, call(), "no client certificate in header x-forwarded-client-cert")
	})
}

// A token bound both ways needs both its proof and its certificate.
func TestBoundToProofAndCertificate(t *testing.T) {
	h := startFilter(t, localConfig("", readRule))
	client := dpopKey()
	tok := rsKey().Sign(claimsAt(h, map[string]any{"scope": "read", "cnf": map[string]any{"jkt": client.Thumbprint(), "x5t#S256": x5t(certA)}}), nil)
	h.presentCertificate(t, &certA, false)
	wantStatus(t, h.dpopCall("GET", "/api/orders", tok, h.proofFor(client, "GET", "/api/orders", tok)), 200)
	wantDPoPDenied(t, h, h.dpopCall("GET", "/api/orders", tok), defaultDPoPAlgs, "the request has no DPoP proof")
	h.presentCertificate(t, &certB, false)
	wantCertDenied(t, h, h.dpopCall("GET", "/api/orders", tok, h.proofFor(client, "GET", "/api/orders", tok)), "the client certificate in the connection does not match cnf.x5t#S256")
}

func TestInsertReplay(t *testing.T) {
	id := func(n byte) [replayIDLen]byte { return [replayIDLen]byte{n} }
	data, res := insertReplay(nil, id(1), 100, 50)
	if res != replayFresh || string(data[:4]) != replayMagic || len(data) != 4+replayEntryLen {
		t.Fatalf("first insert: %v %x", res, data)
	}
	if _, res := insertReplay(data, id(1), 100, 60); res != replaySeen {
		t.Errorf("the same id before its expiry: %v", res)
	}
	if next, res := insertReplay(data, id(1), 200, 101); res != replayFresh || len(next) != 4+replayEntryLen {
		t.Errorf("the same id after its expiry: %v, %d bytes (the expired entry should be dropped)", res, len(next))
	}
	if next, res := insertReplay(data, id(2), 100, 60); res != replayFresh || len(next) != 4+2*replayEntryLen {
		t.Errorf("another id: %v", res)
	}
	if next, res := insertReplay([]byte("garbage"), id(1), 100, 50); res != replayFresh || len(next) != 4+replayEntryLen {
		t.Errorf("unreadable data: %v", res)
	}
	full := []byte(replayMagic)
	for i := 0; i < replayBucketEntries; i++ {
		var e [replayIDLen]byte
		e[0], e[1] = byte(i>>8), byte(i)
		e[2] = 0xff
		full, res = insertReplay(full, e, 100, 50)
		if res != replayFresh {
			t.Fatalf("insert %d: %v", i, res)
		}
	}
	if _, res := insertReplay(full, id(3), 100, 50); res != replayFull {
		t.Errorf("a full bucket took another entry: %v", res)
	}
	if _, res := insertReplay(full, id(3), 100, 101); res != replayFresh {
		t.Errorf("a full bucket of expired entries refused: %v", res)
	}
}
