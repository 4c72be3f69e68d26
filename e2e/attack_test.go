package e2e

// The attack matrix of issue #8: hostile tokens and requests (RFC 8725 and
// known JWT library CVEs) sent through the compiled filter in the host. Each
// hostile case must get exactly its DESIGN §4 answer, and each has a valid
// twin (the same construction done right) that must pass, so a case cannot
// "pass" just because everything is refused.

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// outcome is one row of the DESIGN §4 table (or "allowed").
type outcome int

const (
	allowed        outcome = iota
	deniedMissing          // 401, WWW-Authenticate exactly "Bearer"
	deniedInvalid          // 401, Bearer error="invalid_token", error_description="..."
	deniedMultiple         // 400, Bearer error="invalid_request", error_description="..."
	deniedScope            // 403, exactly Bearer error="insufficient_scope", scope="orders.read"
	deniedUnavail          // 503, no WWW-Authenticate
	deniedDPoP             // 401, exactly DPoP error="invalid_dpop_proof", algs="<defaults>"
)

func (o outcome) String() string {
	return [...]string{"allowed", "401 missing", "401 invalid_token", "400 invalid_request", "403 insufficient_scope", "503", "401 invalid_dpop_proof"}[o]
}

const (
	attackIssuer   = "https://idp.attack.example/realms/demo"
	attackAudience = "orders-api"
	attackScope    = "orders.read"
)

// attackConfig guards /orders with a scope, checks the audience, bounds the
// lifetime and sets claim headers that a client must never be able to spoof.
func attackConfig(keys ...*testjwt.Key) string {
	return `{"providers":[{"name":"idp","issuer":"` + attackIssuer + `","audiences":["` + attackAudience + `"],` +
		`"local_jwks":` + string(testjwt.JWKS(keys...)) + `,"max_lifetime_s":86400,` +
		`"claim_to_headers":[{"claim":"sub","header":"x-jwt-sub"}],"forward_payload_header":"x-jwt-payload"}],` +
		`"rules":[{"match":{"prefix":"/orders"},"requires":{"scopes":["` + attackScope + `"]}},` +
		`{"match":{"prefix":"/health"},"requires":{"allow":true}}]}`
}

// attackClaims is a valid payload for attackConfig; edit may change it.
func attackClaims(edit func(map[string]any)) map[string]any {
	c := testjwt.Claims(attackIssuer, "alice", time.Now(), attackScope)
	c["aud"] = attackAudience
	if edit != nil {
		edit(c)
	}
	return c
}

// rawPayload renders a valid payload by hand (for JSON a map cannot hold),
// with extra members appended.
func rawPayload(extra string) string {
	return rawPayloadExp(strconv.FormatInt(time.Now().Unix()+3600, 10), extra)
}

// rawPayloadExp is rawPayload with exp written as the literal exp.
func rawPayloadExp(exp, extra string) string {
	return `{"iss":"` + attackIssuer + `","sub":"alice","aud":"` + attackAudience + `","iat":` + strconv.FormatInt(time.Now().Unix(), 10) +
		`,"exp":` + exp + extra + `}`
}

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func bearer(token string) [][2]string { return [][2]string{{"authorization", "Bearer " + token}} }

// attackRequest is one request for the table: a path and headers.
type attackRequest struct {
	path    string
	headers [][2]string
}

func onOrders(headers [][2]string) attackRequest { return attackRequest{"/orders/1", headers} }

// attackHost runs the filter in the host without the HTTP front end, so
// requests the Go HTTP server would refuse (1 MB headers) still reach it.
type attackHost struct{ h *host.Host }

