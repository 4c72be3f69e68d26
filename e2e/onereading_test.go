package e2e

// Issue 12, "one reading": every finding, sent as an attacker would through
// the compiled filter in the local proxy, to three kinds of upstream that
// read paths differently: Go's net/http ServeMux, Node's URL parser, and a
// servlet-style path reader. Each attack must be refused without the
// upstream receiving it, and its valid twin must reach the upstream handler
// it names. Each attack is also sent straight to each upstream (no proxy),
// and the test requires at least one upstream to serve it: so every case is
// a request some real reader would act on, and the refusal is the filter's.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/rawhttp"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// readerHit is what an upstream handler saw: the route it chose, the method
// (upper-cased, as such upstreams serve it), the path as it read it, and
// every value a CGI-style reader would see as HTTP_X_JWT_SUB.
type readerHit struct {
	Route  string   `json:"route"`
	Method string   `json:"method"`
	Path   string   `json:"path"`
	Sub    []string `json:"sub"`
}

// readerUpstream is one kind of upstream, running.
type readerUpstream struct {
	kind string // how it reads paths
	url  string
	seen func(t *testing.T) []readerHit
}

// routeOf is the route table every upstream implements, by whole segments.
func routeOf(path string) string {
	under := func(p string) bool { return path == p || strings.HasPrefix(path, p+"/") }
	switch {
	case under("/health"):
		return "health"
	case under("/health-internal"):
		return "health-internal"
	case under("/public"):
		return "public"
	case under("/oidc"):
		return "oidc"
	case under("/api/admin"):
		return "api-admin"
	case under("/api"):
		return "api"
	case path == "/admin" || path == "/admin/":
		return "admin"
	case under("/orders"):
		return "orders"
	case under("/reports"):
		return "reports"
	case under("/staff"):
		return "staff"
	}
	return "other"
}

// jwtSubValues folds header names as CGI does (HTTP_X_JWT_SUB).
func jwtSubValues(h http.Header) []string {
	var out []string
	for name, vs := range h {
		if strings.ReplaceAll(strings.ToLower(name), "_", "-") == "x-jwt-sub" {
			out = append(out, vs...)
		}
	}
	return out
}

// hitRecorder keeps what a Go upstream served.
type hitRecorder struct {
	mu   sync.Mutex
	hits []readerHit
}

func (h *hitRecorder) serve(w http.ResponseWriter, r *http.Request, route, path string) {
	hit := readerHit{Route: route, Method: strings.ToUpper(r.Method), Path: path, Sub: jwtSubValues(r.Header)}
	h.mu.Lock()
	h.hits = append(h.hits, hit)
	h.mu.Unlock()
	io.Copy(io.Discard, r.Body)
	w.Header().Set("content-type", "application/json")
	json.NewEncoder(w).Encode(hit)
}

func (h *hitRecorder) seen(*testing.T) []readerHit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]readerHit(nil), h.hits...)
}

// goMuxUpstream routes with net/http's ServeMux: it cleans the escaped path
// (redirecting when that changes it), then matches decoded segments, so
// "..;" and "%2e%2e" are names and "%2F" stays inside a segment.
func goMuxUpstream(t *testing.T) readerUpstream {
	rec := &hitRecorder{}
	mux := http.NewServeMux()
	for pattern, route := range map[string]string{
		"/health": "health", "/health/": "health", "/health-internal": "health-internal",
		"/public/": "public", "/oidc/": "oidc", "/api/admin/": "api-admin", "/api/": "api",
		"/admin": "admin", "/admin/": "admin", "/orders/": "orders", "/reports": "reports",
		"/staff": "staff", "/": "other",
	} {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { rec.serve(w, r, route, r.URL.Path) })
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return readerUpstream{kind: "Go net/http ServeMux", url: srv.URL, seen: rec.seen}
}

