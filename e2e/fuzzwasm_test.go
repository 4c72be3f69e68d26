package e2e

// FuzzWasmRequest drives the compiled filter in the host with random request
// paths, headers and tokens, and random identity-provider answers (status,
// headers, body) to the callouts the filter makes. One host serves every
// execution of a fuzzing process. Invariants: the VM never traps or breaks
// an Envoy rule, no request waits past its deadline, every answer is in the
// documented set (continue, 400, 401, 403, 503), and a protected route is
// never let through without a token signed by the real key.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// fuzzAnswer is what the fake identity provider answers next.
type fuzzAnswer struct {
	status  int
	headers [][2]string
	body    []byte
}

// Token placements chosen by the fuzzer.
const (
	fuzzTokenRaw     = iota // the fuzzed string in the Authorization header
	fuzzTokenValid          // the valid token
	fuzzTokenRotated        // a valid signature under an unknown kid: forces a refetch callout
	fuzzTokenQuery          // the fuzzed string as access_token
	fuzzTokenNone           // no token
	fuzzTokenPlacements
)

func FuzzWasmRequest(f *testing.F) {
	key := testjwt.CachedKey("RS256", "fuzz-1")
	jwks := testjwt.JWKS(key)
	var answer atomic.Pointer[fuzzAnswer]
	answer.Store(&fuzzAnswer{status: 200, body: jwks})
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answer.Load()
		for _, h := range a.headers {
			w.Header().Add(h[0], h[1])
		}
		w.WriteHeader(a.status)
		w.Write(a.body)
	}))
	f.Cleanup(idp.Close)

	cfg := `{"providers":[{"name":"idp","issuer":"` + filterIssuer + `","remote_jwks":{"cluster":"idp","uri":"http://idp.internal/certs",` +
		`"timeout_ms":500,"cache_duration_s":600,"refetch_min_interval_s":0},"from_params":["access_token"],` +
		`"claim_to_headers":[{"claim":"sub","header":"x-jwt-sub"}]}],` +
		`"rules":[{"match":{"prefix":"/orders"},"requires":{"scopes":["orders.read"]}},{"match":{"prefix":"/open"},"requires":{"allow":true}}]}`
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	h, err := host.New(ctx, host.Config{Module: filterModule(f), PluginConfig: []byte(cfg), Workers: 2,
		Clusters: map[string]string{"idp": idp.URL}, Log: io.Discard})
	cancel()
	if err != nil {
		f.Fatalf("host.New: %v", err)
	}
	f.Cleanup(func() { h.Close(context.Background()) })

	valid := key.Sign(testjwt.Claims(filterIssuer, "alice", time.Now(), "orders.read"), nil)
	rotated := key.Sign(testjwt.Claims(filterIssuer, "alice", time.Now(), "orders.read"), map[string]any{"kid": "fuzz-rotated"})
	// Wait for the first key set on every worker, so the valid token's
	// answers are meaningful from the first execution.
	deadline := time.Now().Add(20 * time.Second)
	for w := 0; w < h.Workers(); {
		d, err := h.DoOn(context.Background(), w, host.Request{Method: "GET", Path: "/orders", Authority: "api", Headers: bearer(valid)})
		switch {
		case err == nil && d.Continue:
			w++
		case time.Now().After(deadline):
			f.Fatalf("no key set on worker %d: %d %s %v", w, d.Status, d.Body, err)
		default:
			time.Sleep(50 * time.Millisecond)
		}
	}

	f.Add("/orders/1", "accept: */*\nx-jwt-sub: admin", "x.y.z", uint8(fuzzTokenRaw), 200, "content-type: application/json", jwks)
	f.Add("/orders/1", "", "", uint8(fuzzTokenValid), 200, "", jwks)
	f.Add("/orders/1?a=b", "cookie: a=b", "", uint8(fuzzTokenRotated), 200, "", testjwt.JWKS(key.WithKid("fuzz-rotated")))
	f.Add("/orders/1", "", "", uint8(fuzzTokenRotated), 500, "", []byte("internal error"))
	f.Add("/orders/1", "", "", uint8(fuzzTokenRotated), 200, "content-type: text/html", []byte("<html>login</html>"))
	f.Add("/orders/1", "", "", uint8(fuzzTokenRotated), 200, "", jwks[:len(jwks)/2])
	f.Add("/orders/1", "", "", uint8(fuzzTokenRotated), 200, "", []byte(`{"keys":[]}`))
	f.Add("/orders/1", "", "", uint8(fuzzTokenRotated), 404, "", []byte{})
	f.Add("/open/../orders", "authorization: Bearer  \nauthorization: basic x", "e30.e30.e30", uint8(fuzzTokenQuery), 200, "", jwks)
	f.Add("/orders", "x-scopegate-test-panic: 1", valid[:len(valid)-3]+"AAA", uint8(fuzzTokenRaw), 200, "", jwks)
	f.Add("/x", "", "eyJhbGciOiJub25lIn0.e30.", uint8(fuzzTokenRaw), 200, "", jwks)
	f.Add("/orders", "", "", uint8(fuzzTokenNone), 302, "location: http://evil/", []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"fuzz-rotated","alg":"HS256"}]}`))

	f.Fuzz(func(t *testing.T, path, headerBlob, token string, placement uint8, status int, calloutHeaders string, calloutBody []byte) {
		path = fuzzPath(path)
		headers := fuzzHeaders(headerBlob, false)
		switch placement % fuzzTokenPlacements {
		case fuzzTokenRaw:
			headers = append(headers, [2]string{"authorization", "Bearer " + fuzzValue(token)})
		case fuzzTokenValid:
			headers = append(headers, bearer(valid)...)
		case fuzzTokenRotated:
			headers = append(headers, bearer(rotated)...)
		case fuzzTokenQuery:
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			path += sep + "access_token=" + url.QueryEscape(token)
		}
		if status < 200 || status > 599 {
			status = 200 + (status%400+400)%400
		}
		answer.Store(&fuzzAnswer{status: status, headers: fuzzHeaders(calloutHeaders, true), body: calloutBody})

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, err := h.Do(ctx, host.Request{Method: "GET", Path: path, Authority: "api", Headers: headers})
		if err != nil {
			t.Fatalf("the request was not answered: %v", err)
		}
		if n := h.Traps(); n != 0 {
			t.Fatalf("the filter trapped (%d)", n)
		}
		if v := h.Violations(); len(v) != 0 {
			t.Fatalf("Envoy rule violations: %v", v)
		}
		if !d.Continue {
			switch d.Status {
			case 400, 401, 403, 503:
			default:
				t.Fatalf("undocumented answer %d %s", d.Status, d.Body)
			}
			return
		}
		pathOnly, _, _ := strings.Cut(path, "?")
		if strings.HasPrefix(pathOnly, "/open") {
			return
		}
		// Only tokens signed with the real private key may pass: the valid
		// one, or the rotated one once a fuzzed JWKS published its kid.
		unescaped, _ := url.QueryUnescape(path)
		carried := false
		for _, tok := range []string{valid, rotated} {
			carried = carried || strings.Contains(path, tok) || strings.Contains(unescaped, tok)
			for _, hv := range headers {
				carried = carried || strings.Contains(hv[1], tok)
			}
		}
		if !carried {
			t.Fatalf("a protected request was let through without a genuinely signed token: %s %q", path, headers)
		}
	})
}

// fuzzPath makes any string a request path a proxy would pass on.
func fuzzPath(s string) string {
	var b strings.Builder
	b.WriteByte('/')
	for i := 0; i < len(s) && b.Len() < 2048; i++ {
		if c := s[i]; c > ' ' && c != 0x7f {
			b.WriteByte(c)
		}
	}
	p := b.String()
	if strings.HasPrefix(p, "//") {
		p = p[1:]
	}
	return p
}

// fuzzValue drops the bytes an HTTP codec would refuse in a header value.
func fuzzValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0 || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// fuzzHeaders reads "name: value" lines into at most 64 headers; strict
// keeps names to token characters (for the Go HTTP server's answers).
func fuzzHeaders(blob string, strict bool) [][2]string {
	var out [][2]string
	for _, line := range strings.Split(blob, "\n") {
		name, value, ok := strings.Cut(line, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || name == "" || strings.HasPrefix(name, ":") || len(out) == 64 {
			continue
		}
		if strict {
			clean := true
			for i := 0; i < len(name); i++ {
				c := name[i]
				clean = clean && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
			}
			if !clean || name == "content-length" || name == "transfer-encoding" {
				continue
			}
			value = strconv.Quote(value)
			value = value[1 : len(value)-1]
		}
		out = append(out, [2]string{name, fuzzValue(strings.TrimSpace(value))})
	}
	return out
}
