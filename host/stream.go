package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// stream is one HTTP request's context in a VM.
type stream struct {
	id           uint32
	remoteAddr   string
	peerCertHash string // hex SHA-256 of the client certificate's DER; "" without one
	reqHeaders   [][2]string
	reqTrailers  [][2]string
	reqBody      []byte
	respStarted  bool
	respStatus   int
	respHeaders  [][2]string
	respTrailers [][2]string
	respBody     []byte

	continued bool      // continue_stream was called in the current phase
	local     *Decision // send_local_response was called
	reset     bool      // close_stream was called
	vmFailed  bool      // the VM trapped or closed
	ended     bool      // on_delete has run
	waiting   chan struct{}
	paused    *atomic.Int64 // the host's count of paused streams, while waiting
}

// wake releases a Do waiting on this paused stream.
func (s *stream) wake() {
	if s.waiting != nil {
		close(s.waiting)
		s.stopWaiting()
	}
}

// stopWaiting ends the wait (v.mu held).
func (s *stream) stopWaiting() {
	s.waiting = nil
	if s.paused != nil {
		s.paused.Add(-1)
		s.paused = nil
	}
}

// failDecision is what a request gets from a failed VM: Envoy with
// fail_open=false answers 503.
func failDecision() Decision {
	return Decision{
		Status:          503,
		ResponseHeaders: [][2]string{{"content-type", "text/plain"}},
		Body:            []byte("wasm plugin failed"),
	}
}

// Do runs one request through a worker VM (round-robin) and waits through
// pause and resume (callouts) until the filter continues the request or
// sends a local response, or ctx ends. The stream is then finished
// (on_log, on_done, on_delete).
func (h *Host) Do(ctx context.Context, req Request) (Decision, error) {
	return h.DoOn(ctx, h.pick(), req)
}

// DoOn is Do on worker VM number worker.
func (h *Host) DoOn(ctx context.Context, worker int, req Request) (Decision, error) {
	if worker < 0 || worker >= len(h.workers) {
		return Decision{}, fmt.Errorf("host: no worker %d (have %d)", worker, len(h.workers))
	}
	v := h.workers[worker]
	s, d, err := v.startStream(ctx, req)
	if s != nil {
		v.endStream(s)
	}
	return d, err
}

func (h *Host) pick() int {
	return int((h.next.Add(1) - 1) % uint64(len(h.workers)))
}

// requestHeaders builds the header map the filter sees: pseudo headers first.
func requestHeaders(req Request) [][2]string {
	scheme := req.Scheme
	if scheme == "" {
		scheme = "http"
	}
	method := req.Method
	if method == "" {
		method = "GET"
	}
	path := req.Path
	if path == "" {
		path = "/"
	}
	hs := make([][2]string, 0, 4+len(req.Headers))
	hs = append(hs, [2]string{":authority", req.Authority}, [2]string{":path", path},
		[2]string{":method", method}, [2]string{":scheme", scheme})
	for _, p := range req.Headers {
		hs = append(hs, [2]string{strings.ToLower(p[0]), p[1]})
	}
	return hs
}

// startStream creates the stream context and runs the request phase:
// on_request_headers, then on_request_body when there is a body. The
// returned stream (if not nil) must be finished with endStream.
func (v *vm) startStream(ctx context.Context, req Request) (*stream, Decision, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.failed || v.closed {
		return nil, failDecision(), nil
	}
	s := &stream{id: v.newContextID(), remoteAddr: req.RemoteAddr, reqHeaders: requestHeaders(req), reqBody: req.Body,
		peerCertHash: certificateDigest(req.ClientCertificate)}
	v.streams[s.id] = s
	if _, err := v.callOn(s.id, "proxy_on_context_create", uint64(s.id), uint64(v.rootID)); err != nil {
		return s, failDecision(), nil
	}
	eos := uint64(0)
	if len(req.Body) == 0 {
		eos = 1
	}
	a, err := v.callOn(s.id, "proxy_on_request_headers", uint64(s.id), uint64(len(s.reqHeaders)), eos)
	if err != nil {
		return s, failDecision(), nil
	}
	hasBody := len(req.Body) > 0 && v.fns["proxy_on_request_body"] != nil
	bodyDelivered := false
	if a != actionContinue && hasBody && s.local == nil && !s.continued && !s.reset && !s.vmFailed {
		// Envoy keeps delivering the body to a filter whose headers stopped
		// (StopIteration), and a Continue from the body callback resumes the
		// stopped headers too. Doing the same here means a filter that holds
		// a request at its headers but lets its body through is caught.
		s.continued = false
		b, err := v.callOn(s.id, "proxy_on_request_body", uint64(s.id), uint64(len(s.reqBody)), 1)
		if err != nil {
			return s, failDecision(), nil
		}
		bodyDelivered = true
		if b == actionContinue {
			a = actionContinue
		}
	}
	d, done, err := v.await(ctx, s, a)
	if done || err != nil {
		return s, d, err
	}
	if hasBody && !bodyDelivered {
		s.continued = false
		a, err := v.callOn(s.id, "proxy_on_request_body", uint64(s.id), uint64(len(s.reqBody)), 1)
		if err != nil {
			return s, failDecision(), nil
		}
		d, done, err = v.await(ctx, s, a)
		if done || err != nil {
			return s, d, err
		}
	}
	return s, Decision{Continue: true, Headers: cloneHeaders(s.reqHeaders), RequestBody: s.reqBody}, nil
}