// servletPath reads a request target the way a permissive servlet
// container does (Tomcat with ALLOW_ENCODED_SLASH, or a container decoding
// "%3B"): "%3B" decoded to ";" first, then ";params" cut from every raw
// segment, then every escape decoded ("%2F" as a separator, "%5C" as a
// literal "\"), then dot segments resolved and empty segments merged.
func servletPath(target string) (string, bool) {
	raw, _, _ := strings.Cut(target, "?")
	raw = strings.NewReplacer("%3B", ";", "%3b", ";").Replace(raw)
	var segs []string
	for _, seg := range strings.Split(raw, "/")[1:] {
		seg, _, _ = strings.Cut(seg, ";")
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return "", false
		}
		segs = append(segs, strings.Split(dec, "/")...)
	}
	var out []string
	dir := false
	for _, s := range segs {
		dir = true
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
			dir = false
		}
	}
	p := "/" + strings.Join(out, "/")
	if dir && p != "/" {
		p += "/"
	}
	return p, true
}

func servletUpstream(t *testing.T) readerUpstream {
	rec := &hitRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := servletPath(r.RequestURI)
		if !ok {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		rec.serve(w, r, routeOf(p), p)
	}))
	t.Cleanup(srv.Close)
	return readerUpstream{kind: "servlet path reader", url: srv.URL, seen: rec.seen}
}

// nodeUpstream runs e2e/readers/node_upstream.mjs (plain Node, no packages).
func nodeUpstream(t *testing.T) readerUpstream {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node not found: %s", oidcInstallHint)
	}
	cmd := exec.Command("node", filepath.Join("readers", "node_upstream.mjs"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node: %v; %s", err, oidcInstallHint)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r struct {
				Ready bool `json:"ready"`
				Port  int  `json:"port"`
			}
			if json.Unmarshal(sc.Bytes(), &r) == nil && r.Ready {
				ready <- r.Port
			}
		}
	}()
	var port int
	select {
	case port = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the Node upstream did not start in 30 s")
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	return readerUpstream{kind: "Node URL parser", url: base, seen: func(t *testing.T) []readerHit {
		resp, err := http.Get(base + "/__seen")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var hits []readerHit
		if err := json.NewDecoder(resp.Body).Decode(&hits); err != nil {
			t.Fatal(err)
		}
		return hits
	}}
}

