package filter

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/jwt"
)

// httpContext is one request stream.
type httpContext struct {
	types.DefaultHttpContext
	id     uint32
	plugin *pluginContext

	held      bool        // the headers were not let through (parked or answered)
	bodyless  bool        // on_request_headers came with end_of_stream: no body follows
	parked    bool        // waiting in the key store for keys
	stripped  bool        // spoofable headers already removed
	looked    bool        // the cache lookup was counted (a resumed stream looks again)
	kid       kidSighting // the unknown kid this stream waited on, if any
	nextNonce string      // a fresh DPoP nonce for the response (dpop.go)
	req       request     // the request as the current callback read it (readRequest)
}

// OnHttpRequestHeaders authorizes the request (DESIGN §3, §4).
func (h *httpContext) OnHttpRequestHeaders(_ int, endOfStream bool) types.Action {
	testPanicHook()
	h.bodyless = endOfStream
	action := h.authorize()
	h.held = action != types.ActionContinue
	return action
}

// OnHttpRequestBody keeps a held request held: Envoy takes Continue from a
// body callback as "continue the stopped headers too", which would send a
// request still waiting for keys upstream unverified.
func (h *httpContext) OnHttpRequestBody(int, bool) types.Action { return h.bodyAction() }

// OnHttpRequestTrailers: as OnHttpRequestBody.
func (h *httpContext) OnHttpRequestTrailers(int) types.Action { return h.bodyAction() }

func (h *httpContext) bodyAction() types.Action {
	if h.held {
		return types.ActionPause
	}
	return types.ActionContinue
}

// OnHttpStreamDone forgets a stream that ended while waiting for keys.
func (h *httpContext) OnHttpStreamDone() {
	if h.parked {
		h.parked = false
		h.plugin.keys.cancel(h.id)
	}
}

// resume is called by the key store (with this stream made effective) when
// the keys this stream waited for arrived or could not be fetched.
func (h *httpContext) resume() {
	h.parked = false
	if h.authorize() == types.ActionContinue {
		h.held = false
		if err := abi.ResumeHttpRequest(); err != nil {
			abi.LogWarn("resuming the request failed: " + err.Error())
		}
	}
}

