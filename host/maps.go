package host

import (
	"errors"
	"strings"
)

// calloutAnswer is the callout response the effective context can see:
// Envoy attaches it to the root context that receives it, so once the guest
// makes a stream the effective context (to resume it) the answer is gone.
func (v *vm) calloutAnswer() *calloutResponse {
	if v.effective != v.rootID {
		return nil
	}
	return v.calloutResp
}

// headerMap returns the header map of the given type for the effective
// context, or nil when that map does not exist there.
func (v *vm) headerMap(mapType uint32) *[][2]string {
	switch mapType {
	case mapHTTPCallResponseHeaders:
		if r := v.calloutAnswer(); r != nil {
			return &r.headers
		}
		return nil
	case mapHTTPCallResponseTrails:
		if r := v.calloutAnswer(); r != nil {
			return &r.trailers
		}
		return nil
	}
	st := v.effectiveStream()
	if st == nil {
		return nil
	}
	switch mapType {
	case mapRequestHeaders:
		return &st.reqHeaders
	case mapRequestTrailers:
		return &st.reqTrailers
	case mapResponseHeaders:
		if st.respStarted {
			return &st.respHeaders
		}
	case mapResponseTrailers:
		if st.respStarted {
			return &st.respTrailers
		}
	}
	return nil
}

// lookupHeader returns the first value of a header (names compare case-insensitively).
func lookupHeader(m [][2]string, key string) (string, bool) {
	for _, p := range m {
		if strings.EqualFold(p[0], key) {
			return p[1], true
		}
	}
	return "", false
}

func headerValue(m [][2]string, key string) string {
	v, _ := lookupHeader(m, key)
	return v
}

func removeHeader(m [][2]string, key string) [][2]string {
	out := m[:0]
	for _, p := range m {
		if !strings.EqualFold(p[0], key) {
			out = append(out, p)
		}
	}
	return out
}

func (v *vm) getHeaderMapValue(s []uint64) uint32 {
	m := v.headerMap(u32(s[0]))
	key, ok := v.read(u32(s[1]), u32(s[2]))
	if !ok {
		return statusInvalidMemoryAccess
	}
	if m == nil {
		return statusNotFound
	}
	val, found := lookupHeader(*m, string(key))
	if !found {
		return statusNotFound
	}
	return v.returnString(val, u32(s[3]), u32(s[4]))
}

func (v *vm) addHeaderMapValue(s []uint64) uint32 {
	m := v.headerMap(u32(s[0]))
	key, ok1 := v.read(u32(s[1]), u32(s[2]))
	val, ok2 := v.read(u32(s[3]), u32(s[4]))
	if !ok1 || !ok2 {
		return statusInvalidMemoryAccess
	}
	if m == nil {
		return statusBadArgument
	}
	*m = append(*m, [2]string{strings.ToLower(string(key)), string(val)})
	return statusOK
}

func (v *vm) replaceHeaderMapValue(s []uint64) uint32 {
	m := v.headerMap(u32(s[0]))
	key, ok1 := v.read(u32(s[1]), u32(s[2]))
	val, ok2 := v.read(u32(s[3]), u32(s[4]))
	if !ok1 || !ok2 {
		return statusInvalidMemoryAccess
	}
	if m == nil {
		return statusBadArgument
	}
	*m = replaceHeader(*m, strings.ToLower(string(key)), string(val))
	return statusOK
}

// replaceHeader sets the first header named key to val and drops its other
// values, in place; a header not present is appended as key.
func replaceHeader(m [][2]string, key, val string) [][2]string {
	for i, p := range m {
		if strings.EqualFold(p[0], key) {
			m[i][1] = val
			rest := removeHeader(m[i+1:], key)
			return m[:i+1+len(rest)]
		}
	}
	return append(m, [2]string{key, val})
}

func (v *vm) removeHeaderMapValue(s []uint64) uint32 {
	m := v.headerMap(u32(s[0]))
	key, ok := v.read(u32(s[1]), u32(s[2]))
	if !ok {
		return statusInvalidMemoryAccess
	}
	if m == nil {
		return statusBadArgument
	}
	*m = removeHeader(*m, string(key))
	return statusOK
}

// getHeaderMapPairs serializes the map straight into the guest's memory.
func (v *vm) getHeaderMapPairs(s []uint64) uint32 {
	var pairs [][2]string
	if m := v.headerMap(u32(s[0])); m != nil {
		pairs = *m
	}
	buf, st := v.reserve(encodedPairsSize(pairs), u32(s[1]), u32(s[2]))
	if len(buf) > 0 {
		encodePairsInto(buf, pairs)
	}
	return st
}

