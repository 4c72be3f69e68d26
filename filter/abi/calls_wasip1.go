//go:build wasip1

package abi

import (
	"errors"
	"math"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// Package state of the wasm build. A proxy-wasm VM runs one callback at a
// time on one thread, so plain package variables are safe.
var (
	disp    = newDispatcher(wasmHost{})
	results arena // memory the host writes returned data into

	// Return slots for host calls: package variables rather than locals,
	// so taking their address costs no heap allocation.
	retPtr, retSize, retAux uint32
	retU64                  uint64

	// Reused encoding buffers (header maps, property paths, the 500 body).
	scratchHeaders, scratchTrailers, scratchPath []byte

	logLevel      LogLevel
	logLevelKnown bool

	// started is set by the first callback; until then (Go init during
	// _initialize) only proxy_log may be called.
	started bool
)

// Enum values of ABI v0.2.1 used below.
const (
	bufferRequestBody      = 0
	bufferCallResponseBody = 4
	bufferVMConfig         = 6
	bufferPluginConfig     = 7

	mapRequestHeaders       = 0
	mapRequestTrailers      = 1
	mapResponseHeaders      = 2
	mapResponseTrailers     = 3
	mapCallResponseHeaders  = 6
	mapCallResponseTrailers = 7

	streamRequest  = 0
	streamResponse = 1

	metricCounter   = 0
	metricGauge     = 1
	metricHistogram = 2
)

// wasmHost is the dispatcher's view of the host.
type wasmHost struct{}

func (wasmHost) log(level LogLevel, msg string) { logAt(level, msg) }

func (wasmHost) setEffectiveContext(id uint32) error { return SetEffectiveContext(id) }

func (wasmHost) sendInternalError() error {
	return SendHttpResponse(500, internalErrorHeaders, internalErrorBody, -1)
}

var (
	internalErrorHeaders = [][2]string{{"content-type", "application/json"}}
	internalErrorBody    = []byte(`{"error":"internal_error","error_description":"the request could not be processed"}`)
)

// strPtr returns the address of s's bytes for a host call (nil when empty).
func strPtr(s string) *byte { return unsafe.StringData(s) }

// bytesPtr returns the address of b's bytes for a host call (nil when empty).
func bytesPtr(b []byte) *byte {
	if len(b) == 0 {
		return nil
	}
	return &b[0]
}

// returned reads the data a host call just wrote through the allocator.
// The slice aliases the arena: copy before the next host call.
func returned(st uint32) ([]byte, error) {
	if st != statusOK {
		return nil, statusError(st)
	}
	b, ok := results.take(uintptr(retPtr), retSize)
	if !ok {
		return nil, errors.New("abi: host returned memory the allocator did not hand out")
	}
	return b, nil
}

// SetVMContext registers the VM context that receives every callback.
// It makes no host call, so it is safe to call from init().
func SetVMContext(ctx types.VMContext) { disp.vm = ctx }

// GetPluginConfiguration returns the plugin configuration (buffer type 7).
func GetPluginConfiguration() ([]byte, error) { return getBuffer(bufferPluginConfig, 0, math.MaxInt32) }

// GetVMConfiguration returns the VM configuration (buffer type 6).
func GetVMConfiguration() ([]byte, error) { return getBuffer(bufferVMConfig, 0, math.MaxInt32) }

// getBuffer returns a fresh copy of part of a host buffer.
func getBuffer(bufferType uint32, start, maxSize int) ([]byte, error) {
	if !started {
		return nil, errInitPhase
	}
	if start < 0 || maxSize < 0 {
		return nil, types.ErrorStatusBadArgument
	}
	results.reset()
	retPtr, retSize = 0, 0
	b, err := returned(proxyGetBufferBytes(bufferType, uint32(min(start, math.MaxInt32)),
		uint32(min(maxSize, math.MaxInt32)), &retPtr, &retSize))
	if err != nil || len(b) == 0 {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// SetTickPeriodMilliSeconds asks the host to call OnTick every ms milliseconds (0 stops).
func SetTickPeriodMilliSeconds(ms uint32) error {
	if !started {
		return errInitPhase
	}
	return statusError(proxySetTickPeriodMilliseconds(ms))
}

// SetEffectiveContext makes later host calls act on the given context, e.g.
// a paused stream from a callout's callback. It fails with
// types.ErrorStatusBadArgument when that stream is gone.
func SetEffectiveContext(contextID uint32) error {
	if !started {
		return errInitPhase
	}
	if err := statusError(proxySetEffectiveContext(contextID)); err != nil {
		return err
	}
	disp.current = contextID
	return nil
}

// PluginDone tells the host a root context that answered false from
// OnPluginDone has finished.
func PluginDone() {
	if started {
		proxyDone()
	}
}

// DispatchHttpCall sends an HTTP callout to a cluster; callBack runs on the
// root context when the answer (or the failure, as (0, 0, 0)) arrives. The
// headers must include :method, :path and :authority, and the timeout must
// be > 0 (Envoy's rules, checked before the call).
func DispatchHttpCall(cluster string, headers [][2]string, body []byte, trailers [][2]string,
	timeoutMillisecond uint32, callBack func(numHeaders, bodySize, numTrailers int)) (uint32, error) {
	if !started {
		return 0, errInitPhase
	}
	if err := checkCallout(cluster, headers, timeoutMillisecond); err != nil {
		return 0, err
	}
	scratchHeaders = EncodeHeaderMap(scratchHeaders[:0], headers)
	scratchTrailers = EncodeHeaderMap(scratchTrailers[:0], trailers)
	retAux = 0
	st := proxyHTTPCall(strPtr(cluster), uint32(len(cluster)),
		bytesPtr(scratchHeaders), uint32(len(scratchHeaders)),
		bytesPtr(body), uint32(len(body)),
		bytesPtr(scratchTrailers), uint32(len(scratchTrailers)),
		timeoutMillisecond, &retAux)
	if st != statusOK {
		return 0, statusError(st)
	}
	disp.addCallout(retAux, callBack)
	return retAux, nil
}

// GetHttpCallResponseHeaders returns the callout answer's headers (map 6).
func GetHttpCallResponseHeaders() ([][2]string, error) { return getMap(mapCallResponseHeaders) }

// GetHttpCallResponseTrailers returns the callout answer's trailers (map 7).
func GetHttpCallResponseTrailers() ([][2]string, error) { return getMap(mapCallResponseTrailers) }

// GetHttpCallResponseBody returns part of the callout answer's body (buffer 4).
func GetHttpCallResponseBody(start, maxSize int) ([]byte, error) {
	return getBuffer(bufferCallResponseBody, start, maxSize)
}

// GetHttpRequestBody returns part of the request body (buffer 0).
func GetHttpRequestBody(start, maxSize int) ([]byte, error) {
	return getBuffer(bufferRequestBody, start, maxSize)
}

// getMap returns a whole header map. Cost: two allocations (one string
// holding every key and value, one slice of pairs).
func getMap(mapType uint32) ([][2]string, error) {
	if !started {
		return nil, errInitPhase
	}
	results.reset()
	retPtr, retSize = 0, 0
	b, err := returned(proxyGetHeaderMapPairs(mapType, &retPtr, &retSize))
	if err != nil {
		return nil, err
	}
	return DecodeHeaderMap(b)
}

// getMapInto reads a whole header map into *buf (grown when too small;
// the host writes it there through the allocator, so nothing is copied)
// and returns it in place.
func getMapInto(mapType uint32, buf *[]byte) (HeaderMap, error) {
	if !started {
		return HeaderMap{}, errInitPhase
	}
	if cap(*buf) > maxKeptSlab {
		*buf = nil // a huge map once should not pin its memory for ever
	}
	results.reset()
	results.allocInto(buf)
	retPtr, retSize = 0, 0
	b, err := returned(proxyGetHeaderMapPairs(mapType, &retPtr, &retSize))
	results.into = nil
	if err != nil {
		return HeaderMap{}, err
	}
	return ParseHeaderMap(b)
}

// setMap replaces a whole header map.
func setMap(mapType uint32, pairs [][2]string) error {
	if !started {
		return errInitPhase
	}
	scratchHeaders = EncodeHeaderMap(scratchHeaders[:0], pairs)
	return statusError(proxySetHeaderMapPairs(mapType, bytesPtr(scratchHeaders), uint32(len(scratchHeaders))))
}

// appendMapValue appends one header's value to dst. No allocation once the
// arena has grown to the value's size (and dst has room).
func appendMapValue(dst []byte, mapType uint32, key string) ([]byte, error) {
	if !started {
		return dst, errInitPhase
	}
	results.reset()
	retPtr, retSize = 0, 0
	b, err := returned(proxyGetHeaderMapValue(mapType, strPtr(key), uint32(len(key)), &retPtr, &retSize))
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// getMapValue returns one header's value. Cost: one allocation, the
// returned string (none when the value is empty or absent).
func getMapValue(mapType uint32, key string) (string, error) {
	if !started {
		return "", errInitPhase
	}
	results.reset()
	retPtr, retSize = 0, 0
	b, err := returned(proxyGetHeaderMapValue(mapType, strPtr(key), uint32(len(key)), &retPtr, &retSize))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func addMapValue(mapType uint32, key, value string) error {
	if !started {
		return errInitPhase
	}
	return statusError(proxyAddHeaderMapValue(mapType, strPtr(key), uint32(len(key)), strPtr(value), uint32(len(value))))
}

func replaceMapValue(mapType uint32, key, value string) error {
	if !started {
		return errInitPhase
	}
	return statusError(proxyReplaceHeaderMapValue(mapType, strPtr(key), uint32(len(key)), strPtr(value), uint32(len(value))))
}

func removeMapValue(mapType uint32, key string) error {
	if !started {
		return errInitPhase
	}
	return statusError(proxyRemoveHeaderMapValue(mapType, strPtr(key), uint32(len(key))))
}

// GetHttpRequestHeaders returns all request headers.
func GetHttpRequestHeaders() ([][2]string, error) { return getMap(mapRequestHeaders) }

// GetHttpRequestHeaderMap reads all request headers into *buf, which grows
// when too small and is reused otherwise, and returns them in place: one
// host call, no per-header decoding, no allocation once *buf has grown to
// the requests' size. The map's strings alias *buf: keep it unchanged while
// they are in use.
func GetHttpRequestHeaderMap(buf *[]byte) (HeaderMap, error) {
	return getMapInto(mapRequestHeaders, buf)
}

// ReplaceHttpRequestHeaders replaces all request headers.
func ReplaceHttpRequestHeaders(headers [][2]string) error { return setMap(mapRequestHeaders, headers) }

// GetHttpRequestHeader returns one request header's value
// (types.ErrorStatusNotFound when absent).
func GetHttpRequestHeader(key string) (string, error) { return getMapValue(mapRequestHeaders, key) }

// AppendHttpRequestHeaderValue appends one request header's value to dst:
// the allocation-free form of GetHttpRequestHeader.
func AppendHttpRequestHeaderValue(dst []byte, key string) ([]byte, error) {
	return appendMapValue(dst, mapRequestHeaders, key)
}

// RemoveHttpRequestHeader removes every value of a request header.
func RemoveHttpRequestHeader(key string) error { return removeMapValue(mapRequestHeaders, key) }

// ReplaceHttpRequestHeader sets a request header, replacing any value.
func ReplaceHttpRequestHeader(key, value string) error {
	return replaceMapValue(mapRequestHeaders, key, value)
}

// AddHttpRequestHeader appends a request header value.
func AddHttpRequestHeader(key, value string) error { return addMapValue(mapRequestHeaders, key, value) }

// GetHttpRequestTrailers returns all request trailers.
func GetHttpRequestTrailers() ([][2]string, error) { return getMap(mapRequestTrailers) }

// ResumeHttpRequest continues a paused request (continue_stream(0)).
func ResumeHttpRequest() error { return continueStream(streamRequest) }

// ResumeHttpResponse continues a paused response (continue_stream(1)).
func ResumeHttpResponse() error { return continueStream(streamResponse) }

func continueStream(streamType uint32) error {
	if !started {
		return errInitPhase
	}
	return statusError(proxyContinueStream(streamType))
}

// GetHttpResponseHeaders returns all response headers.
func GetHttpResponseHeaders() ([][2]string, error) { return getMap(mapResponseHeaders) }

// ReplaceHttpResponseHeaders replaces all response headers.
func ReplaceHttpResponseHeaders(headers [][2]string) error {
	return setMap(mapResponseHeaders, headers)
}

// GetHttpResponseHeader returns one response header's value.
func GetHttpResponseHeader(key string) (string, error) { return getMapValue(mapResponseHeaders, key) }

// ReplaceHttpResponseHeader sets a response header, replacing any value.
func ReplaceHttpResponseHeader(key, value string) error {
	return replaceMapValue(mapResponseHeaders, key, value)
}

// AddHttpResponseHeader appends a response header value.
func AddHttpResponseHeader(key, value string) error {
	return addMapValue(mapResponseHeaders, key, value)
}

// RemoveHttpResponseHeader removes every value of a response header.
func RemoveHttpResponseHeader(key string) error { return removeMapValue(mapResponseHeaders, key) }

// GetHttpResponseTrailers returns all response trailers.
func GetHttpResponseTrailers() ([][2]string, error) { return getMap(mapResponseTrailers) }

// SendHttpResponse answers the current stream locally; the callback must
// then return types.ActionPause. gRPCStatus -1 means "not gRPC".
func SendHttpResponse(statusCode uint32, headers [][2]string, body []byte, gRPCStatus int32) error {
	if !started {
		return errInitPhase
	}
	scratchHeaders = EncodeHeaderMap(scratchHeaders[:0], headers)
	return statusError(proxySendLocalResponse(statusCode, nil, 0, bytesPtr(body), uint32(len(body)),
		bytesPtr(scratchHeaders), uint32(len(scratchHeaders)), gRPCStatus))
}

// SendHttpResponseMap is SendHttpResponse with the headers already
// serialized (EncodeHeaderMap): an answer sent again and again is
// serialized once.
func SendHttpResponseMap(statusCode uint32, headers []byte, body []byte, gRPCStatus int32) error {
	if !started {
		return errInitPhase
	}
	return statusError(proxySendLocalResponse(statusCode, nil, 0, bytesPtr(body), uint32(len(body)),
		bytesPtr(headers), uint32(len(headers)), gRPCStatus))
}

// GetSharedData reads a shared-data value (a fresh copy) and its CAS.
func GetSharedData(key string) ([]byte, uint32, error) {
	if !started {
		return nil, 0, errInitPhase
	}
	results.reset()
	retPtr, retSize, retAux = 0, 0, 0
	b, err := returned(proxyGetSharedData(strPtr(key), uint32(len(key)), &retPtr, &retSize, &retAux))
	if err != nil {
		return nil, 0, err
	}
	cas := retAux
	if len(b) == 0 {
		return nil, cas, nil
	}
	return append([]byte(nil), b...), cas, nil
}

// SetSharedData writes a shared-data value if cas matches the stored one
// (0: unconditional); types.ErrorStatusCasMismatch when another VM won.
func SetSharedData(key string, data []byte, cas uint32) error {
	if !started {
		return errInitPhase
	}
	return statusError(proxySetSharedData(strPtr(key), uint32(len(key)), bytesPtr(data), uint32(len(data)), cas))
}

// GetProperty reads a host property such as ["plugin_name"] (a fresh copy).
func GetProperty(path []string) ([]byte, error) {
	if !started {
		return nil, errInitPhase
	}
	if len(path) == 0 {
		return nil, types.ErrorStatusBadArgument
	}
	scratchPath = EncodePropertyPath(scratchPath[:0], path)
	results.reset()
	retPtr, retSize = 0, 0
	b, err := returned(proxyGetProperty(bytesPtr(scratchPath), uint32(len(scratchPath)), &retPtr, &retSize))
	if err != nil || len(b) == 0 {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// CallForeignFunction calls a function the host registered under name,
// such as Envoy's verify_signature, and returns its answer. The answer
// aliases the binding's memory: it is valid until the next host call that
// returns data, so copy what must be kept. A host that lacks the function
// should answer types.ErrorStatusNotFound, but Kong's ngx_wasm_module traps
// instead: call only a function the host is known to have.
func CallForeignFunction(name string, args []byte) ([]byte, error) {
	if !started {
		return nil, errInitPhase
	}
	results.reset()
	retPtr, retSize = 0, 0
	return returned(proxyCallForeignFunction(strPtr(name), uint32(len(name)),
		bytesPtr(args), uint32(len(args)), &retPtr, &retSize))
}

// GetLogLevel returns the host's current log level (proxy_get_log_level).
// It is asked once per callback and remembered until the next one.
func GetLogLevel() (LogLevel, error) {
	if !started {
		return LogLevelTrace, errInitPhase
	}
	if logLevelKnown {
		return logLevel, nil
	}
	retAux = 0
	if err := statusError(proxyGetLogLevel(&retAux)); err != nil {
		return LogLevelTrace, err
	}
	logLevel, logLevelKnown = LogLevel(retAux), true
	return logLevel, nil
}

// LogEnabled reports whether a message at level would be logged, so callers
// can skip building it. When the host cannot tell, it answers true.
func LogEnabled(level LogLevel) bool {
	l, err := GetLogLevel()
	return err != nil || level >= l
}

// errInitPhase answers host calls made before the first callback, i.e.
// from init() during _initialize, where Envoy allows only proxy_log (any
// other proxy_* call traps the VM under V8).
var errInitPhase = errors.New("abi: only logging is allowed before the first callback (during _initialize)")

// logAt sends msg to the host's log if the host logs that level. No allocation.
func logAt(level LogLevel, msg string) {
	if !LogEnabled(level) {
		return
	}
	proxyLog(uint32(level), strPtr(msg), uint32(len(msg)))
}

// LogBytes logs msg at level: LogInfo and friends for a message built in a
// reused buffer (the host copies it; no string is made).
func LogBytes(level LogLevel, msg []byte) {
	if LogEnabled(level) {
		proxyLog(uint32(level), bytesPtr(msg), uint32(len(msg)))
	}
}

// LogTrace logs at trace level.
func LogTrace(msg string) { logAt(LogLevelTrace, msg) }

// LogDebug logs at debug level.
func LogDebug(msg string) { logAt(LogLevelDebug, msg) }

// LogInfo logs at info level.
func LogInfo(msg string) { logAt(LogLevelInfo, msg) }

// LogWarn logs at warn level.
func LogWarn(msg string) { logAt(LogLevelWarn, msg) }

// LogError logs at error level.
func LogError(msg string) { logAt(LogLevelError, msg) }

// LogCritical logs at critical level.
func LogCritical(msg string) { logAt(LogLevelCritical, msg) }

// MetricCounter is a counter defined with DefineCounterMetric.
type MetricCounter uint32

// DefineCounterMetric defines (or finds) a counter by name. On failure it
// logs and returns a counter whose updates the host rejects harmlessly.
func DefineCounterMetric(name string) MetricCounter {
	return MetricCounter(defineMetric(metricCounter, name))
}

// Increment adds offset to the counter.
func (m MetricCounter) Increment(offset uint64) {
	if !started {
		return
	}
	proxyIncrementMetric(uint32(m), int64(offset))
}

// Value returns the counter's current value (0 if the host cannot tell).
func (m MetricCounter) Value() uint64 { return metricValue(uint32(m)) }

// MetricGauge is a gauge defined with DefineGaugeMetric.
type MetricGauge uint32

// DefineGaugeMetric defines (or finds) a gauge by name.
func DefineGaugeMetric(name string) MetricGauge { return MetricGauge(defineMetric(metricGauge, name)) }

// Add adds offset (possibly negative) to the gauge.
func (m MetricGauge) Add(offset int64) {
	if started {
		proxyIncrementMetric(uint32(m), offset)
	}
}

// Value returns the gauge's current value (0 if the host cannot tell).
func (m MetricGauge) Value() int64 { return int64(metricValue(uint32(m))) }

// MetricHistogram is a histogram defined with DefineHistogramMetric.
type MetricHistogram uint32

// DefineHistogramMetric defines (or finds) a histogram by name.
func DefineHistogramMetric(name string) MetricHistogram {
	return MetricHistogram(defineMetric(metricHistogram, name))
}

// Record adds one observation to the histogram.
func (m MetricHistogram) Record(value uint64) {
	if started {
		proxyRecordMetric(uint32(m), value)
	}
}

// Value returns the histogram's current value as the host reports it.
func (m MetricHistogram) Value() uint64 { return metricValue(uint32(m)) }

func defineMetric(metricType uint32, name string) uint32 {
	if !started {
		logAt(LogLevelError, "abi: metric "+name+" defined during _initialize; define metrics in OnPluginStart")
		return math.MaxUint32
	}
	retAux = 0
	if st := proxyDefineMetric(metricType, strPtr(name), uint32(len(name)), &retAux); st != statusOK {
		logAt(LogLevelError, "abi: defining metric "+name+" failed: "+statusError(st).Error())
		return math.MaxUint32
	}
	return retAux
}

func metricValue(id uint32) uint64 {
	if !started {
		return 0
	}
	retU64 = 0
	if proxyGetMetric(id, &retU64) != statusOK {
		return 0
	}
	return retU64
}
