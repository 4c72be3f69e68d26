package envoy

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/wrapperspb"
	extensionsv1alpha1 "istio.io/api/extensions/v1alpha1"

	"github.com/scopegate/scopegate/filter"
	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// The schema tests prove the files are well-formed; these prove that the
// real module, loaded the way Envoy loads it (canary VM, worker VM, Envoy's
// WASI surface), accepts every plugin configuration we ship and enforces it.

// envoyWasmPlugins returns the plugin of every wasm HTTP filter in the
// Envoy bootstrap file f, keyed by where it sits.
func envoyWasmPlugins(t *testing.T, f string) map[string]*wasmv3.PluginConfig {
	t.Helper()
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := loadBootstrap(data)
	if err != nil {
		t.Fatal(err)
	}
	hcms, err := httpConnectionManagers(bs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*wasmv3.PluginConfig{}
	for where, hcm := range hcms {
		for i, hf := range hcm.GetHttpFilters() {
			w := &wasmfilterv3.Wasm{}
			if !hf.GetTypedConfig().MessageIs(w) {
				continue
			}
			if err := hf.GetTypedConfig().UnmarshalTo(w); err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprintf("%s %s http filter %d", f, where, i)] = w.GetConfig()
		}
	}
	return out
}

// envoyPluginConfigs returns the plugin configuration (the JSON) of every
// wasm HTTP filter in the Envoy bootstrap file f, keyed by where it sits.
func envoyPluginConfigs(t *testing.T, f string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for where, p := range envoyWasmPlugins(t, f) {
		sv := &wrapperspb.StringValue{}
		if err := p.GetConfiguration().UnmarshalTo(sv); err != nil {
			t.Fatal(err)
		}
		out[where] = []byte(sv.GetValue())
	}
	return out
}

// shippedPluginConfigs returns every plugin configuration in envoy/ and
// envoy/istio/, keyed by where it came from.
func shippedPluginConfigs(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range envoyYAMLs(t) {
		maps.Copy(out, envoyPluginConfigs(t, f))
	}
	for _, f := range istioYAMLs(t) {
		for _, o := range istioManifestFile(t, f) {
			if wp, ok := o.Spec.(*extensionsv1alpha1.WasmPlugin); ok {
				js, err := protojson.Marshal(wp.GetPluginConfig())
				if err != nil {
					t.Fatal(err)
				}
				out[filepath.Join(f)+" WasmPlugin "+o.Name] = js
			}
		}
	}
	return out
}

// startModule runs the scopegate module in the local Envoy-faithful host
// with pluginConfig, every cluster it names pointing at idp.
func startModule(t *testing.T, module, pluginConfig []byte, idp string) (*host.Host, error) {
	t.Helper()
	clusters := map[string]string{}
	if cfg, err := filter.ParseConfig(pluginConfig); err == nil {
		for _, c := range cfg.Clusters() {
			clusters[c] = idp
		}
	}
	return host.New(context.Background(), host.Config{
		ModuleBytes:  module,
		PluginConfig: pluginConfig,
		Clusters:     clusters,
		Log:          io.Discard,
	})
}

func buildModule(t *testing.T) []byte {
	t.Helper()
	path, err := wasmbuild.Build("./cmd/scopegate", wasmbuild.Options{})
	if err != nil {
		t.Fatalf("building the module: %v", err)
	}
	module, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return module
}

// unreachableIdP stands in for every identity provider: it answers 503, so
// the module's key fetches fail and requests needing a token cannot pass.
func unreachableIdP(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestTheModuleLoadsEveryShippedConfiguration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the wasm module; skipped with -short")
	}
	module := buildModule(t)
	idp := unreachableIdP(t)
	configs := shippedPluginConfigs(t)
	if len(configs) < 4 {
		t.Fatalf("found %d plugin configurations, want the two Envoy and two Istio examples", len(configs))
	}
	for where, cfg := range configs {
		t.Run(where+" is accepted by the module's on_configure", func(t *testing.T) {
			h, err := startModule(t, module, cfg, idp)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close(context.Background())
			if h.Traps() != 0 || len(h.Violations()) != 0 {
				t.Errorf("traps %d, violations %v", h.Traps(), h.Violations())
			}
		})
	}
	t.Run("a configuration with a misspelled field is refused by the module", func(t *testing.T) {
		broken := []byte(strings.Replace(string(configs[firstKey(t, configs, "envoy.yaml")]), `"audiences"`, `"audience"`, 1))
		h, err := startModule(t, module, broken, idp)
		if err == nil {
			h.Close(context.Background())
			t.Fatal("host.New accepted it")
		}
		if !strings.Contains(err.Error(), "configure") {
			t.Errorf("host.New failed for another reason than on_configure: %v", err)
		}
		t.Logf("refused: %v", err)
	})
}

func firstKey(t *testing.T, m map[string][]byte, prefix string) string {
	t.Helper()
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return k
		}
	}
	t.Fatalf("no configuration from %s", prefix)
	return ""
}

// TestTheModuleEnforcesEnvoyYAMLRules sends requests through the module
// configured by envoy/envoy.yaml and checks the rules written there.
func TestTheModuleEnforcesEnvoyYAMLRules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the wasm module; skipped with -short")
	}
	module := buildModule(t)
	configs := shippedPluginConfigs(t)
	h, err := startModule(t, module, configs[firstKey(t, configs, "envoy.yaml")], unreachableIdP(t))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	for _, tc := range []struct {
		name       string
		method     string
		path       string
		wantStatus int // 0: the request continues upstream
	}{
		{"GET /health passes without a token", "GET", "/health", 0},
		{"POST /health needs a token", "POST", "/health", 401},
		{"/oidc without a token is a 401", "GET", "/oidc/orders", 401},
		{"/admin without a token is a 401", "GET", "/admin", 401},
		{"an unlisted path needs a token (default {})", "GET", "/elsewhere", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := h.Do(context.Background(), host.Request{Method: tc.method, Path: tc.path, Authority: "api.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantStatus == 0 {
				if !d.Continue {
					t.Fatalf("denied with %d %s", d.Status, d.Body)
				}
				return
			}
			if d.Continue || d.Status != tc.wantStatus {
				t.Fatalf("continue=%v status=%d, want %d", d.Continue, d.Status, tc.wantStatus)
			}
			// The first challenge: a missing token gets Bearer, then DPoP (DESIGN §4).
			var challenge string
			for _, hv := range d.ResponseHeaders {
				if strings.EqualFold(hv[0], "www-authenticate") && challenge == "" {
					challenge = hv[1]
				}
			}
			if !strings.HasPrefix(challenge, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", challenge)
			}
		})
	}
}
