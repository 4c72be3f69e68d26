//go:build !wasip1

package abi_test

import (
	"errors"
	"testing"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// The native half forwards to the SDK, so a filter written against abi runs
// under the SDK's proxytest emulator. This filter touches the calls scopegate
// relies on; the test drives it through the emulator.

type nativeVM struct{ types.DefaultVMContext }

func (*nativeVM) NewPluginContext(uint32) types.PluginContext { return &nativePlugin{} }

type nativePlugin struct {
	types.DefaultPluginContext
	requests abi.MetricCounter
}

func (p *nativePlugin) OnPluginStart(int) types.OnPluginStartStatus {
	cfg, err := abi.GetPluginConfiguration()
	if err != nil || string(cfg) != "cfg" {
		return false
	}
	p.requests = abi.DefineCounterMetric("native.requests")
	return abi.SetTickPeriodMilliSeconds(1000) == nil
}

func (p *nativePlugin) NewHttpContext(id uint32) types.HttpContext {
	return &nativeStream{id: id, plugin: p}
}

type nativeStream struct {
	types.DefaultHttpContext
	id     uint32
	plugin *nativePlugin
}

func (s *nativeStream) OnHttpRequestHeaders(int, bool) types.Action {
	s.plugin.requests.Increment(1)
	path, _ := abi.GetHttpRequestHeader(":path")
	switch path {
	case "/deny":
		_ = abi.SendHttpResponse(403, [][2]string{{"x-why", "denied"}}, []byte("no"), -1)
		return types.ActionPause
	case "/bad-callout":
		if _, err := abi.DispatchHttpCall("idp", [][2]string{{":method", "GET"}}, nil, nil, 1000, nil); errors.Is(err, types.ErrorStatusBadArgument) {
			_ = abi.ReplaceHttpRequestHeader("x-refused", "yes")
		}
		return types.ActionContinue
	case "/callout":
		hs := [][2]string{{":method", "GET"}, {":path", "/jwks"}, {":authority", "idp"}}
		id := s.id
		_, err := abi.DispatchHttpCall("idp", hs, nil, nil, 1000, func(int, int, int) {
			body, _ := abi.GetHttpCallResponseBody(0, 100)
			_ = abi.SetEffectiveContext(id)
			_ = abi.ReplaceHttpRequestHeader("x-body", string(body))
			_ = abi.ResumeHttpRequest()
		})
		if err != nil {
			return types.ActionContinue
		}
		return types.ActionPause
	}
	buf, _ := abi.AppendHttpRequestHeaderValue(nil, "x-in")
	_ = abi.ReplaceHttpRequestHeader("x-out", string(buf))
	_ = abi.RemoveHttpRequestHeader("x-in")
	abi.LogInfo("native: seen " + path)
	return types.ActionContinue
}

func TestNativeForwardingUnderProxytest(t *testing.T) {
	opt := proxytest.NewEmulatorOption().WithVMContext(&nativeVM{}).WithPluginConfiguration([]byte("cfg"))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		t.Fatal("OnPluginStart failed under proxytest")
	}
	headers := func(path string, extra ...[2]string) [][2]string {
		return append([][2]string{{":method", "GET"}, {":path", path}, {":authority", "api"}}, extra...)
	}
	get := func(hs [][2]string, name string) (string, bool) {
		for _, kv := range hs {
			if kv[0] == name {
				return kv[1], true
			}
		}
		return "", false
	}

	t.Run("header calls reach the emulator's request headers", func(t *testing.T) {
		id := host.InitializeHttpContext()
		if a := host.CallOnRequestHeaders(id, headers("/a", [2]string{"x-in", "v"}), true); a != types.ActionContinue {
			t.Fatalf("action = %v", a)
		}
		hs := host.GetCurrentRequestHeaders(id)
		if v, _ := get(hs, "x-out"); v != "v" {
			t.Errorf("x-out = %q, want v", v)
		}
		if _, ok := get(hs, "x-in"); ok {
			t.Error("x-in not removed")
		}
		if n, err := host.GetCounterMetric("native.requests"); err != nil || n != 1 {
			t.Errorf("native.requests = %d, %v", n, err)
		}
		if logs := host.GetInfoLogs(); len(logs) == 0 || logs[len(logs)-1] != "native: seen /a" {
			t.Errorf("info logs = %v", logs)
		}
	})
	t.Run("a local response is recorded by the emulator", func(t *testing.T) {
		id := host.InitializeHttpContext()
		if a := host.CallOnRequestHeaders(id, headers("/deny"), true); a != types.ActionPause {
			t.Fatalf("action = %v", a)
		}
		r := host.GetSentLocalResponse(id)
		if r == nil || r.StatusCode != 403 || string(r.Data) != "no" {
			t.Fatalf("local response = %+v", r)
		}
	})
	t.Run("a callout breaking Envoy's rules is refused natively too", func(t *testing.T) {
		id := host.InitializeHttpContext()
		host.CallOnRequestHeaders(id, headers("/bad-callout"), true)
		if v, _ := get(host.GetCurrentRequestHeaders(id), "x-refused"); v != "yes" {
			t.Fatal("the malformed callout was not refused")
		}
		if n := len(host.GetCalloutAttributesFromContext(id)); n != 0 {
			t.Fatalf("%d callouts reached the emulator", n)
		}
	})
	t.Run("a callout's answer resumes the stream", func(t *testing.T) {
		id := host.InitializeHttpContext()
		if a := host.CallOnRequestHeaders(id, headers("/callout"), true); a != types.ActionPause {
			t.Fatalf("action = %v", a)
		}
		calls := host.GetCalloutAttributesFromContext(id)
		if len(calls) != 1 || calls[0].Upstream != "idp" {
			t.Fatalf("callouts = %+v", calls)
		}
		host.CallOnHttpCallResponse(calls[0].CalloutID, [][2]string{{":status", "200"}}, nil, []byte("keys"))
		if v, _ := get(host.GetCurrentRequestHeaders(id), "x-body"); v != "keys" {
			t.Fatalf("x-body = %q", v)
		}
		if a := host.GetCurrentHttpStreamAction(id); a != types.ActionContinue {
			t.Fatalf("stream action after resume = %v", a)
		}
	})
	t.Run("the log level is trace natively", func(t *testing.T) {
		if l, err := abi.GetLogLevel(); err != nil || l != abi.LogLevelTrace || !abi.LogEnabled(abi.LogLevelDebug) {
			t.Fatalf("GetLogLevel = %v, %v", l, err)
		}
	})
}