// rawSend sends r with its request line exactly as given.
func rawSend(t *testing.T, addr string, r rawRequest) (int, string) {
	t.Helper()
	status, body, err := rawhttp.Do(addr, r.method, r.target, r.headers, r.body)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

// rawRequest is one request as it goes on the wire.
type rawRequest struct {
	method, target string
	headers        [][2]string
	body           string
}

func get(target string, headers ...[2]string) rawRequest {
	return rawRequest{method: "GET", target: target, headers: headers}
}

// readingAttack is one finding of issue 12: the attack, the answer it must
// get, its valid twin with the route it must reach, and the route the
// attack reaches on some reader when sent to it directly (what the filter
// stands in front of; "" for request-target forms, which the proxy itself
// must refuse).
type readingAttack struct {
	finding   string
	name      string
	attack    rawRequest
	want      int
	twin      rawRequest
	twinRoute string
	escapesTo string
}

const (
	readingsIssuer   = "https://idp.readers.example/realms/demo"
	readingsAudience = "orders-api"
)

// readingsConfig guards the routes every upstream implements.
func readingsConfig(key *testjwt.Key) string {
	return `{"providers":[{"name":"idp","issuer":"` + readingsIssuer + `","audiences":["` + readingsAudience + `"],` +
		`"local_jwks":` + string(testjwt.JWKS(key)) + `,` +
		`"claim_to_headers":[{"claim":"sub","header":"x-jwt-sub"}],"forward_payload_header":"x-jwt-payload"}],
	"rules":[
	  {"match":{"path_separated_prefix":"/health","methods":["GET"]},"requires":{"allow":true}},
	  {"match":{"path_separated_prefix":"/public"},"requires":{"allow":true}},
	  {"match":{"path_separated_prefix":"/oidc"},"requires":{"scopes":["kong_api_access"]}},
	  {"match":{"path_separated_prefix":"/api/admin"},"requires":{"scopes":["admin"]}},
	  {"match":{"path_separated_prefix":"/api"},"requires":{"scopes":["read"]}},
	  {"match":{"path":"/admin"},"requires":{"scopes":["admin"]}},
	  {"match":{"prefix":"/orders","methods":["DELETE"]},"requires":{"scopes":["orders.delete"]}},
	  {"match":{"prefix":"/orders"},"requires":{"scopes":["read"]}},
	  {"match":{"path_separated_prefix":"/reports","methods":["GET"]},"requires":{"scopes":["reports.read"]}},
	  {"match":{"path_separated_prefix":"/staff"},"requires":{"claims":[{"path":"preferred_username","values":["admin"]}]}},
	  {"match":{"path":"*","methods":["OPTIONS"]},"requires":{"allow":true}}]}`
}

func TestAttackOneReadingThroughEachKindOfUpstream(t *testing.T) {
	key := testjwt.CachedKey("RS256", "readers")
	token := func(edit func(map[string]any), scopes ...string) [2]string {
		c := testjwt.Claims(readingsIssuer, "alice", time.Now(), scopes...)
		c["aud"] = readingsAudience
		if edit != nil {
			edit(c)
		}
		return [2]string{"authorization", "Bearer " + key.Sign(c, nil)}
	}
	read, admin, kong := token(nil, "read"), token(nil, "admin"), token(nil, "kong_api_access")
	var evilHits atomic.Int32 // requests that reached a host other than the upstream
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { evilHits.Add(1) }))
	defer evil.Close()
	evilAddr := strings.TrimPrefix(evil.URL, "http://")
	origin, acrm := [2]string{"Origin", "https://app.example"}, [2]string{"Access-Control-Request-Method", "POST"}

	attacks := []readingAttack{
		{"1 request-target forms", "an absolute-form target whose userinfo hides a host", get("http:@" + evilAddr + "/oidc/hello"), 400, get("/oidc/hello", kong), "oidc", ""},
		{"1 request-target forms", "the same with a token lacking the scope", get("http:@"+evilAddr+"/oidc/hello", read), 400, get("/oidc/hello", kong), "oidc", ""},
		{"1 request-target forms", "an absolute-form target naming another host", get("http://" + evilAddr + "/oidc/hello"), 400, get("/oidc/hello", kong), "oidc", ""},
		{"1 request-target forms", "an authority-form target", rawRequest{method: "CONNECT", target: evilAddr}, 400, get("/public/x"), "public", ""},
		{"1 request-target forms", "the asterisk-form with GET", get("*"), 400, rawRequest{method: "OPTIONS", target: "*"}, "", ""},
		{"1 request-target forms", "a fragment in the target", get("/health#/../admin"), 400, get("/health"), "health", ""},
		{"2 ..; climbs for one reader only", "/oidc/..;/health judged as /health", get("/oidc/..;/health"), 400, get("/health"), "health", "oidc"},
		{"2 ..; climbs for one reader only", "/api/admin/..;/x with a token lacking admin", get("/api/admin/..;/x", read), 400, get("/api/x", read), "api", "api-admin"},
		{"3 ;params", "a param on the first segment", get("/api;x/admin/users", read), 400, get("/api/admin/users", admin), "api-admin", "api-admin"},
		{"3 ;params", "a param on an exact path", get("/admin;x", read), 400, get("/admin", admin), "admin", "admin"},
		{"3 ;params", "an encoded ; that a container decodes", get("/admin%3Bx", read), 400, get("/admin", admin), "admin", "admin"},
		{"4 mixed separators", "%2F decoded and %5C not", get("/public/a%5Cb%2F..%2F..%2Fadmin"), 400, get("/public/a%5Cb"), "public", "admin"},
		{"4 mixed separators", "encoded slashes leaving an open route", get("/health%2F..%2F..%2Fadmin"), 400, get("/health/live"), "health", "admin"},
		{"4 mixed separators", "backslashes leaving an open route", get(`/health\..\admin`), 400, get("/health/live"), "health", "admin"},
		{"4 mixed separators", "encoded dots Go's ServeMux keeps as names", get("/api/admin/%2e%2e/%2e%2e/public/x", read), 400, get("/public/x"), "public", "api-admin"},
		{"4 mixed separators", "//host/path that Node reads as an authority", get("//public/admin", read), 400, get("/admin", admin), "admin", "admin"},
		{"4 mixed separators", "an escaped letter naming an exact rule", get("/%61dmin", read), 400, get("/admin", admin), "admin", "admin"},
		{"6 method case", "a lower-case delete without the scope", rawRequest{method: "delete", target: "/orders/1", headers: [][2]string{read}}, 403,
			rawRequest{method: "DELETE", target: "/orders/1", headers: [][2]string{token(nil, "orders.delete")}}, "orders", "orders"},
		{"6 method case", "a mixed-case Delete without the scope", rawRequest{method: "Delete", target: "/orders/1", headers: [][2]string{read}}, 403,
			rawRequest{method: "DELETE", target: "/orders/1", headers: [][2]string{token(nil, "orders.delete")}}, "orders", "orders"},
		{"7 HEAD", "HEAD on a GET-only rule without its scope", rawRequest{method: "HEAD", target: "/reports", headers: [][2]string{read}}, 403,
			rawRequest{method: "HEAD", target: "/reports", headers: [][2]string{token(nil, "reports.read")}}, "reports", "reports"},
		{"7 CORS preflight", "an OPTIONS preflight carrying a body", rawRequest{method: "OPTIONS", target: "/api/x", headers: [][2]string{origin, acrm}, body: `{"x":1}`}, 401,
			rawRequest{method: "OPTIONS", target: "/api/x", headers: [][2]string{origin, acrm}}, "api", "api"},
		{"7 claims compare whole strings", "preferred_username \"mallory admin\"", get("/staff", token(func(c map[string]any) { c["preferred_username"] = "mallory admin" })), 403,
			get("/staff", token(func(c map[string]any) { c["preferred_username"] = "admin" })), "staff", "staff"},
		{"7 path_separated_prefix", "/health-internal next to an open /health", get("/health-internal"), 401, get("/health/live"), "health", "health-internal"},
		{"7 exact path", "/admin/ next to an exact /admin", get("/admin/", read), 400, get("/admin", admin), "admin", "admin"},
		{"7 exact path", "/admin/. next to an exact /admin", get("/admin/.", read), 400, get("/admin", admin), "admin", "admin"},
	}

	upstreams := []readerUpstream{goMuxUpstream(t), nodeUpstream(t), servletUpstream(t)}
	// servedBy[i] lists the upstreams that serve attack i when it is sent
	// to them directly: the readers the attack works against.
	servedBy := make([][]string, len(attacks))
	for _, up := range upstreams {
		t.Run("through the proxy to a "+up.kind, func(t *testing.T) {
			p := startFilterProxy(t, readingsConfig(key), nil, func(c *host.Config) { c.Upstream = up.url })
			proxyAddr := strings.TrimPrefix(p.URL, "http://")
			upAddr := strings.TrimPrefix(up.url, "http://")
			for i, a := range attacks {
				t.Run("finding "+a.finding+": "+a.name, func(t *testing.T) {
					t.Run(fmt.Sprintf("is refused with %d and never reaches the upstream", a.want), func(t *testing.T) {
						before := len(up.seen(t))
						status, body := rawSend(t, proxyAddr, a.attack)
						if status != a.want {
							t.Errorf("status %d %s, want %d", status, body, a.want)
						}
						if after := up.seen(t); len(after) != before {
							t.Fatalf("the upstream received it: %+v", after[before:])
						}
						if n := evilHits.Load(); n != 0 {
							t.Fatalf("another host received %d requests", n)
						}
					})
					t.Run("while its valid twin reaches "+a.twinRoute, func(t *testing.T) {
						before := len(up.seen(t))
						status, body := rawSend(t, proxyAddr, a.twin)
						if status != 200 {
							t.Fatalf("status %d %s, want 200", status, body)
						}
						if a.twinRoute == "" {
							return // OPTIONS *: Go's server answers it itself
						}
						after := up.seen(t)
						if len(after) != before+1 || after[before].Route != a.twinRoute {
							t.Fatalf("the upstream saw %+v, want one request on %s", after[before:], a.twinRoute)
						}
					})
					if a.escapesTo != "" {
						// Straight to the upstream: which route does this reader serve it on?
						before := len(up.seen(t))
						rawSend(t, upAddr, a.attack)
						if after := up.seen(t); len(after) == before+1 && after[before].Route == a.escapesTo {
							servedBy[i] = append(servedBy[i], up.kind)
						}
					}
				})
			}
			p.requireClean(t)
		})
	}
	t.Run("every attack reaches its guarded route on some reader when nothing stands in between", func(t *testing.T) {
		for i, a := range attacks {
			if a.escapesTo == "" {
				continue
			}
			if len(servedBy[i]) == 0 {
				t.Errorf("%s: no upstream serves %s %s on %s, so the case proves nothing", a.name, a.attack.method, a.attack.target, a.escapesTo)
				continue
			}
			t.Logf("%s (%s %s) reaches %s directly on: %s", a.name, a.attack.method, a.attack.target, a.escapesTo, strings.Join(servedBy[i], ", "))
		}
	})
}

