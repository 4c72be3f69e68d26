package host

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Kinds of callloop_run (host/testdata/guests/callloop).
const (
	loopDone          = 1
	loopGetLogLevel   = 2
	loopGetHeader     = 3
	loopGetAbsent     = 4
	loopReplaceHeader = 5
	loopRemoveAbsent  = 6
	loopIncrement     = 7
	loopLog           = 8
	loopTime          = 9
	loopGetPairs      = 10
)

// callsPerRequest is how many host calls one request of the call-cost
// benchmark makes: enough that the request's own cost (about 10 µs) adds
// ~1 ns per call.
const callsPerRequest = 10000

// BenchmarkHostCall measures what one host call costs in this host: ns/op is
// per call, from a guest (callloop) that repeats one call in a loop inside
// on_request_headers. "floor" is the same guest's loop over an imported
// function that does nothing, in a bare wazero runtime in the same process
// (no Host, no rule checks): wazero's own cost of a call from wasm to Go.
func BenchmarkHostCall(b *testing.B) {
	ctx := context.Background()
	module := buildGuest(b, "callloop")
	b.Run("floor", func(b *testing.B) {
		run := bareCallLoop(b, module)
		b.ReportAllocs()
		b.ResetTimer()
		for n := b.N; n > 0; n -= callsPerRequest {
			if failed := run(loopDone, min(n, callsPerRequest)); failed != 0 {
				b.Fatalf("%d calls failed", failed)
			}
		}
	})
	h := newTestHost(b, "callloop", nil)
	rows := []struct {
		name string
		kind int
	}{
		{"proxy_done", loopDone},
		{"proxy_get_log_level", loopGetLogLevel},
		{"proxy_get_header_map_value", loopGetHeader},
		{"proxy_get_header_map_value_absent", loopGetAbsent},
		{"proxy_replace_header_map_value", loopReplaceHeader},
		{"proxy_remove_header_map_value_absent", loopRemoveAbsent},
		{"proxy_get_header_map_pairs", loopGetPairs},
		{"proxy_increment_metric", loopIncrement},
		{"proxy_log", loopLog},
		{"proxy_get_current_time_nanoseconds", loopTime},
	}
	for _, r := range rows {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			for n := b.N; n > 0; n -= callsPerRequest {
				req := callLoopRequest(r.kind, min(n, callsPerRequest))
				if d, err := h.DoOn(ctx, 0, req); err != nil || !d.Continue {
					b.Fatalf("Do = %+v, %v", d, err)
				}
			}
		})
	}
	if vs := h.Violations(); len(vs) > 0 {
		b.Fatalf("violations: %v", vs)
	}
}

// callLoopRequest asks callloop for n calls of one kind, with the headers
// of a typical API request (the header calls search among them).
func callLoopRequest(kind, n int) Request {
	return Request{Method: "GET", Path: "/orders/42", Authority: "api.example.com", Headers: [][2]string{
		{"user-agent", "bench/1.0"}, {"accept", "application/json"}, {"x-request-id", "0f4c2a9b"},
		{"authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"},
		{"x-loop", strconv.Itoa(kind) + " " + strconv.Itoa(n)},
	}}
}

// bareCallLoop instantiates the callloop guest in a plain wazero runtime
// (wazero's WASI, every env import a function that does nothing) and
// returns its callloop_run.
func bareCallLoop(b *testing.B, module string) func(kind, n int) uint64 {
	ctx := context.Background()
	code, err := os.ReadFile(module)
	if err != nil {
		b.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(compilationCache(DefaultCompilationCacheDir())))
	b.Cleanup(func() { rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, code)
	if err != nil {
		b.Fatal(err)
	}
	env := rt.NewHostModuleBuilder("env")
	for _, def := range compiled.ImportedFunctions() {
		mod, name, _ := def.Import()
		if mod != "env" {
			continue
		}
		env.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
				if len(stack) > 0 {
					stack[0] = 0
				}
			}), def.ParamTypes(), def.ResultTypes()).
			Export(name)
	}
	if _, err := env.Instantiate(ctx); err != nil {
		b.Fatal(err)
	}
	mod, err := rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		b.Fatal(err)
	}
	run := mod.ExportedFunction("callloop_run")
	return func(kind, n int) uint64 {
		res, err := run.Call(ctx, uint64(kind), uint64(n))
		if err != nil {
			b.Fatal(err)
		}
		return res[0]
	}
}
