//go:build !wasip1

package abi

import (
	"bytes"
	"strings"
	"sync"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// SetVMContext registers the VM context that receives every callback.
// It makes no host call, so it is safe to call from init().
func SetVMContext(ctx types.VMContext) { proxywasm.SetVMContext(ctx) }

// GetPluginConfiguration returns the plugin configuration (buffer type 7).
func GetPluginConfiguration() ([]byte, error) { return proxywasm.GetPluginConfiguration() }

// GetVMConfiguration returns the VM configuration (buffer type 6).
func GetVMConfiguration() ([]byte, error) { return proxywasm.GetVMConfiguration() }

// SetTickPeriodMilliSeconds asks the host to call OnTick every ms milliseconds.
func SetTickPeriodMilliSeconds(ms uint32) error { return proxywasm.SetTickPeriodMilliSeconds(ms) }

// SetEffectiveContext makes later host calls act on the given context.
func SetEffectiveContext(contextID uint32) error { return proxywasm.SetEffectiveContext(contextID) }

// DispatchHttpCall sends an HTTP callout to a cluster; callBack runs on the
// root context when the answer (or the failure) arrives.
func DispatchHttpCall(cluster string, headers [][2]string, body []byte, trailers [][2]string,
	timeoutMillisecond uint32, callBack func(numHeaders, bodySize, numTrailers int)) (uint32, error) {
	// Envoy's rules are checked here too, so native tests catch what Envoy refuses.
	if err := checkCallout(cluster, headers, timeoutMillisecond); err != nil {
		return 0, err
	}
	return proxywasm.DispatchHttpCall(cluster, headers, body, trailers, timeoutMillisecond, callBack)
}

// GetHttpCallResponseHeaders returns the callout answer's headers (map 6).
func GetHttpCallResponseHeaders() ([][2]string, error) { return proxywasm.GetHttpCallResponseHeaders() }

// GetHttpCallResponseBody returns part of the callout answer's body (buffer 4).
func GetHttpCallResponseBody(start, maxSize int) ([]byte, error) {
	return proxywasm.GetHttpCallResponseBody(start, maxSize)
}

// GetHttpRequestHeaders returns all request headers.
func GetHttpRequestHeaders() ([][2]string, error) { return proxywasm.GetHttpRequestHeaders() }

// GetHttpRequestHeaderMap reads all request headers into *buf and returns
// them in place. Natively the SDK's emulator hands over decoded pairs,
// which are serialized into *buf, so the filter reads them exactly as in
// the wasm build.
func GetHttpRequestHeaderMap(buf *[]byte) (HeaderMap, error) {
	pairs, err := proxywasm.GetHttpRequestHeaders()
	if err != nil {
		return HeaderMap{}, err
	}
	if len(pairs) == 0 {
		return HeaderMap{}, nil
	}
	*buf = EncodeHeaderMap((*buf)[:0], pairs)
	return ParseHeaderMap(*buf)
}

// GetHttpRequestHeader returns one request header's value.
func GetHttpRequestHeader(key string) (string, error) { return proxywasm.GetHttpRequestHeader(key) }

// RemoveHttpRequestHeader removes every value of a request header.
func RemoveHttpRequestHeader(key string) error { return proxywasm.RemoveHttpRequestHeader(key) }

// ReplaceHttpRequestHeader sets a request header, replacing any value.
// Like every call below that hands the host strings it keeps, it gives the
// emulator copies: a host copies what the guest passes, and the filter
// passes strings that alias memory it reuses (a header map read in place).
func ReplaceHttpRequestHeader(key, value string) error {
	return proxywasm.ReplaceHttpRequestHeader(strings.Clone(key), strings.Clone(value))
}

// AddHttpRequestHeader appends a request header value.
func AddHttpRequestHeader(key, value string) error {
	return proxywasm.AddHttpRequestHeader(strings.Clone(key), strings.Clone(value))
}

// ResumeHttpRequest continues a paused request (continue_stream(0)).
func ResumeHttpRequest() error { return proxywasm.ResumeHttpRequest() }

// GetHttpResponseHeader returns one response header's value.
func GetHttpResponseHeader(key string) (string, error) { return proxywasm.GetHttpResponseHeader(key) }

// ReplaceHttpResponseHeader sets a response header, replacing any value.
func ReplaceHttpResponseHeader(key, value string) error {
	return proxywasm.ReplaceHttpResponseHeader(strings.Clone(key), strings.Clone(value))
}

// SendHttpResponse answers the current stream locally.
func SendHttpResponse(statusCode uint32, headers [][2]string, body []byte, gRPCStatus int32) error {
	kept := make([][2]string, len(headers))
	for i, h := range headers {
		kept[i] = [2]string{strings.Clone(h[0]), strings.Clone(h[1])}
	}
	return proxywasm.SendHttpResponse(statusCode, kept, bytes.Clone(body), gRPCStatus)
}

// SendHttpResponseMap is SendHttpResponse with the headers serialized
// (EncodeHeaderMap).
func SendHttpResponseMap(statusCode uint32, headers []byte, body []byte, gRPCStatus int32) error {
	pairs, err := DecodeHeaderMap(headers)
	if err != nil {
		return err
	}
	return SendHttpResponse(statusCode, pairs, body, gRPCStatus)
}

// GetSharedData reads a shared-data value and its CAS.
func GetSharedData(key string) ([]byte, uint32, error) { return proxywasm.GetSharedData(key) }

// SetSharedData writes a shared-data value if cas matches (0: unconditional).
func SetSharedData(key string, data []byte, cas uint32) error {
	return proxywasm.SetSharedData(key, data, cas)
}

// GetProperty reads a host property such as ["plugin_name"].
func GetProperty(path []string) ([]byte, error) { return proxywasm.GetProperty(path) }

// LogBytes logs msg at level (the emulator keeps a copy).
func LogBytes(level LogLevel, msg []byte) {
	switch s := string(msg); level {
	case LogLevelTrace:
		proxywasm.LogTrace(s)
	case LogLevelDebug:
		proxywasm.LogDebug(s)
	case LogLevelInfo:
		proxywasm.LogInfo(s)
	case LogLevelWarn:
		proxywasm.LogWarn(s)
	case LogLevelError:
		proxywasm.LogError(s)
	default:
		proxywasm.LogCritical(s)
	}
}

// LogTrace logs at trace level.
func LogTrace(msg string) { proxywasm.LogTrace(msg) }

// LogDebug logs at debug level.
func LogDebug(msg string) { proxywasm.LogDebug(msg) }

// LogInfo logs at info level.
func LogInfo(msg string) { proxywasm.LogInfo(msg) }

// LogWarn logs at warn level.
func LogWarn(msg string) { proxywasm.LogWarn(msg) }

// LogError logs at error level.
func LogError(msg string) { proxywasm.LogError(msg) }

// LogCritical logs at critical level.
func LogCritical(msg string) { proxywasm.LogCritical(msg) }

// MetricCounter is a counter defined with DefineCounterMetric.
type MetricCounter = proxywasm.MetricCounter

// DefineCounterMetric defines (or finds) a counter by name.
func DefineCounterMetric(name string) MetricCounter { return proxywasm.DefineCounterMetric(name) }

// PluginDone tells the host a root context that answered false from
// OnPluginDone has finished.
func PluginDone() { proxywasm.PluginDone() }

// GetHttpCallResponseTrailers returns the callout answer's trailers (map 7).
func GetHttpCallResponseTrailers() ([][2]string, error) {
	return proxywasm.GetHttpCallResponseTrailers()
}

// GetHttpRequestBody returns part of the request body (buffer 0).
func GetHttpRequestBody(start, maxSize int) ([]byte, error) {
	return proxywasm.GetHttpRequestBody(start, maxSize)
}

// ReplaceHttpRequestHeaders replaces all request headers.
func ReplaceHttpRequestHeaders(headers [][2]string) error {
	return proxywasm.ReplaceHttpRequestHeaders(headers)
}

// AppendHttpRequestHeaderValue appends one request header's value to dst:
// the allocation-free form of GetHttpRequestHeader (in the wasm build).
func AppendHttpRequestHeaderValue(dst []byte, key string) ([]byte, error) {
	v, err := proxywasm.GetHttpRequestHeader(key)
	if err != nil {
		return dst, err
	}
	return append(dst, v...), nil
}

// GetHttpRequestTrailers returns all request trailers.
func GetHttpRequestTrailers() ([][2]string, error) { return proxywasm.GetHttpRequestTrailers() }

// ResumeHttpResponse continues a paused response (continue_stream(1)).
func ResumeHttpResponse() error { return proxywasm.ResumeHttpResponse() }

// GetHttpResponseHeaders returns all response headers.
func GetHttpResponseHeaders() ([][2]string, error) { return proxywasm.GetHttpResponseHeaders() }

// ReplaceHttpResponseHeaders replaces all response headers.
func ReplaceHttpResponseHeaders(headers [][2]string) error {
	return proxywasm.ReplaceHttpResponseHeaders(headers)
}

// AddHttpResponseHeader appends a response header value.
func AddHttpResponseHeader(key, value string) error {
	return proxywasm.AddHttpResponseHeader(strings.Clone(key), strings.Clone(value))
}

// RemoveHttpResponseHeader removes every value of a response header.
func RemoveHttpResponseHeader(key string) error { return proxywasm.RemoveHttpResponseHeader(key) }

// GetHttpResponseTrailers returns all response trailers.
func GetHttpResponseTrailers() ([][2]string, error) { return proxywasm.GetHttpResponseTrailers() }

// GetLogLevel returns the host's log level. The SDK's emulator has no log
// level and records every message, so natively it is always trace.
func GetLogLevel() (LogLevel, error) { return LogLevelTrace, nil }

// LogEnabled reports whether a message at level would be logged, so callers
// can skip building it.
func LogEnabled(level LogLevel) bool {
	l, err := GetLogLevel()
	return err != nil || level >= l
}

// MetricGauge is a gauge defined with DefineGaugeMetric.
type MetricGauge = proxywasm.MetricGauge

// DefineGaugeMetric defines (or finds) a gauge by name.
func DefineGaugeMetric(name string) MetricGauge { return proxywasm.DefineGaugeMetric(name) }

// MetricHistogram is a histogram defined with DefineHistogramMetric.
type MetricHistogram = proxywasm.MetricHistogram

// DefineHistogramMetric defines (or finds) a histogram by name.
func DefineHistogramMetric(name string) MetricHistogram {
	return proxywasm.DefineHistogramMetric(name)
}

// ForeignFunction plays a host's foreign function in native runs: it gets
// the arguments and answers a result, or an error status such as
// types.ErrorStatusNotFound or types.ErrorUnimplemented.
type ForeignFunction func(args []byte) ([]byte, error)

var (
	foreignMu        sync.Mutex
	foreignFunctions = map[string]ForeignFunction{}
)

// SetForeignFunction makes CallForeignFunction(name, ...) call f in native
// runs (nil removes it). The SDK's emulator can register foreign functions
// too, but they can only answer Ok, and a name nobody registered aborts the
// test process; tests of the other statuses register here.
func SetForeignFunction(name string, f ForeignFunction) {
	foreignMu.Lock()
	defer foreignMu.Unlock()
	if f == nil {
		delete(foreignFunctions, name)
		return
	}
	foreignFunctions[name] = f
}

// CallForeignFunction calls the function registered with SetForeignFunction
// under name, or else the SDK emulator's (proxytest's RegisterForeignFunction).
func CallForeignFunction(name string, args []byte) ([]byte, error) {
	foreignMu.Lock()
	f := foreignFunctions[name]
	foreignMu.Unlock()
	if f != nil {
		return f(args)
	}
	return proxywasm.CallForeignFunction(name, args)
}
