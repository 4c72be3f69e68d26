package host

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// maxRequestBody bounds a request body buffered for the filter; a larger one
// is answered 413.
const maxRequestBody = 32 << 20

// hopHeaders are connection-level headers a proxy never forwards.
var hopHeaders = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "te": true,
	"trailer": true, "transfer-encoding": true, "upgrade": true,
}

// Handler is a reverse proxy to Config.Upstream that runs every request
// through the filter: request headers (and body), then, when the filter lets
// it through, the upstream's response headers. Header mutations are applied;
// local responses are returned as the filter made them; a failed VM answers 503.
func (h *Host) Handler() http.Handler {
	return http.HandlerFunc(h.serveHTTP)
}

func (h *Host) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxRequestBody {
		// Envoy answers 413 when a body overflows its buffer; a cut body
		// must never reach the filter or the upstream as if complete.
		http.Error(w, "Payload Too Large", http.StatusRequestEntityTooLarge)
		return
	}
	// Only origin-form reaches the filter and the upstream, byte for byte
	// as the client sent it: an absolute-form target would otherwise be
	// judged as a path and then name a host of its own (issue 12).
	if !forwardableTarget(r.Method, r.RequestURI) {
		http.Error(w, "the request target must be an origin-form path (or * for OPTIONS)", http.StatusBadRequest)
		return
	}
	req := Request{
		Method:     r.Method,
		Path:       r.RequestURI,
		Authority:  r.Host,
		Body:       body,
		Scheme:     "http",
		RemoteAddr: r.RemoteAddr,
	}
	if r.TLS != nil {
		req.Scheme = "https"
		if len(r.TLS.PeerCertificates) > 0 {
			req.ClientCertificate = r.TLS.PeerCertificates[0].Raw
		}
	}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if hopHeaders[lk] {
			continue
		}
		for _, val := range vs {
			req.Headers = append(req.Headers, [2]string{lk, val})
		}
	}
	// Envoy's connection manager adds these before any filter runs.
	if _, ok := lookupHeader(req.Headers, "x-forwarded-proto"); !ok {
		req.Headers = append(req.Headers, [2]string{"x-forwarded-proto", req.Scheme})
	}
	if _, ok := lookupHeader(req.Headers, "x-request-id"); !ok {
		req.Headers = append(req.Headers, [2]string{"x-request-id", newRequestID()})
	}
	v := h.workers[h.pick()]
	s, d, err := v.startStream(r.Context(), req)
	if s != nil {
		defer v.endStream(s)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusGatewayTimeout)
		return
	}
	if !d.Continue {
		writeLocal(w, d)
		return
	}
	resp, err := h.forward(r, d)
	if err != nil {
		// Envoy's answer when the upstream cannot be reached.
		h.log(LogDebug, v.name, "upstream request failed: "+err.Error())
		http.Error(w, "upstream connect error or disconnect/reset before headers", http.StatusServiceUnavailable)
		return
	}
	defer resp.Body.Close()
	var respHeaders [][2]string
	for k, vs := range resp.Header {
		lk := strings.ToLower(k)
		if hopHeaders[lk] {
			continue
		}
		for _, val := range vs {
			respHeaders = append(respHeaders, [2]string{lk, val})
		}
	}
	mutated, local, err := v.responseHeaders(r.Context(), s, resp.StatusCode, respHeaders)
	if err != nil {
		http.Error(w, err.Error(), http.StatusGatewayTimeout)
		return
	}
	if local != nil {
		writeLocal(w, *local)
		return
	}
	status := resp.StatusCode
	for _, p := range mutated {
		if p[0] == ":status" {
			if n, err := strconv.Atoi(p[1]); err == nil {
				status = n
			}
			continue
		}
		if strings.HasPrefix(p[0], ":") {
			continue
		}
		w.Header().Add(p[0], p[1])
	}
	w.WriteHeader(status)
	io.Copy(w, resp.Body)
}