func newAttackHost(t *testing.T, cfg string) *attackHost {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := host.New(ctx, host.Config{Module: filterModule(t), PluginConfig: []byte(cfg), Workers: 2, Log: io.Discard})
	if err != nil {
		t.Fatalf("host.New: %v", err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return &attackHost{h: h}
}

// decide sends one request; it never waits more than 10 s.
func (a *attackHost) decide(t *testing.T, r attackRequest) host.Decision {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := a.h.Do(ctx, host.Request{Method: "GET", Path: r.path, Authority: "api.example", Headers: r.headers})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	return d
}

func pairValue(pairs [][2]string, name string) (string, bool) {
	for _, p := range pairs {
		if strings.EqualFold(p[0], name) {
			return p[1], true
		}
	}
	return "", false
}

// requireOutcome checks a decision against the exact DESIGN §4 answer.
func requireOutcome(t *testing.T, d host.Decision, want outcome) {
	t.Helper()
	if want == allowed {
		if !d.Continue {
			t.Fatalf("refused with %d %s, want allowed", d.Status, d.Body)
		}
		return
	}
	if d.Continue {
		t.Fatalf("allowed, want %v", want)
	}
	challenge, hasChallenge := pairValue(d.ResponseHeaders, "www-authenticate")
	var body struct{ Error, ErrorDescription string }
	var raw map[string]string
	json.Unmarshal(d.Body, &raw)
	body.Error, body.ErrorDescription = raw["error"], raw["error_description"]
	fail := func(why string) {
		t.Fatalf("got %d www-authenticate %q body %s; want %v (%s)", d.Status, challenge, d.Body, want, why)
	}
	switch want {
	case deniedMissing:
		if d.Status != 401 || challenge != "Bearer" || body.Error != "unauthorized" {
			fail("401 with exactly Bearer")
		}
	case deniedInvalid:
		const prefix = `Bearer error="invalid_token", error_description="`
		if d.Status != 401 || !strings.HasPrefix(challenge, prefix) || !strings.HasSuffix(challenge, `"`) ||
			len(challenge) == len(prefix)+1 || body.Error != "invalid_token" || body.ErrorDescription == "" {
			fail("401 invalid_token with a description")
		}
	case deniedMultiple:
		// DESIGN §4: the challenge is exactly error="invalid_request"; the
		// description is in the body.
		if d.Status != 400 || challenge != `Bearer error="invalid_request"` || body.Error != "invalid_request" || body.ErrorDescription == "" {
			fail("400 invalid_request")
		}
	case deniedScope:
		if d.Status != 403 || challenge != `Bearer error="insufficient_scope", scope="`+attackScope+`"` || body.Error != "insufficient_scope" {
			fail("403 with exactly error and scope")
		}
	case deniedUnavail:
		if d.Status != 503 || hasChallenge {
			fail("503 without a challenge")
		}
	case deniedDPoP:
		if d.Status != 401 || challenge != `DPoP error="invalid_dpop_proof", algs="ES256 ES384 ES512 RS256 PS256 EdDSA"` ||
			body.Error != "invalid_dpop_proof" || body.ErrorDescription == "" {
			fail("401 invalid_dpop_proof with the algs")
		}
	}
}

// attackCase is a hostile request, its answer, and its valid twin.
type attackCase struct {
	name   string
	attack attackRequest
	want   outcome
	twin   attackRequest
	token  string // checked never to be echoed in the answer or the log ("" skips)
}

// withPadding pads a base64url segment the way std base64 would.
func withPadding(s string) string {
	for len(s)%4 != 0 {
		s += "="
	}
	return s
}

// nonCanonical sets unused trailing bits in the last character of a
// base64url segment: lenient decoders read the same bytes, strict ones refuse.
func nonCanonical(t *testing.T, s string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var unused int
	switch len(s) % 4 {
	case 2:
		unused = 4
	case 3:
		unused = 2
	default:
		t.Fatalf("segment of length %d has no unused bits", len(s))
	}
	i := strings.IndexByte(alphabet, s[len(s)-1])
	if i&(1<<unused-1) != 0 {
		t.Fatalf("segment is already non-canonical")
	}
	return s[:len(s)-1] + string(alphabet[i+1])
}

func replaceSegment(token string, n int, f func(string) string) string {
	parts := strings.Split(token, ".")
	parts[n] = f(parts[n])
	return strings.Join(parts, ".")
}

func TestAttackMatrixThroughTheWasmFilter(t *testing.T) {
	rs := testjwt.CachedKey("RS256", "k1")
	es := testjwt.CachedKey("ES256", "k2")
	attacker := testjwt.CachedKey("RS256", "attacker")
	a := newAttackHost(t, attackConfig(rs, es))

	good := rs.Sign(attackClaims(nil), nil)
	goodReq := onOrders(bearer(good))
	sign := func(edit func(map[string]any), header map[string]any) string {
		return rs.Sign(attackClaims(edit), header)
	}

	var cases []attackCase
	add := func(c attackCase) {
		if c.twin.path == "" {
			c.twin = goodReq
		}
		cases = append(cases, c)
	}

	// alg "none" in every casing, with an empty and with a real signature.
	for _, alg := range []string{"none", "None", "NONE", "nOnE", "nonE"} {
		h := `{"alg":"` + alg + `","typ":"JWT","kid":"k1"}`
		p, _ := json.Marshal(attackClaims(nil))
		unsigned := seg(h) + "." + seg(string(p)) + "."
		add(attackCase{name: "alg " + alg + " without a signature", attack: onOrders(bearer(unsigned)), want: deniedInvalid, token: unsigned,
			twin: onOrders(bearer(rs.SignRaw([]byte(`{"alg":"RS256","typ":"JWT","kid":"k1"}`), p)))})
		signed := rs.SignRaw([]byte(h), p)
		add(attackCase{name: "alg " + alg + " with an RS256 signature", attack: onOrders(bearer(signed)), want: deniedInvalid, token: signed})
	}

	// Algorithm confusion: HS256 keyed with the RSA public key's bytes.
	pub := rs.Public().(*rsa.PublicKey)
	pkix, _ := x509.MarshalPKIXPublicKey(pub)
	for name, secret := range map[string][]byte{
		"PKIX DER":     pkix,
		"PKIX PEM":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"PKCS#1 PEM":   pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)}),
		"modulus":      pub.N.Bytes(),
		"JWK n string": []byte(rs.JWK()["n"].(string)),
	} {
		hs := &testjwt.Key{Alg: "HS256", Kid: "k1", Secret: secret}
		tok := hs.Sign(attackClaims(nil), nil)
		add(attackCase{name: "HS256 signed with the RSA public key as " + name, attack: onOrders(bearer(tok)), want: deniedInvalid, token: tok})
		tok = hs.Sign(attackClaims(nil), map[string]any{"kid": nil})
		add(attackCase{name: "kid-less HS256 signed with the RSA public key as " + name, attack: onOrders(bearer(tok)), want: deniedInvalid, token: tok})
	}

	// kid: absent, unknown, path- or SQL-looking.
	noKid := attacker.Sign(attackClaims(nil), map[string]any{"kid": nil})
	add(attackCase{name: "a kid-less token signed by a foreign key", attack: onOrders(bearer(noKid)), want: deniedInvalid, token: noKid,
		twin: onOrders(bearer(sign(nil, map[string]any{"kid": nil})))})
	for _, kid := range []string{"unknown", "../../../../etc/passwd", "/dev/null", "' OR '1'='1", "k1' --", "k1\x00", "k1 ", "K1", "*", "", strings.Repeat("k", 4000)} {
		tok := sign(nil, map[string]any{"kid": kid})
		add(attackCase{name: "kid " + strconv.QuoteToASCII(trimForName(kid)) + " signed by the real key", attack: onOrders(bearer(tok)), want: deniedInvalid, token: tok})
	}
	for _, kid := range []any{1, true, []any{"k1"}, map[string]any{"kid": "k1"}} {
		tok := sign(nil, map[string]any{"kid": kid})
		add(attackCase{name: "kid of type " + jsonText(kid), attack: onOrders(bearer(tok)), want: deniedInvalid, token: tok})
	}

	// Key-carrying headers point elsewhere: ignored for key selection.
	elsewhere := map[string]any{
		"jku": "https://evil.example/jwks.json",
		"x5u": "https://evil.example/cert.pem",
		"jwk": attacker.JWK(),
		"x5c": []string{base64.StdEncoding.EncodeToString(pkix)},
	}
	for _, name := range []string{"jku", "x5u", "jwk", "x5c"} {
		for _, kid := range []any{"k1", nil} {
			tok := attacker.Sign(attackClaims(nil), map[string]any{name: elsewhere[name], "kid": kid})
			label := "with kid"
			if kid == nil {
				label = "without kid"
			}
			add(attackCase{name: name + " pointing at the attacker's key, " + label, attack: onOrders(bearer(tok)), want: deniedInvalid, token: tok,
				twin: onOrders(bearer(sign(nil, map[string]any{name: elsewhere[name], "kid": kid})))})
		}
	}

	// crit, b64:false, nested JWT, JWE.
	for _, crit := range []any{[]string{"exp"}, []string{"b64"}, []string{}, "exp"} {
		tok := sign(nil, map[string]any{"crit": crit})
		add(attackCase{name: "crit " + jsonText(crit), attack: onOrders(bearer(tok)), want: deniedInvalid, token: tok})
	}
	for _, h := range []map[string]any{{"b64": false, "crit": []string{"b64"}}, {"b64": false}, {"b64": "false"}} {
		tok := sign(nil, h)
		add(attackCase{name: "b64 " + jsonText(h), attack: onOrders(bearer(tok)), want: deniedInvalid, token: tok,
			twin: onOrders(bearer(sign(nil, map[string]any{"b64": true})))})
	}
	nested := rs.SignRaw([]byte(`{"alg":"RS256","kid":"k1","cty":"JWT"}`), []byte(good))
	add(attackCase{name: "a nested JWT (cty JWT)", attack: onOrders(bearer(nested)), want: deniedInvalid, token: nested})
	jwe := seg(`{"alg":"RSA-OAEP","enc":"A256GCM","kid":"k1"}`) + "." + seg("cek") + "." + seg("iv") + "." + seg("ciphertext") + "." + seg("tag")
	add(attackCase{name: "a JWE (five segments)", attack: onOrders(bearer(jwe)), want: deniedInvalid, token: jwe})

	// Base64url that is padded, non-canonical or of the wrong alphabet.
	add(attackCase{name: "a padded signature", attack: onOrders(bearer(replaceSegment(good, 2, withPadding))), want: deniedInvalid})
	pad := "x"
	padPayload := rs.Sign(attackClaims(func(c map[string]any) { c["pad"] = pad }), nil)
	for len(strings.Split(padPayload, ".")[1])%4 == 0 {
		pad += "x"
		padPayload = rs.Sign(attackClaims(func(c map[string]any) { c["pad"] = pad }), nil)
	}
	add(attackCase{name: "a padded payload", attack: onOrders(bearer(replaceSegment(padPayload, 1, withPadding))), want: deniedInvalid,
		twin: onOrders(bearer(padPayload))})
	add(attackCase{name: "a signature with non-zero trailing bits", attack: onOrders(bearer(replaceSegment(good, 2, func(s string) string { return nonCanonical(t, s) }))), want: deniedInvalid})
	add(attackCase{name: "a payload with non-zero trailing bits", attack: onOrders(bearer(replaceSegment(padPayload, 1, func(s string) string { return nonCanonical(t, s) }))), want: deniedInvalid,
		twin: onOrders(bearer(padPayload))})
	std := replaceSegment(good, 1, func(s string) string {
		b, _ := base64.RawURLEncoding.DecodeString(s)
		return strings.TrimRight(base64.StdEncoding.EncodeToString(b), "=")
	})
	if std != good {
		add(attackCase{name: "a payload in standard (not URL) base64", attack: onOrders(bearer(std)), want: deniedInvalid})
	}
	add(attackCase{name: "a signature segment with a space", attack: onOrders(bearer(replaceSegment(good, 2, func(s string) string { return s[:10] + " " + s[10:] }))), want: deniedInvalid})

	// Parser differentials: duplicate member names.
	dupPayload := rs.SignRaw([]byte(`{"alg":"RS256","typ":"JWT","kid":"k1"}`), []byte(rawPayload(`,"scope":"profile","scope":"`+attackScope+`"`)))
	add(attackCase{name: `duplicate "scope" claims`, attack: onOrders(bearer(dupPayload)), want: deniedInvalid, token: dupPayload,
		twin: onOrders(bearer(rs.SignRaw([]byte(`{"alg":"RS256","typ":"JWT","kid":"k1"}`), []byte(rawPayload(`,"scope":"`+attackScope+`"`)))))})
	dupSub := rs.SignRaw([]byte(`{"alg":"RS256","typ":"JWT","kid":"k1"}`), []byte(rawPayload(`,"scope":"`+attackScope+`","sub":"admin"`)))
	add(attackCase{name: `duplicate "sub" claims`, attack: onOrders(bearer(dupSub)), want: deniedInvalid, token: dupSub})
	dupEscaped := rs.SignRaw([]byte(`{"alg":"RS256","typ":"JWT","kid":"k1"}`), []byte(rawPayload(`,"scope":"profile","sc\u006fpe":"`+attackScope+`"`)))
	add(attackCase{name: `duplicate "scope" claims, one spelled with a \u escape`, attack: onOrders(bearer(dupEscaped)), want: deniedInvalid, token: dupEscaped})
	dupAlg := rs.SignRaw([]byte(`{"alg":"RS256","typ":"JWT","kid":"k1","alg":"none"}`), []byte(rawPayload(`,"scope":"`+attackScope+`"`)))
	add(attackCase{name: `duplicate "alg" header members`, attack: onOrders(bearer(dupAlg)), want: deniedInvalid, token: dupAlg})
	dupKid := rs.SignRaw([]byte(`{"alg":"RS256","typ":"JWT","kid":"k2","kid":"k1"}`), []byte(rawPayload(`,"scope":"`+attackScope+`"`)))
	add(attackCase{name: `duplicate "kid" header members`, attack: onOrders(bearer(dupKid)), want: deniedInvalid, token: dupKid})

	// Time claims of the wrong type or absurd values.
	now := time.Now().Unix()
	for name, edit := range map[string]func(map[string]any){
		"exp as a string":        func(c map[string]any) { c["exp"] = strconv.FormatInt(now+3600, 10) },
		"exp negative":           func(c map[string]any) { c["exp"] = -1 },
		"exp NaN-like text":      func(c map[string]any) { c["exp"] = "NaN" },
		"exp Infinity text":      func(c map[string]any) { c["exp"] = "Infinity" },
		"exp huge":               func(c map[string]any) { c["exp"] = 1e300 },
		"exp null":               func(c map[string]any) { c["exp"] = nil },
		"exp an array":           func(c map[string]any) { c["exp"] = []int64{now + 3600} },
		"exp missing":            func(c map[string]any) { delete(c, "exp") },
		"nbf as a string":        func(c map[string]any) { c["nbf"] = strconv.FormatInt(now, 10) },
		"nbf huge":               func(c map[string]any) { c["nbf"] = 1e300 },
		"iat as a string":        func(c map[string]any) { c["iat"] = strconv.FormatInt(now, 10) },
		"iat far in the future":  func(c map[string]any) { c["iat"] = now + 86400*365 },
		"aud a number":           func(c map[string]any) { c["aud"] = 123 },
		"aud an object":          func(c map[string]any) { c["aud"] = map[string]any{attackAudience: true} },
		"aud an array of number": func(c map[string]any) { c["aud"] = []int{1} },
		"aud a bool":             func(c map[string]any) { c["aud"] = true },
		"aud another audience":   func(c map[string]any) { c["aud"] = "orders-api-evil" },
		"aud a prefix":           func(c map[string]any) { c["aud"] = "orders" },
		"aud missing":            func(c map[string]any) { delete(c, "aud") },
		"iss of another realm":   func(c map[string]any) { c["iss"] = attackIssuer + "/../evil" },
		"iss a number":           func(c map[string]any) { c["iss"] = 1 },
	} {
		tok := sign(edit, nil)
		add(attackCase{name: name, attack: onOrders(bearer(tok)), want: deniedInvalid, token: tok,
			twin: onOrders(bearer(sign(func(c map[string]any) { c["aud"] = []string{"other", attackAudience} }, nil)))})
	}
	expLater := strconv.FormatInt(now+3600, 10)
	for name, lit := range map[string][2]string{ // exp literal, extra members
		"exp bare NaN":              {"NaN", ""},
		"exp bare Infinity":         {"Infinity", ""},
		"exp beyond float64":        {"1e400", ""},
		"exp with a leading zero":   {"0" + expLater, ""},
		"exp with a leading plus":   {"+" + expLater, ""},
		"exp in hexadecimal":        {"0x7fffffff", ""},
		"a trailing comma":          {expLater, ","},
		"a comment":                 {expLater, "/**/"},
		"an invalid UTF-8 claim":    {expLater, ",\"sub2\":\"\xff\""},
		"a lone surrogate escape":   {expLater, `,"sub2":"\ud800"`},
		"an unescaped control byte": {expLater, ",\"sub2\":\"a\x01b\""},
		"trailing data":             {expLater, `}{"x":1`},
	} {
		tok := rs.SignRaw([]byte(`{"alg":"RS256","kid":"k1"}`), []byte(rawPayloadExp(lit[0], `,"scope":"`+attackScope+`"`+lit[1])))
		add(attackCase{name: "a payload with " + name, attack: onOrders(bearer(tok)), want: deniedInvalid, token: tok,
			twin: onOrders(bearer(rs.SignRaw([]byte(`{"alg":"RS256","kid":"k1"}`), []byte(rawPayloadExp(expLater, `,"scope":"`+attackScope+`"`)))))})
	}

	// Scopes of the wrong type or that only look right.
	for name, scope := range map[string]any{
		"an object":                    map[string]any{attackScope: true},
		"a number":                     1,
		"a Cyrillic look-alike":        "orders.re\u0430d",
		"upper case":                   "ORDERS.READ",
		"a zero-width space appended":  attackScope + "\u200b",
		"fullwidth letters":            "\uff4frders.read",
		"a prefix":                     "orders",
		"a superstring":                attackScope + "x",
		"split by a comma":             "profile," + attackScope,
		"a NUL appended":               attackScope + "\x00",
		"a non-breaking space between": "profile\u00a0" + attackScope,
	} {
		tok := sign(func(c map[string]any) { c["scope"] = scope }, nil)
		add(attackCase{name: "a scope claim that is " + name, attack: onOrders(bearer(tok)), want: deniedScope,
			twin: onOrders(bearer(sign(func(c map[string]any) { c["scope"] = "profile " + attackScope }, nil)))})
	}

	// Sizes from 1 byte to 1 MB (max_token_bytes is 16384).
	for _, n := range []int{1, 2, 16385, 64 << 10, 1 << 20} {
		junk := strings.Repeat("A", n)
		if n > 10 {
			junk = junk[:n/3] + "." + junk[n/3+1:2*n/3] + "." + junk[2*n/3+1:]
		}
		add(attackCase{name: "a token of " + strconv.Itoa(n) + " bytes", attack: onOrders(bearer(junk)), want: deniedInvalid})
	}
	big := sign(func(c map[string]any) { c["pad"] = strings.Repeat("p", 12000) }, nil)
	add(attackCase{name: "a signed token of " + strconv.Itoa(len(big)) + " bytes, over max_token_bytes", attack: onOrders(bearer(big)), want: deniedInvalid, token: big,
		twin: onOrders(bearer(sign(func(c map[string]any) { c["pad"] = strings.Repeat("p", 11000) }, nil)))})

	// Thousands of headers.
	many := func(n int, extra ...[2]string) [][2]string {
		hs := make([][2]string, 0, n+len(extra))
		for i := range n {
			hs = append(hs, [2]string{"x-junk-" + strconv.Itoa(i), strings.Repeat("v", 20)})
		}
		return append(hs, extra...)
	}
	tampered := good[:len(good)-4] + "AAAA"
	add(attackCase{name: "a tampered token among 3000 headers", attack: onOrders(many(3000, bearer(tampered)...)), want: deniedInvalid,
		twin: onOrders(many(3000, bearer(good)...))})
	add(attackCase{name: "no token among 3000 headers", attack: onOrders(many(3000)), want: deniedMissing, twin: onOrders(many(3000, bearer(good)...))})
	add(attackCase{name: "3000 authorization headers", attack: onOrders(func() [][2]string {
		hs := make([][2]string, 3000)
		for i := range hs {
			hs[i] = [2]string{"authorization", "Bearer " + good}
		}
		return hs
	}()), want: deniedMultiple})

	// More than one token, empty bearer, scheme spelling.
	add(attackCase{name: "a token in the header and the query", attack: attackRequest{"/orders/1?access_token=" + good, bearer(good)}, want: deniedMultiple,
		twin: attackRequest{"/orders/1?access_token=" + good, nil}})
	add(attackCase{name: "a good header token and a junk query token", attack: attackRequest{"/orders/1?access_token=junk", bearer(good)}, want: deniedMultiple})
	add(attackCase{name: "two query tokens", attack: attackRequest{"/orders/1?access_token=" + good + "&access_token=" + good, nil}, want: deniedMultiple})
	add(attackCase{name: "an escaped second query token", attack: attackRequest{"/orders/1?access_token=" + good + "&access%5Ftoken=" + good, nil}, want: deniedMultiple})
	add(attackCase{name: "two authorization headers", attack: onOrders(append(bearer(good), bearer(good)...)), want: deniedMultiple})
	for _, v := range []string{"Bearer ", "Bearer", "Bearer     ", "bearer "} {
		add(attackCase{name: "an empty bearer " + strconv.Quote(v), attack: onOrders([][2]string{{"authorization", v}}), want: deniedInvalid})
	}
	for _, v := range []string{"bearer ", "BEARER ", "Bearer   ", "bEaReR  "} {
		add(attackCase{name: "the scheme written " + strconv.Quote(v) + " is accepted", attack: onOrders([][2]string{{"authorization", v + tampered}}), want: deniedInvalid,
			twin: onOrders([][2]string{{"authorization", v + good}})})
	}
	for _, v := range []string{"Bearer" + good, "Basic " + good, "Token " + good, "Bearer-" + good, good} {
		add(attackCase{name: "an authorization of another scheme " + strconv.Quote(trimForName(v)), attack: onOrders([][2]string{{"authorization", v}}), want: deniedMissing})
	}
	// Sender-constrained tokens (RFC 9449): a DPoP-bound token and its
	// proofs, stolen, replayed or moved to another request.
	victim, thief := testjwt.CachedKey("ES256", "victim"), testjwt.CachedKey("ES256", "thief")
	bound := sign(func(c map[string]any) { c["cnf"] = map[string]any{"jkt": victim.Thumbprint()} }, nil)
	const htu = "http://api.example/orders/1"
	dpop := func(token, proof string) [][2]string {
		return [][2]string{{"authorization", "DPoP " + token}, {"dpop", proof}}
	}
	fresh := func() attackRequest {
		return onOrders(dpop(bound, victim.DPoPProof("GET", htu, bound, "", time.Now())))
	}
	replayed := victim.DPoPProof("GET", htu, bound, "", time.Now())
	requireOutcome(t, a.decide(t, onOrders(dpop(bound, replayed))), allowed) // its first use
	add(attackCase{name: "a replayed DPoP proof", attack: onOrders(dpop(bound, replayed)), want: deniedDPoP, token: bound, twin: fresh()})
	add(attackCase{name: "a stolen DPoP-bound token used as a bearer token", attack: onOrders(bearer(bound)), want: deniedDPoP, token: bound, twin: fresh()})
	add(attackCase{name: "a stolen DPoP-bound token used with the thief's own proof", attack: onOrders(dpop(bound, thief.DPoPProof("GET", htu, bound, "", time.Now()))), want: deniedDPoP, token: bound, twin: fresh()})
	add(attackCase{name: "a DPoP-bound token stolen from the query", attack: attackRequest{"/orders/1?access_token=" + bound, [][2]string{{"dpop", victim.DPoPProof("GET", htu, bound, "", time.Now())}}}, want: deniedDPoP, token: bound, twin: fresh()})
	add(attackCase{name: "a DPoP proof made for POST used on a GET (cross-method)", attack: onOrders(dpop(bound, victim.DPoPProof("POST", htu, bound, "", time.Now()))), want: deniedDPoP, token: bound, twin: fresh()})
	add(attackCase{name: "a DPoP proof made for another path (cross-URI)", attack: onOrders(dpop(bound, victim.DPoPProof("GET", "http://api.example/orders/2", bound, "", time.Now()))), want: deniedDPoP, token: bound, twin: fresh()})
	add(attackCase{name: "a DPoP proof made for another host (cross-URI)", attack: onOrders(dpop(bound, victim.DPoPProof("GET", "http://evil.example/orders/1", bound, "", time.Now()))), want: deniedDPoP, token: bound, twin: fresh()})
	other := sign(func(c map[string]any) { c["cnf"] = map[string]any{"jkt": victim.Thumbprint()}; c["sub"] = "mallory" }, nil)
	add(attackCase{name: "a DPoP proof whose ath is another token's (wrong ath)", attack: onOrders(dpop(bound, victim.DPoPProof("GET", htu, other, "", time.Now()))), want: deniedDPoP, token: bound, twin: fresh()})
	add(attackCase{name: "a DPoP proof without ath", attack: onOrders(dpop(bound, victim.DPoPProof("GET", htu, "", "", time.Now()))), want: deniedDPoP, token: bound, twin: fresh()})
	add(attackCase{name: "a DPoP proof made ten minutes ago", attack: onOrders(dpop(bound, victim.DPoPProof("GET", htu, bound, "", time.Now().Add(-10*time.Minute)))), want: deniedDPoP, token: bound, twin: fresh()})
	add(attackCase{name: "two DPoP proofs", attack: onOrders(append(dpop(bound, victim.DPoPProof("GET", htu, bound, "", time.Now())), [2]string{"dpop", victim.DPoPProof("GET", htu, bound, "", time.Now())})), want: deniedDPoP, token: bound, twin: fresh()})
	add(attackCase{name: "a token followed by junk", attack: onOrders([][2]string{{"authorization", "Bearer " + good + " junk"}}), want: deniedInvalid})
	// Envoy joins two Authorization headers into this one value: two tokens (DESIGN §3).
	add(attackCase{name: "a token followed by a comma and another", attack: onOrders([][2]string{{"authorization", "Bearer " + good + ", Bearer " + good}}), want: deniedMultiple})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Run("is refused as "+c.want.String(), func(t *testing.T) {
				logsBefore := len(a.h.Logs())
				d := a.decide(t, c.attack)
				requireOutcome(t, d, c.want)
				if c.token != "" && len(c.token) > 16 {
					sig := c.token[strings.LastIndexByte(c.token, '.')+1:]
					if len(sig) < 16 {
						sig = c.token
					}
					for _, h := range d.ResponseHeaders {
						if strings.Contains(h[1], sig) {
							t.Errorf("the answer header %s echoes the token", h[0])
						}
					}
					if strings.Contains(string(d.Body), sig) {
						t.Error("the answer body echoes the token")
					}
					for _, e := range a.h.Logs()[logsBefore:] {
						if strings.Contains(e.Message, sig) {
							t.Errorf("the log echoes the token: %q", e.Message)
						}
					}
				}
			})
			t.Run("while its valid twin passes", func(t *testing.T) {
				requireOutcome(t, a.decide(t, c.twin), allowed)
			})
		})
	}
	if n := a.h.Traps(); n != 0 {
		t.Errorf("the filter trapped %d times", n)
	}
	if v := a.h.Violations(); len(v) != 0 {
		t.Errorf("Envoy rule violations: %v", v)
	}
}