// Claim headers in every spelling a server folds into one name never reach
// an upstream: not on an open route, not next to the verified one.
func TestAttackClaimHeadersInEverySpellingThroughEachKindOfUpstream(t *testing.T) {
	key := testjwt.CachedKey("RS256", "readers")
	c := testjwt.Claims(readingsIssuer, "alice", time.Now(), "read")
	c["aud"] = readingsAudience
	good := [2]string{"authorization", "Bearer " + key.Sign(c, nil)}
	spoofs := [][2]string{{"x_jwt_sub", "admin"}, {"X_JWT_SUB", "admin"}, {"x-jwt_sub", "admin"}, {"X-Jwt-Sub", "admin"}}
	for _, up := range []readerUpstream{goMuxUpstream(t), nodeUpstream(t), servletUpstream(t)} {
		t.Run("through the proxy to a "+up.kind, func(t *testing.T) {
			p := startFilterProxy(t, readingsConfig(key), nil, func(c *host.Config) { c.Upstream = up.url })
			addr := strings.TrimPrefix(p.URL, "http://")
			for _, tc := range []struct {
				name    string
				req     rawRequest
				wantSub []string
			}{
				{"on an open route no spelling reaches the upstream", get("/public/x", spoofs...), nil},
				{"next to a valid token only the verified sub arrives", get("/api/x", append([][2]string{good}, spoofs...)...), []string{"alice"}},
				{"valid twin: without spoofs the verified sub arrives", get("/api/x", good), []string{"alice"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before := len(up.seen(t))
					if status, body := rawSend(t, addr, tc.req); status != 200 {
						t.Fatalf("status %d %s", status, body)
					}
					after := up.seen(t)
					if len(after) != before+1 {
						t.Fatalf("the upstream saw %d requests, want 1", len(after)-before)
					}
					if got := after[before].Sub; strings.Join(got, ",") != strings.Join(tc.wantSub, ",") {
						t.Fatalf("HTTP_X_JWT_SUB = %q, want %q", got, tc.wantSub)
					}
				})
			}
			p.requireClean(t)
		})
	}
}