func TestNativeForeignFunctions(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&nativeVM{}))
	defer reset()
	t.Run("a function set here answers with its result or its status", func(t *testing.T) {
		abi.SetForeignFunction("f", func(args []byte) ([]byte, error) {
			if string(args) == "fail" {
				return nil, types.ErrorUnimplemented
			}
			return append([]byte("got "), args...), nil
		})
		defer abi.SetForeignFunction("f", nil)
		if out, err := abi.CallForeignFunction("f", []byte("x")); err != nil || string(out) != "got x" {
			t.Fatalf("= %q, %v", out, err)
		}
		if _, err := abi.CallForeignFunction("f", []byte("fail")); !errors.Is(err, types.ErrorUnimplemented) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("other names go to the emulator's registered functions", func(t *testing.T) {
		host.RegisterForeignFunction("g", func(args []byte) []byte { return append([]byte("emulated "), args...) })
		if out, err := abi.CallForeignFunction("g", []byte("y")); err != nil || string(out) != "emulated y" {
			t.Fatalf("= %q, %v", out, err)
		}
	})
	t.Run("a removed function is no longer called", func(t *testing.T) {
		abi.SetForeignFunction("g", func([]byte) ([]byte, error) { return []byte("override"), nil })
		abi.SetForeignFunction("g", nil)
		if out, _ := abi.CallForeignFunction("g", []byte("z")); string(out) != "emulated z" {
			t.Fatalf("= %q", out)
		}
	})
}