// newRequestID returns a random UUID (version 4), as Envoy generates for x-request-id.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// forwardableTarget reports whether target is one the proxy forwards:
// origin-form ("/path?query", RFC 9112 §3.2.1) without a fragment, or "*"
// for OPTIONS. Absolute-form, authority-form (CONNECT) and anything else is
// refused.
func forwardableTarget(method, target string) bool {
	if target == "*" {
		return method == http.MethodOptions
	}
	return strings.HasPrefix(target, "/") && !strings.ContainsRune(target, '#')
}

// forward sends the filtered request to the configured upstream. The URL is
// the upstream's scheme and host with the request target carried opaquely,
// so nothing in the request (or in a :path the filter set) can choose
// another host or be re-encoded on the way.
func (h *Host) forward(r *http.Request, d Decision) (*http.Response, error) {
	if h.upstream == nil {
		return nil, fmt.Errorf("no upstream configured")
	}
	method := headerValue(d.Headers, ":method")
	target := headerValue(d.Headers, ":path")
	if !forwardableTarget(method, target) {
		return nil, fmt.Errorf("the filter left a :path that is not origin-form: %q", target)
	}
	u := &url.URL{Scheme: h.upstream.Scheme, Host: h.upstream.Host, Opaque: target}
	if target != "*" {
		u.Opaque = strings.TrimSuffix(h.upstream.EscapedPath(), "/") + target
		if strings.HasPrefix(u.Opaque, "//") {
			// Go writes an opaque "//x" as "http://x" (an authority); the
			// absolute-form with the upstream's own authority keeps the path
			// "//x" intact and still names only the upstream.
			u.Opaque = "//" + h.upstream.Host + u.Opaque
		}
	}
	out, err := http.NewRequestWithContext(r.Context(), method, h.upstream.Scheme+"://"+h.upstream.Host+"/", bytes.NewReader(d.RequestBody))
	if err != nil {
		return nil, err
	}
	out.URL = u
	out.Host = headerValue(d.Headers, ":authority")
	for _, p := range d.Headers {
		if strings.HasPrefix(p[0], ":") || hopHeaders[p[0]] || p[0] == "content-length" || p[0] == "host" {
			continue
		}
		out.Header.Add(p[0], p[1])
	}
	return h.client.Do(out)
}

// writeLocal writes a local response (or aborts the connection for a reset stream).
func writeLocal(w http.ResponseWriter, d Decision) {
	if d.Status == 0 {
		panic(http.ErrAbortHandler)
	}
	for _, p := range d.ResponseHeaders {
		if strings.HasPrefix(p[0], ":") {
			continue
		}
		w.Header().Add(p[0], p[1])
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(d.Body)))
	w.WriteHeader(d.Status)
	w.Write(d.Body)
}

// AdminHandler serves /stats (Envoy's text format; wasm metrics as
// "wasmcustom.<name>: <value>", optional ?filter=<regexp>), /ready and /logs.
func (h *Host) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		keep := func(string) bool { return true }
		if f := r.URL.Query().Get("filter"); f != "" {
			re, err := regexp.Compile(f)
			if err != nil {
				http.Error(w, "filter: "+err.Error(), http.StatusBadRequest)
				return
			}
			keep = re.MatchString
		}
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		h.writeStats(w, keep)
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "LIVE\n")
	})
	mux.HandleFunc("/logs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		for _, e := range h.Logs() {
			fmt.Fprintf(w, "[%s][%s] %s: %s\n", e.Time.UTC().Format("2006-01-02 15:04:05.000"), e.Level, e.Plugin, e.Message)
		}
	})
	return mux
}

// writeStats writes the plugin metrics and the host's own counters.
func (h *Host) writeStats(w io.Writer, keep func(string) bool) {
	own := []struct {
		name  string
		value int
	}{
		{"wasm.host.callouts", h.CalloutCount()},
		{"wasm.host.foreign_calls", h.ForeignCalls()},
		{"wasm.host.traps", h.Traps()},
		{"wasm.host.violations", len(h.Violations())},
		{"wasm.host.workers", len(h.workers)},
	}
	for _, o := range own {
		if keep(o.name) {
			fmt.Fprintf(w, "%s: %d\n", o.name, o.value)
		}
	}
	h.metrics.writeStats(w, keep)
}
