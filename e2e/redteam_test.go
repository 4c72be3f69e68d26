package e2e

// Red-team tests of the merged filter (issues 12, 13, 14 and 17 together),
// through the compiled module in the local host. Each attack has its exact
// answer and a valid twin; docs/hardening.md lists them under "Red team".

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/testjwt"
)

// xfccConfig is attackConfig whose provider reads the client certificate
// from x-forwarded-client-cert, as behind a TLS-terminating Envoy front.
func xfccConfig(rs *testjwt.Key) string {
	return strings.Replace(attackConfig(rs), `"max_lifetime_s":86400`,
		`"max_lifetime_s":86400,"certificate_bound":{"client_cert_header":"x-forwarded-client-cert"}`, 1)
}

// TestRedTeamXFCCNamesOnlyTheFrontsCertificate: a front Envoy writes the
// URI and DNS SANs of the client's certificate into XFCC unquoted and
// unescaped (its own source says so: "TODO: Handle the special characters
// in By and URI fields"), and under APPEND_FORWARD keeps whatever XFCC the
// client sent in front of its own element. A thief holding a token bound to
// the victim's certificate (cnf.x5t#S256 names its hash) and any
// certificate of their own (RFC 8705 §2.2 self-signed) can therefore put
// ",Hash=<victim>" or an unbalanced quote into the header; the filter must
// never read the victim's hash out of it.
func TestRedTeamXFCCNamesOnlyTheFrontsCertificate(t *testing.T) {
	rs := testjwt.CachedKey("RS256", "k1")
	a := newAttackHost(t, xfccConfig(rs))
	victimDER, thiefDER := sha256.Sum256([]byte("victim client certificate")), sha256.Sum256([]byte("thief client certificate"))
	victim, thief := hex.EncodeToString(victimDER[:]), hex.EncodeToString(thiefDER[:])
	stolen := rs.Sign(attackClaims(func(c map[string]any) {
		c["cnf"] = map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(victimDER[:])}
	}), nil)
	with := func(xfcc string) attackRequest {
		return onOrders(append(bearer(stolen), [2]string{"x-forwarded-client-cert", xfcc}))
	}
	// What the front writes for the victim's own connection (SANITIZE_SET,
	// set_current_client_cert_details subject and uri).
	victimsOwn := with(`By=spiffe://front;Hash=` + victim + `;Subject="CN=victim,O=Example";URI=spiffe://victim`)
	for _, c := range []attackCase{
		{name: "a URI SAN carrying ,Hash=<victim> (SANITIZE_SET front)",
			attack: with(`By=spiffe://front;Hash=` + thief + `;Subject="CN=thief";URI=spiffe://thief,Hash=` + victim)},
		{name: "a URI SAN carrying ;x,By=...;Hash=<victim>",
			attack: with(`By=spiffe://front;Hash=` + thief + `;Subject="CN=thief";URI=spiffe://thief;x=y,By=spiffe://front;Hash=` + victim)},
		{name: "a DNS SAN carrying ,Hash=<victim> (no URI details)",
			attack: with(`By=spiffe://front;Hash=` + thief + `;DNS=thief.example,Hash=` + victim)},
		{name: "a client element with an open quote before the front's (APPEND_FORWARD front)",
			attack: with(`Hash=` + victim + `;Subject="` + `,By=spiffe://front;Hash=` + thief + `;Subject="CN=thief";URI=spiffe://thief`)},
		{name: "a client element with an open quote closed by a quote in the thief's URI SAN",
			attack: with(`Hash=` + victim + `;x="` + `,By=spiffe://front;Hash=` + thief + `;URI=spiffe://thief"`)},
	} {
		c.want, c.twin = deniedInvalid, victimsOwn
		t.Run(c.name, func(t *testing.T) {
			t.Run("is refused as 401 invalid_token", func(t *testing.T) { requireOutcome(t, a.decide(t, c.attack), c.want) })
			t.Run("while its valid twin passes", func(t *testing.T) { requireOutcome(t, a.decide(t, c.twin), allowed) })
		})
	}
	// The last element is still the front's when the client sent an
	// element of its own that hides nothing (DESIGN §3: the Hash= of the
	// last element).
	t.Run("a plain client element before the front's is ignored", func(t *testing.T) {
		requireOutcome(t, a.decide(t, with(`Hash=`+thief+`;Subject="a,b;c=d",By=spiffe://front;Hash=`+victim+`;Subject="CN=victim"`)), allowed)
		requireOutcome(t, a.decide(t, with(`Hash=`+victim+`;Subject="a,b;c=d",By=spiffe://front;Hash=`+thief+`;Subject="CN=thief"`)), deniedInvalid)
	})
	if n := a.h.Traps(); n != 0 {
		t.Errorf("the filter trapped %d times", n)
	}
}