// Claim headers are what the filter vouches for: a client can never send
// them, on an open route, a denied one, or alongside a valid token.
func TestAttackClaimHeadersCannotBeSpoofed(t *testing.T) {
	rs := testjwt.CachedKey("RS256", "k1")
	a := newAttackHost(t, attackConfig(rs))
	good := rs.Sign(attackClaims(nil), nil)
	spoof := [][2]string{{"x-jwt-sub", "admin"}, {"X-JWT-Sub", "root"}, {"x-jwt-payload", seg(`{"sub":"admin","scope":"orders.read"}`)}}
	cases := []struct {
		name    string
		req     attackRequest
		want    outcome
		wantSub string
	}{
		{"on an open route the spoofed headers are removed", attackRequest{"/health", spoof}, allowed, ""},
		{"with a valid token only the verified sub is sent", attackRequest{"/orders/1", append(append([][2]string{}, spoof...), bearer(good)...)}, allowed, "alice"},
		{"with a valid token in the query only the verified sub is sent", attackRequest{"/orders/1?access_token=" + good, spoof}, allowed, "alice"},
		{"without a token the request is refused", attackRequest{"/orders/1", spoof}, deniedMissing, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := a.decide(t, c.req)
			requireOutcome(t, d, c.want)
			if c.want != allowed {
				return
			}
			var subs, payloads []string
			for _, h := range d.Headers {
				switch strings.ToLower(h[0]) {
				case "x-jwt-sub":
					subs = append(subs, h[1])
				case "x-jwt-payload":
					payloads = append(payloads, h[1])
				case "authorization":
					t.Error("the token was forwarded upstream")
				case ":path":
					if strings.Contains(h[1], "access_token") {
						t.Errorf("the query token was forwarded upstream: %s", h[1])
					}
				}
			}
			if c.wantSub == "" {
				if len(subs)+len(payloads) != 0 {
					t.Fatalf("spoofed headers reached the upstream: sub %q payload %q", subs, payloads)
				}
				return
			}
			if len(subs) != 1 || subs[0] != c.wantSub {
				t.Errorf("x-jwt-sub = %q, want only %q", subs, c.wantSub)
			}
			if len(payloads) != 1 || payloads[0] != strings.Split(good, ".")[1] {
				t.Errorf("x-jwt-payload = %q, want only the verified payload", payloads)
			}
		})
	}
	if n := a.h.Traps(); n != 0 {
		t.Errorf("the filter trapped %d times", n)
	}
}

