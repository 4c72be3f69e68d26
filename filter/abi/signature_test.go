package abi_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/host"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// sig is a wasm function type.
type sig struct{ params, results []api.ValueType }

func i32s(n int) []api.ValueType { return slices.Repeat([]api.ValueType{i32}, n) }

// abiExports are the callbacks an HTTP filter exports, with their ABI
// v0.2.1 types (proxy-wasm spec, abi-versions/v0.2.1).
var abiExports = map[string]sig{
	"proxy_abi_version_0_2_1":     {nil, nil},
	"_initialize":                 {nil, nil},
	"proxy_on_memory_allocate":    {i32s(1), i32s(1)},
	"proxy_on_context_create":     {i32s(2), nil},
	"proxy_on_vm_start":           {i32s(2), i32s(1)},
	"proxy_on_configure":          {i32s(2), i32s(1)},
	"proxy_on_tick":               {i32s(1), nil},
	"proxy_on_queue_ready":        {i32s(2), nil},
	"proxy_on_done":               {i32s(1), i32s(1)},
	"proxy_on_log":                {i32s(1), nil},
	"proxy_on_delete":             {i32s(1), nil},
	"proxy_on_request_headers":    {i32s(3), i32s(1)},
	"proxy_on_request_body":       {i32s(3), i32s(1)},
	"proxy_on_request_trailers":   {i32s(2), i32s(1)},
	"proxy_on_response_headers":   {i32s(3), i32s(1)},
	"proxy_on_response_body":      {i32s(3), i32s(1)},
	"proxy_on_response_trailers":  {i32s(2), i32s(1)},
	"proxy_on_http_call_response": {i32s(5), nil},
}

// abiImports are the host calls the binding may import from module env.
var abiImports = map[string]sig{
	"proxy_log":                          {i32s(3), i32s(1)},
	"proxy_get_log_level":                {i32s(1), i32s(1)},
	"proxy_set_tick_period_milliseconds": {i32s(1), i32s(1)},
	"proxy_set_effective_context":        {i32s(1), i32s(1)},
	"proxy_done":                         {nil, i32s(1)},
	"proxy_get_buffer_bytes":             {i32s(5), i32s(1)},
	"proxy_get_header_map_pairs":         {i32s(3), i32s(1)},
	"proxy_set_header_map_pairs":         {i32s(3), i32s(1)},
	"proxy_get_header_map_value":         {i32s(5), i32s(1)},
	"proxy_add_header_map_value":         {i32s(5), i32s(1)},
	"proxy_replace_header_map_value":     {i32s(5), i32s(1)},
	"proxy_remove_header_map_value":      {i32s(3), i32s(1)},
	"proxy_continue_stream":              {i32s(1), i32s(1)},
	"proxy_send_local_response":          {i32s(8), i32s(1)},
	"proxy_http_call":                    {i32s(10), i32s(1)},
	"proxy_get_shared_data":              {i32s(5), i32s(1)},
	"proxy_set_shared_data":              {i32s(5), i32s(1)},
	"proxy_get_property":                 {i32s(4), i32s(1)},
	"proxy_define_metric":                {i32s(4), i32s(1)},
	"proxy_increment_metric":             {[]api.ValueType{i32, i64}, i32s(1)},
	"proxy_record_metric":                {[]api.ValueType{i32, i64}, i32s(1)},
	"proxy_get_metric":                   {i32s(2), i32s(1)},
	"proxy_call_foreign_function":        {i32s(6), i32s(1)},
}

// TestModuleSignatures checks the compiled guests against the ABI tables:
// every callback exported with its exact type, every env import known and
// correctly typed, and no malloc export (Envoy would prefer it to
// proxy_on_memory_allocate).
func TestModuleSignatures(t *testing.T) {
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(host.DefaultCompilationCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	defer rt.Close(ctx)
	for _, guest := range []string{"guest", "passthrough"} {
		t.Run("the "+guest+" module has the ABI's exports and imports", func(t *testing.T) {
			code, err := os.ReadFile(buildGuest(t, guest))
			if err != nil {
				t.Fatal(err)
			}
			mod, err := rt.CompileModule(ctx, code)
			if err != nil {
				t.Fatal(err)
			}
			exports := mod.ExportedFunctions()
			for name, want := range abiExports {
				f, ok := exports[name]
				if !ok {
					t.Errorf("export %s missing", name)
					continue
				}
				if !slices.Equal(f.ParamTypes(), want.params) || !slices.Equal(f.ResultTypes(), want.results) {
					t.Errorf("export %s has type %v -> %v, want %v -> %v", name, f.ParamTypes(), f.ResultTypes(), want.params, want.results)
				}
			}
			if _, ok := exports["malloc"]; ok {
				t.Error("module exports malloc")
			}
			for _, f := range mod.ImportedFunctions() {
				module, name, _ := f.Import()
				if module != "env" {
					if module != "wasi_snapshot_preview1" {
						t.Errorf("import from unexpected module %s.%s", module, name)
					}
					continue
				}
				want, ok := abiImports[name]
				if !ok {
					t.Errorf("unexpected env import %s", name)
					continue
				}
				if !slices.Equal(f.ParamTypes(), want.params) || !slices.Equal(f.ResultTypes(), want.results) {
					t.Errorf("import %s has type %v -> %v, want %v -> %v", name, f.ParamTypes(), f.ResultTypes(), want.params, want.results)
				}
			}
			for name := range exports {
				if strings.HasPrefix(name, "proxy_") {
					if _, ok := abiExports[name]; !ok {
						t.Errorf("unexpected export %s", name)
					}
				}
			}
		})
	}
}