func (v *vm) setHeaderMapPairs(s []uint64) uint32 {
	m := v.headerMap(u32(s[0]))
	data, ok := v.read(u32(s[1]), u32(s[2]))
	if !ok {
		return statusInvalidMemoryAccess
	}
	if m == nil {
		return statusBadArgument
	}
	*m = v.decodeGuestPairs(data, "proxy_set_header_map_pairs")
	return statusOK
}

// decodeGuestPairs decodes a map the guest handed over, with lowercased
// names as in Envoy's header maps. Envoy's PairsUtil::toPairs turns a map
// over its limits, and a malformed one, into an empty map without telling
// the guest, so the host does the same and reports the violation.
func (v *vm) decodeGuestPairs(data []byte, where string) [][2]string {
	pairs, err := decodePairs(data)
	for i := range pairs {
		pairs[i][0] = strings.ToLower(pairs[i][0])
	}
	switch {
	case errors.Is(err, errPairsTooLarge):
		v.h.violation(v.name, RuleHeaderMapLimit, where+": header map over 1024 pairs or 1 MiB, treated as empty")
		return nil
	case err != nil:
		v.h.violation(v.name, RuleMalformedHeaderMap, where+": "+err.Error()+", treated as empty")
		return nil
	}
	return pairs
}

func (v *vm) getHeaderMapSize(s []uint64) uint32 {
	m := v.headerMap(u32(s[0]))
	if m == nil {
		return statusNotFound
	}
	if !v.writeU32(u32(s[1]), uint32(encodedPairsSize(*m))) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}

// buffer returns the buffer of the given type for the effective context.
func (v *vm) buffer(bufferType uint32) *[]byte {
	switch bufferType {
	case bufferVMConfig:
		return &v.vmConfig
	case bufferPluginConfig:
		// Envoy exposes the plugin configuration only while the plugin starts.
		if !v.starting {
			return nil
		}
		return &v.pluginConfig
	case bufferHTTPCallResponse:
		if r := v.calloutAnswer(); r != nil {
			return &r.body
		}
		return nil
	}
	st := v.effectiveStream()
	if st == nil {
		return nil
	}
	switch bufferType {
	case bufferRequestBody:
		return &st.reqBody
	case bufferResponseBody:
		return &st.respBody
	}
	return nil
}

func (v *vm) getBufferStatus(s []uint64) uint32 {
	b := v.buffer(u32(s[0]))
	if b == nil {
		return statusNotFound
	}
	if !v.writeU32(u32(s[1]), uint32(len(*b))) || !v.writeU32(u32(s[2]), 0) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}

func (v *vm) getBufferBytes(s []uint64) uint32 {
	b := v.buffer(u32(s[0]))
	if b == nil {
		return statusNotFound
	}
	return v.returnBytes(bufferWindow(*b, u32(s[1]), u32(s[2])), u32(s[3]), u32(s[4]))
}

// bufferWindow is the part of b that proxy_get_buffer_bytes(start, max)
// returns. Like Envoy, a start at or past the end is an empty result, not an
// error.
func bufferWindow(b []byte, start, max uint32) []byte {
	n := uint64(len(b))
	from, to := uint64(start), uint64(start)+uint64(max)
	if from > n {
		return nil
	}
	return b[from:min(to, n)]
}

// setBufferBytes replaces size bytes at start with the given data (size 0 inserts).
func (v *vm) setBufferBytes(s []uint64) uint32 {
	bt := u32(s[0])
	if bt != bufferRequestBody && bt != bufferResponseBody {
		return statusBadArgument
	}
	b := v.buffer(bt)
	data, ok := v.read(u32(s[3]), u32(s[4]))
	if !ok {
		return statusInvalidMemoryAccess
	}
	if b == nil {
		return statusNotFound
	}
	start, size := uint64(u32(s[1])), uint64(u32(s[2]))
	n := uint64(len(*b))
	if start > n {
		return statusBadArgument
	}
	end := start + size
	if end > n {
		end = n
	}
	out := make([]byte, 0, n-(end-start)+uint64(len(data)))
	out = append(out, (*b)[:start]...)
	out = append(out, data...)
	out = append(out, (*b)[end:]...)
	*b = out
	return statusOK
}
