package host

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxCalloutBody bounds a callout response body read into memory; a larger
// answer is a failed call.
const maxCalloutBody = 16 << 20

// calloutResponse is map 6 / buffer 4 / map 7 during on_http_call_response.
type calloutResponse struct {
	headers  [][2]string
	body     []byte
	trailers [][2]string
}

// httpCall is proxy_http_call: Envoy requires a known cluster, :method,
// :path and :authority, and a timeout > 0; anything else is BAD_ARGUMENT
// (reported as a violation). The call runs over real HTTP against the
// cluster's base URL; its answer arrives on the root context.
func (v *vm) httpCall(s []uint64) uint32 {
	upstream, ok1 := v.read(u32(s[0]), u32(s[1]))
	hdrData, ok2 := v.read(u32(s[2]), u32(s[3]))
	body, ok3 := v.read(u32(s[4]), u32(s[5]))
	trlData, ok4 := v.read(u32(s[6]), u32(s[7]))
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return statusInvalidMemoryAccess
	}
	timeout := time.Duration(u32(s[8])) * time.Millisecond
	tokenPtr := u32(s[9])
	if !v.writeU32(tokenPtr, 0) {
		return statusInvalidMemoryAccess
	}
	cluster := string(upstream)
	headers := v.decodeGuestPairs(hdrData, "proxy_http_call headers")
	v.decodeGuestPairs(trlData, "proxy_http_call trailers")
	base, known := v.h.clusters[cluster]
	var problems []string
	if !known {
		problems = append(problems, fmt.Sprintf("unknown cluster %q", cluster))
	}
	for _, p := range []string{":method", ":path", ":authority"} {
		if val, ok := lookupHeader(headers, p); !ok || val == "" {
			problems = append(problems, "missing "+p)
		}
	}
	if timeout <= 0 {
		problems = append(problems, "no timeout (0 means none; Envoy needs > 0)")
	}
	if len(problems) > 0 {
		v.h.violation(v.name, RuleHTTPCall, "proxy_http_call: "+strings.Join(problems, ", "))
		return statusBadArgument
	}
	v.h.mu.Lock()
	closed := v.h.closed
	if !closed {
		v.h.bg.Add(1)
	}
	v.h.mu.Unlock()
	if closed {
		return statusInternalFailure
	}
	v.nextToken++
	token := v.nextToken
	v.writeU32(tokenPtr, token)
	v.h.callouts.Add(1)
	v.h.calloutsPending.Add(1)
	go v.runCallout(token, base, headers, append([]byte(nil), body...), timeout)
	return statusOK
}

// runCallout performs the HTTP request and delivers its answer; a failure
// (connect error, timeout) is delivered as (0, 0, 0) like Envoy does.
func (v *vm) runCallout(token uint32, base string, headers [][2]string, body []byte, timeout time.Duration) {
	defer v.h.bg.Done()
	defer v.h.calloutsPending.Add(-1) // after the answer's callback has run
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	go func() {
		select {
		case <-v.h.closeCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	resp, err := v.doCallout(ctx, base, headers, body)
	if err != nil {
		v.h.log(LogDebug, v.name, fmt.Sprintf("http call %d failed: %v", token, err))
	}
	v.deliverCallout(token, resp)
}

func (v *vm) doCallout(ctx context.Context, base string, headers [][2]string, body []byte) (*calloutResponse, error) {
	url := base + headerValue(headers, ":path")
	req, err := http.NewRequestWithContext(ctx, headerValue(headers, ":method"), url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Host = headerValue(headers, ":authority")
	for _, p := range headers {
		if strings.HasPrefix(p[0], ":") {
			continue
		}
		req.Header.Add(p[0], p[1])
	}
	resp, err := v.h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCalloutBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the response body: %w", err)
	}
	if len(data) > maxCalloutBody {
		// A cut body would reach the guest as if complete; fail the call instead.
		return nil, fmt.Errorf("response body over %d bytes", maxCalloutBody)
	}
	out := &calloutResponse{body: data}
	out.headers = append(out.headers, [2]string{":status", strconv.Itoa(resp.StatusCode)})
	out.headers = append(out.headers, httpHeaderPairs(resp.Header)...)
	out.trailers = httpHeaderPairs(resp.Trailer)
	return out, nil
}

// httpHeaderPairs flattens Go headers into lowercased pairs.
func httpHeaderPairs(h http.Header) [][2]string {
	var out [][2]string
	for k, vs := range h {
		for _, val := range vs {
			out = append(out, [2]string{strings.ToLower(k), val})
		}
	}
	return out
}

// deliverCallout runs proxy_on_http_call_response on the root context.
func (v *vm) deliverCallout(token uint32, resp *calloutResponse) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.failed || v.closed {
		return
	}
	var nh, nb, nt uint64
	if resp != nil {
		nh, nb, nt = uint64(len(resp.headers)), uint64(len(resp.body)), uint64(len(resp.trailers))
	} else {
		resp = &calloutResponse{}
	}
	v.calloutResp = resp
	v.callOn(v.rootID, "proxy_on_http_call_response", uint64(v.rootID), uint64(token), nh, nb, nt)
	v.calloutResp = nil
}