// authorize decides the request. It returns Continue when the request may
// go upstream, and Pause when it was answered locally or parked waiting for
// keys. A panic here (a bug) is turned into a 500, never into an allow.
//
// A cache hit costs one read of the header map (readRequest), the rule
// match, the clock, a cache lookup and the requirement's remembered
// decision, then the host calls that edit the request and count it.
func (h *httpContext) authorize() (action types.Action) {
	pc := h.plugin
	r := &h.req
	defer func() {
		if rec := recover(); rec != nil {
			msg := "internal error"
			if s, ok := rec.(string); ok {
				msg += ": " + s
			} else if e, ok := rec.(error); ok {
				msg += ": " + e.Error()
			}
			h.parked = false
			pc.send(&denial{kind: denyInternal, description: "internal error", reason: msg}, r.method, r.path)
			action = types.ActionPause
		}
	}()
	cfg := pc.cfg
	if cfg == nil {
		// on_configure failed; a proxy would not send requests, but fail closed.
		pc.send(&denial{kind: denyUnavailable, description: "the filter is not configured", reason: "no valid configuration"}, "", "")
		return types.ActionPause
	}
	var err error
	if hook := pc.vm.readHook; hook != nil {
		err = hook(h) // tests: the reference reading (reference_test.go)
	} else {
		err = pc.readRequest(h)
	}
	if err != nil {
		*r = request{}
		pc.send(&denial{kind: denyInternal, description: "internal error", reason: "reading request headers: " + err.Error()}, "", "")
		return types.ActionPause
	}
	method, path := r.method, r.path
	// Methods compare case-insensitively: upstreams upper-case "delete".
	req, verdict := cfg.requirementFor(path, strings.ToUpper(method))
	if verdict == pathNotOriginForm {
		pc.send(&denial{kind: denyBadRequest, description: "the request target is not an origin-form path",
			reason: "request target is not origin-form and no rule allows it"}, method, path)
		return types.ActionPause
	}
	// A POST that a framework serves as the method an override header or
	// ?_method= names must not escape that method's rule (methodoverride.go).
	if verdict == pathOK && cfg.methodOverrideDiffers(r, path, req) {
		pc.send(&denial{kind: denyBadRequest, description: "the request method is ambiguous",
			reason: "a method override selects another rule than the request method"}, method, path)
		return types.ActionPause
	}
	if cfg.BypassCORSPreflight && method == "OPTIONS" && h.bodyless && isPreflight(r.headers) {
		pc.m.allowed.Increment(1)
		return types.ActionContinue
	}
	switch verdict {
	case pathAmbiguous:
		pc.send(&denial{kind: denyBadRequest, description: "the request path is ambiguous",
			reason: "readings of the path select different rules"}, method, path)
		return types.ActionPause
	case pathTooComplex:
		pc.send(&denial{kind: denyBadRequest, description: "the request path is ambiguous",
			reason: "the path has too many readings to judge"}, method, path)
		return types.ActionPause
	}
	if req.alwaysAllows {
		pc.m.allowed.Increment(1)
		return types.ActionContinue
	}

	tok, n := r.token, r.tokens
	switch {
	case n > 1:
		pc.send(moreThanOneToken(), method, path)
		return types.ActionPause
	case n == 0:
		if req.allowsMissed {
			pc.m.allowed.Increment(1)
			return types.ActionContinue
		}
		d := req.missing
		if d == nil {
			d = cfg.missingToken(req)
		}
		pc.send(d, method, path)
		return types.ActionPause
	case len(tok.raw) > cfg.MaxTokenBytes && tok.joined():
		pc.send(moreThanOneToken(), method, path)
		return types.ActionPause
	case len(tok.raw) > cfg.MaxTokenBytes:
		pc.send(&denial{kind: denyInvalid, description: "token too large",
			reason: "token too large"}, method, path)
		return types.ActionPause
	}

	now := pc.now()
	first := !h.looked
	h.looked = true
	if vt, ok := pc.cache.get(tok.raw, now, pc.currentKeys); ok && req.providers.has(vt.provider.Index) {
		if first {
			pc.m.cacheHit.Increment(1)
		}
		return h.finish(req, vt, tok)
	}
	if tok.joined() { // two tokens joined: no cached token matched them
		pc.send(moreThanOneToken(), method, path)
		return types.ActionPause
	}
	if first {
		pc.m.cacheMiss.Increment(1)
	}

	// The token was read in place, from memory the next request reuses:
	// from here on (parsing, the cache) it needs its own copy. It is parsed
	// into the plugin's reused Token (callbacks never nest, so one
	// authorize at a time uses it; nothing keeps it past this call, and
	// what the cache keeps of it, the payload, is new per token).
	tok.raw = strings.Clone(tok.raw)
	t := &pc.parsed
	if err := jwt.ParseInto(t, tok.raw, cfg.MaxTokenBytes); err != nil {
		h.sendInvalid(err, "", method, path)
		return types.ActionPause
	}
	// The unverified iss only picks the provider; verification decides.
	// Claims are read where Parse's one pass over the payload found them.
	issuer, _ := t.Issuer()
	var (
		firstErr    error
		unavailable bool
		tried       bool
	)
	for pass := 0; pass < 2; pass++ {
		for _, p := range cfg.Providers {
			// First pass: providers whose issuer matches; second: issuer-less ones.
			if !req.providers.has(p.Index) || (pass == 0) != (p.Issuer != "") || (pass == 0 && p.Issuer != issuer) {
				continue
			}
			tried = true
			set, status := pc.keys.keys(p)
			switch status {
			case keysPending:
				if pc.keys.waitForKeys(p, h.id, h.resume) {
					h.parked = true
					return types.ActionPause
				}
				pc.send(&denial{kind: denyUnavailable, description: "signing keys are not available yet, try again later",
					reason: "too many requests waiting for the keys of provider " + p.Name, iss: issuer}, method, path)
				return types.ActionPause
			case keysUnavailable:
				unavailable = true
				continue
			}
			key, err := pc.verifySignature(set, t, p.Algorithms)
			if jwt.ReasonOf(err) == jwt.ReasonUnknownKid {
				switch pc.keys.unknownKid(p, t.Kid, &h.kid, h.id, h.resume) {
				case kidWaiting:
					h.parked = true
					return types.ActionPause
				case kidAdopted:
					set, _ = pc.keys.keys(p)
					key, err = pc.verifySignature(set, t, p.Algorithms)
				}
			}
			if jwt.ReasonOf(err) == jwt.ReasonUnverifiable {
				pc.send(&denial{kind: denyUnavailable, description: "the token signature could not be checked, try again later",
					reason: `the proxy's verify_signature could not check the token signature (host_crypto "require")`, iss: issuer}, method, path)
				return types.ActionPause
			}
			if err == nil {
				var claims jwt.Claims
				var cnf jwt.Confirmation
				claims, err = p.Validator.ValidateToken(t, now)
				if err == nil {
					cnf, err = t.Confirmation()
				}
				if err == nil {
					vt := verifiedToken{
						provider:    p,
						payload:     t.Payload,
						scopes:      t.Scopes(p.ScopeClaims),
						sub:         claims.Sub,
						iss:         claims.Iss,
						cnf:         cnf,
						claimValues: claimValues(t, p.ClaimToHeaders),
					}
					exp := time.Time{}
					if claims.HasExp {
						exp = unixTime(claims.Exp).Add(p.ClockSkew)
					}
					pc.cache.put(tok.raw, vt, set, key, exp, claims.HasExp, now)
					return h.finish(req, &vt, tok)
				}
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	switch {
	case unavailable:
		pc.send(&denial{kind: denyUnavailable, description: "signing keys could not be obtained, try again later",
			reason: "signing keys could not be obtained", iss: issuer}, method, path)
	case !tried:
		pc.send(&denial{kind: denyInvalid, description: "token issuer is not accepted",
			reason: "no provider accepts the token issuer", iss: issuer}, method, path)
	default:
		h.sendInvalid(firstErr, issuer, method, path)
	}
	return types.ActionPause
}

// moreThanOneToken is the 400 for a request with two tokens, or a header
// holding two joined with ",".
func moreThanOneToken() *denial {
	return &denial{kind: denyBadRequest, description: "the request carries more than one access token",
		reason: "more than one token in the request"}
}

// sendInvalid answers 401 invalid_token with the jwt package's client-safe
// text, an answer rendered once per text (invalidAnswers); iss, unverified,
// goes only into this request's log line.
func (h *httpContext) sendInvalid(err error, iss, method, path string) {
	pc := h.plugin
	pc.sendFor(pc.invalid.denial(invalidDescription(err), pc.cfg.Realm), iss, method, path)
}

// invalidDescription is the 401's description for a rejected token.
func invalidDescription(err error) string {
	// The jwt package's errors come unwrapped; errors.As walks with
	// reflection (microseconds in wasm, on every forged token).
	if je, ok := err.(*jwt.Error); ok {
		return je.Error()
	} else if wrapped := (*jwt.Error)(nil); errors.As(err, &wrapped) {
		return wrapped.Error()
	}
	return "invalid token"
}

// finish checks a verified token's sender constraints (certbound.go,
// dpop.go: 401), applies the requirement (403) and either lets the request
// through (removing the token and its DPoP proof, setting claim headers) or
// answers it.
func (h *httpContext) finish(req *Requirement, vt *verifiedToken, tok foundToken) types.Action {
	pc := h.plugin
	r := &h.req
	d := h.checkCertificate(vt, r.headers)
	if d == nil {
		d = h.checkDPoP(vt, tok, r.headers, r.method, r.path)
	}
	if d != nil {
		h.nextNonce = ""
		pc.send(d, r.method, r.path)
		return types.ActionPause
	}
	if d := vt.decide(req); d != nil {
		pc.send(d, r.method, r.path)
		return types.ActionPause
	}
	p := vt.provider
	if !p.Forward {
		if r.dpop {
			_ = abi.RemoveHttpRequestHeader("dpop")
		}
		switch tok.place {
		case inHeader:
			_ = abi.RemoveHttpRequestHeader(tok.name)
		case inParam:
			_ = abi.ReplaceHttpRequestHeader(":path", withoutParam(r.path, tok.name))
		case inCookie:
			if rest := withoutCookie(r.headers, tok.name); rest != "" {
				_ = abi.ReplaceHttpRequestHeader("cookie", rest)
			} else {
				_ = abi.RemoveHttpRequestHeader("cookie")
			}
		}
	}
	if p.PayloadHeader != "" {
		// Like Envoy's forward_payload_header: the payload segment, base64url.
		if first := strings.IndexByte(tok.raw, '.'); first >= 0 {
			if second := strings.IndexByte(tok.raw[first+1:], '.'); second >= 0 {
				_ = abi.ReplaceHttpRequestHeader(p.PayloadHeader, tok.raw[first+1:first+1+second])
			}
		}
	}
	for i, ch := range p.ClaimToHeaders {
		// The values were read once when the token was verified (a JSON
		// scan of the payload costs microseconds in wasm on every hit),
		// from this same provider's ClaimToHeaders, index for index.
		if v := vt.claimValues[i]; v.ok {
			_ = abi.ReplaceHttpRequestHeader(ch.Header, v.value)
		}
	}
	pc.m.allowed.Increment(1)
	return types.ActionContinue
}

// currentKeys is the key set the cache compares its entries against.
func (pc *pluginContext) currentKeys(p *Provider) *jwt.KeySet {
	set, status := pc.keys.keys(p)
	if status != keysReady {
		return nil
	}
	return set
}

// claimValues reads every claim_to_headers value of a verified token, in
// the order of chs.
func claimValues(t *jwt.Token, chs []ClaimHeader) []claimValue {
	if len(chs) == 0 {
		return nil
	}
	out := make([]claimValue, len(chs))
	for i, ch := range chs {
		out[i].value, out[i].ok = t.ClaimHeaderValue(ch.Claim)
	}
	return out
}

// isPreflight reports whether an OPTIONS request is a CORS preflight: it
// has Origin and Access-Control-Request-Method, and its headers announce no
// body (an OPTIONS with a body is judged like any request).
func isPreflight(headers headerList) bool {
	if _, _, n := headers.find("transfer-encoding"); n > 0 {
		return false
	}
	if cl, _, n := headers.find("content-length"); n > 0 && cl != "0" {
		return false
	}
	return headerValue(headers, "origin") != "" && headerValue(headers, "access-control-request-method") != ""
}

// unixTime converts a NumericDate, clamped to ±1e11 s (about year 5000) so
// absurd values cannot overflow; fractions are kept to the nanosecond.
func unixTime(sec float64) time.Time {
	const limit = 1e11
	sec = math.Max(-limit, math.Min(limit, sec))
	whole := math.Floor(sec)
	return time.Unix(int64(whole), int64((sec-whole)*1e9))
}