func cloneHeaders(m [][2]string) [][2]string { return append([][2]string(nil), m...) }

// await waits (with v.mu released) while the stream is paused. It returns
// done=true with the final decision when the stream ended in a local
// response, a reset or a VM failure; done=false when it may go on.
func (v *vm) await(ctx context.Context, s *stream, action uint64) (Decision, bool, error) {
	for {
		switch {
		case s.vmFailed || v.failed || v.closed:
			return failDecision(), true, nil
		case s.local != nil:
			return *s.local, true, nil
		case s.reset:
			return Decision{Status: 0}, true, nil
		case action == actionContinue || s.continued:
			s.continued = false
			return Decision{}, false, nil
		}
		ch := make(chan struct{})
		s.waiting, s.paused = ch, &v.h.paused
		s.paused.Add(1)
		v.mu.Unlock()
		select {
		case <-ch:
			v.mu.Lock()
		case <-ctx.Done():
			v.mu.Lock()
			s.stopWaiting()
			return Decision{}, true, fmt.Errorf("host: request paused by the filter was not resumed: %w", ctx.Err())
		}
	}
}

// responseHeaders runs on_response_headers. It returns the response headers
// after the filter (with :status), or a local response when the filter sent one.
func (v *vm) responseHeaders(ctx context.Context, s *stream, status int, headers [][2]string) ([][2]string, *Decision, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s.vmFailed || v.failed || v.closed {
		d := failDecision()
		return nil, &d, nil
	}
	s.respStarted = true
	s.respStatus = status
	s.respHeaders = append([][2]string{{":status", strconv.Itoa(status)}}, headers...)
	s.continued = false
	a, err := v.callOn(s.id, "proxy_on_response_headers", uint64(s.id), uint64(len(s.respHeaders)), 0)
	if err != nil {
		d := failDecision()
		return nil, &d, nil
	}
	d, done, err := v.await(ctx, s, a)
	if err != nil {
		return nil, nil, err
	}
	if done {
		return nil, &d, nil
	}
	return cloneHeaders(s.respHeaders), nil, nil
}

// endStream finishes a stream: on_log and on_done, then on_delete. Envoy
// does not fix the order of the first two (DESIGN §2.7), so the host
// alternates it from one stream to the next to catch a guest relying on it.
func (v *vm) endStream(s *stream) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.failed && !v.closed {
		v.ended++
		first, second := "proxy_on_log", "proxy_on_done"
		if v.ended%2 == 0 {
			first, second = second, first
		}
		v.callOn(s.id, first, uint64(s.id))
		v.callOn(s.id, second, uint64(s.id))
		v.callOn(s.id, "proxy_on_delete", uint64(s.id))
	}
	s.ended = true
	delete(v.streams, s.id)
}

func (v *vm) sendLocalResponse(a []uint64) uint32 {
	st := v.effectiveStream()
	_, ok1 := v.read(u32(a[1]), u32(a[2])) // details: only checked, as Envoy does
	body, ok2 := v.read(u32(a[3]), u32(a[4]))
	hdrs, ok3 := v.read(u32(a[5]), u32(a[6]))
	if !ok1 || !ok2 || !ok3 {
		return statusInvalidMemoryAccess
	}
	if st == nil {
		return statusBadArgument
	}
	pairs := v.decodeGuestPairs(hdrs, "proxy_send_local_response")
	if st.local == nil {
		st.local = &Decision{Status: int(u32(a[0])), ResponseHeaders: pairs, Body: append([]byte(nil), body...)}
	}
	st.wake()
	return statusOK
}

func (v *vm) continueStream(a []uint64) uint32 {
	st := v.effectiveStream()
	if st == nil {
		return statusBadArgument
	}
	switch u32(a[0]) {
	case streamRequest, streamResponse:
	default:
		return statusBadArgument
	}
	st.continued = true
	st.wake()
	return statusOK
}

func (v *vm) closeStream(a []uint64) uint32 {
	st := v.effectiveStream()
	if st == nil {
		return statusBadArgument
	}
	st.reset = true
	st.wake()
	return statusOK
}

// certificateDigest is Envoy's connection.sha256_peer_certificate_digest of
// a DER certificate: the SHA-256, lower-case hex; "" for none.
func certificateDigest(der []byte) string {
	if len(der) == 0 {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