// trimForName keeps subtest names readable.
func trimForName(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A verified token is cached per VM; the cache must never outlive exp. With
// no clock skew, a token allowed (and cached) on every worker is refused on
// every worker once its exp has passed on the real clock.
func TestAttackACachedTokenIsRefusedOnceExpired(t *testing.T) {
	rs := testjwt.CachedKey("RS256", "k1")
	cfg := strings.Replace(attackConfig(rs), `"max_lifetime_s":86400`, `"max_lifetime_s":86400,"clock_skew_s":0`, 1)
	a := newAttackHost(t, cfg)
	exp := time.Now().Add(2 * time.Second).Truncate(time.Second)
	tok := rs.Sign(attackClaims(func(c map[string]any) { c["exp"] = exp.Unix() }), nil)
	for w := range a.h.Workers() {
		for range 3 { // the second and third answers come from the cache
			d, err := a.h.DoOn(context.Background(), w, host.Request{Method: "GET", Path: "/orders/1", Authority: "api", Headers: bearer(tok)})
			if err != nil {
				t.Fatal(err)
			}
			requireOutcome(t, d, allowed)
		}
	}
	if hits, _ := a.h.Metric("scopegate.cache.hit"); hits == 0 {
		t.Fatal("the token was never served from the cache")
	}
	time.Sleep(time.Until(exp.Add(1100 * time.Millisecond)))
	for w := range a.h.Workers() {
		d, err := a.h.DoOn(context.Background(), w, host.Request{Method: "GET", Path: "/orders/1", Authority: "api", Headers: bearer(tok)})
		if err != nil {
			t.Fatal(err)
		}
		requireOutcome(t, d, deniedInvalid)
	}
}
