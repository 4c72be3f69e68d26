package envoy

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"sigs.k8s.io/yaml"

	"github.com/scopegate/scopegate/filter"
)

// The typed configs the YAMLs use (HCM, router, Wasm, TLS) are registered
// with protobuf's global registry by the imports above, which is how protojson
// resolves their "@type"s. Any other type is unknown and fails, so a new typed
// config in a YAML needs its package imported here (and nothing more, to keep
// this test's compile time down).

// validator is implemented by every go-control-plane message (protoc-gen-validate).
type validator interface{ ValidateAll() error }

// loadBootstrap parses an Envoy YAML bootstrap the way Envoy does: strictly
// (unknown fields are errors), with every Any resolved to its type, and with
// Envoy's validation rules applied to the bootstrap and to each typed config.
func loadBootstrap(data []byte) (*bootstrapv3.Bootstrap, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	bs := &bootstrapv3.Bootstrap{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(js, bs); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if err := validateDeep(bs); err != nil {
		return nil, err
	}
	return bs, nil
}

// validateDeep runs the message's validation rules, then finds every Any
// inside it, unpacks it and validates that too: protoc-gen-validate stops at
// Any boundaries, and Envoy's typed configs all live behind one.
func validateDeep(m proto.Message) error {
	if v, ok := m.(validator); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("validation of %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
		}
	}
	return forEachAny(m.ProtoReflect(), func(a *anypb.Any) error {
		inner, err := a.UnmarshalNew()
		if err != nil {
			return fmt.Errorf("%s: %w", a.GetTypeUrl(), err)
		}
		return validateDeep(inner)
	})
}

// forEachAny calls fn for every Any reachable from m without crossing into
// another Any (fn is expected to recurse).
func forEachAny(m protoreflect.Message, fn func(*anypb.Any) error) error {
	if a, ok := m.Interface().(*anypb.Any); ok {
		return fn(a)
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len() && err == nil; i++ {
				err = forEachAny(l.Get(i).Message(), fn)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				err = forEachAny(mv.Message(), fn)
				return err == nil
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			err = forEachAny(v.Message(), fn)
		}
		return err == nil
	})
	return err
}

// wasmPlugin is one scopegate filter found in a bootstrap.
type wasmPlugin struct {
	where  string // listener and filter chain, for messages
	plugin *wasmv3.PluginConfig
}

// httpConnectionManagers returns every HCM of the static listeners.
func httpConnectionManagers(bs *bootstrapv3.Bootstrap) (map[string]*hcmv3.HttpConnectionManager, error) {
	out := map[string]*hcmv3.HttpConnectionManager{}
	for _, l := range bs.GetStaticResources().GetListeners() {
		for ci, fc := range l.GetFilterChains() {
			for fi, f := range fc.GetFilters() {
				hcm := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig().MessageIs(hcm) {
					if err := f.GetTypedConfig().UnmarshalTo(hcm); err != nil {
						return nil, err
					}
					out[fmt.Sprintf("listener %q chain %d filter %d", l.GetName(), ci, fi)] = hcm
				}
			}
		}
	}
	return out, nil
}

// checkBootstrap applies the rules a working scopegate deployment needs
// beyond Envoy's schema, returning every violation.
func checkBootstrap(bs *bootstrapv3.Bootstrap) []error {
	var errs []error
	clusters := map[string]*clusterv3.Cluster{}
	for _, c := range bs.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = c
	}
	hcms, err := httpConnectionManagers(bs)
	if err != nil {
		return []error{err}
	}
	if len(hcms) == 0 {
		errs = append(errs, errors.New("no HTTP connection manager in the static listeners"))
	}
	var plugins []wasmPlugin
	for where, hcm := range hcms {
		for _, err := range checkOneReading(hcm) {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		filters := hcm.GetHttpFilters()
		for i, hf := range filters {
			w := &wasmfilterv3.Wasm{}
			if hf.GetTypedConfig().MessageIs(w) {
				if err := hf.GetTypedConfig().UnmarshalTo(w); err != nil {
					errs = append(errs, err)
					continue
				}
				plugins = append(plugins, wasmPlugin{fmt.Sprintf("%s http filter %d", where, i), w.GetConfig()})
			}
		}
		// The router is terminal: filters after it never run.
		if n := len(filters); n == 0 || !filters[n-1].GetTypedConfig().MessageIs(&routerv3.Router{}) {
			errs = append(errs, fmt.Errorf("%s: the router must be the last HTTP filter", where))
		}
		for _, vh := range hcm.GetRouteConfig().GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				if c := r.GetRoute().GetCluster(); c != "" && clusters[c] == nil {
					errs = append(errs, fmt.Errorf("%s: route to unknown cluster %q", where, c))
				}
			}
		}
	}
	if len(plugins) == 0 {
		errs = append(errs, errors.New("no envoy.filters.http.wasm filter"))
	}
	for _, p := range plugins {
		for _, err := range checkPlugin(p.plugin, clusters) {
			errs = append(errs, fmt.Errorf("%s: %w", p.where, err))
		}
	}
	return errs
}

// checkOneReading requires the connection manager settings docs/paths.md
// recommends, so Envoy hands scopegate and the upstream one path and one
// spelling of every header name.
func checkOneReading(hcm *hcmv3.HttpConnectionManager) []error {
	var errs []error
	if !hcm.GetNormalizePath().GetValue() {
		errs = append(errs, errors.New("normalize_path must be true"))
	}
	if !hcm.GetMergeSlashes() {
		errs = append(errs, errors.New("merge_slashes must be true"))
	}
	switch hcm.GetPathWithEscapedSlashesAction() {
	case hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT, hcmv3.HttpConnectionManager_REJECT_REQUEST:
	default:
		errs = append(errs, fmt.Errorf("path_with_escaped_slashes_action is %s, want UNESCAPE_AND_REDIRECT or REJECT_REQUEST", hcm.GetPathWithEscapedSlashesAction()))
	}
	switch a := hcm.GetCommonHttpProtocolOptions().GetHeadersWithUnderscoresAction(); a {
	case corev3.HttpProtocolOptions_REJECT_REQUEST, corev3.HttpProtocolOptions_DROP_HEADER:
	default:
		errs = append(errs, fmt.Errorf("common_http_protocol_options.headers_with_underscores_action is %s, want REJECT_REQUEST: servers fold x_jwt_sub into x-jwt-sub", a))
	}
	return errs
}

// checkPlugin checks one Wasm filter: V8, a local module, fail closed, and a
// configuration scopegate accepts whose clusters exist and speak TLS when the
// URI says https.
func checkPlugin(pc *wasmv3.PluginConfig, clusters map[string]*clusterv3.Cluster) []error {
	var errs []error
	vm := pc.GetVmConfig()
	if vm.GetRuntime() != "envoy.wasm.runtime.v8" {
		errs = append(errs, fmt.Errorf("vm_config.runtime is %q, want envoy.wasm.runtime.v8", vm.GetRuntime()))
	}
	errs = append(errs, checkCode(vm.GetCode(), clusters)...)
	//lint:ignore SA1019 fail_open is deprecated upstream, but it is the field Envoy 1.33 knows, so the examples use it.
	if pc.GetFailOpen() || pc.GetFailurePolicy() == wasmv3.FailurePolicy_FAIL_OPEN || pc.GetFailurePolicy() == wasmv3.FailurePolicy_FAIL_RELOAD {
		errs = append(errs, errors.New("the filter must fail closed (fail_open: false; failure_policy unset or FAIL_CLOSED)"))
	}
	sv := &wrapperspb.StringValue{}
	if !pc.GetConfiguration().MessageIs(sv) {
		return append(errs, fmt.Errorf("configuration is %q, want a google.protobuf.StringValue holding JSON", pc.GetConfiguration().GetTypeUrl()))
	}
	if err := pc.GetConfiguration().UnmarshalTo(sv); err != nil {
		return append(errs, err)
	}
	cfg, err := filter.ParseConfig([]byte(sv.GetValue()))
	if err != nil {
		return append(errs, fmt.Errorf("scopegate rejects the configuration: %w", err))
	}
	for _, c := range cfg.Clusters() {
		if clusters[c] == nil {
			errs = append(errs, fmt.Errorf("the plugin names cluster %q, which the bootstrap does not define", c))
		}
	}
	for _, f := range fetches(cfg) {
		if err := checkTLS(f.cluster, f.uri, clusters[f.cluster]); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkCode: the module is a local .wasm file, or fetched over HTTP through
// a cluster the bootstrap defines (with TLS for an https URI) and pinned by
// the lower-case hex SHA-256 Envoy compares the download with.
func checkCode(code *corev3.AsyncDataSource, clusters map[string]*clusterv3.Cluster) []error {
	if remote := code.GetRemote(); remote != nil {
		var errs []error
		if !sha256Pattern.MatchString(remote.GetSha256()) {
			errs = append(errs, fmt.Errorf("vm_config.code.remote.sha256 is %q, want the module's SHA-256 as 64 lower-case hex digits (sha256sum dist/scopegate.wasm)", remote.GetSha256()))
		}
		uri := remote.GetHttpUri()
		if c := uri.GetCluster(); clusters[c] == nil {
			errs = append(errs, fmt.Errorf("vm_config.code.remote.http_uri names cluster %q, which the bootstrap does not define", c))
		} else if err := checkTLS(c, uri.GetUri(), clusters[c]); err != nil {
			errs = append(errs, err)
		}
		return errs
	}
	if f := code.GetLocal().GetFilename(); !strings.HasSuffix(f, ".wasm") {
		return []error{fmt.Errorf("vm_config.code.local.filename is %q, want a .wasm file", f)}
	}
	return nil
}

// fetch is one (cluster, URI) pair the plugin will call out to.
type fetch struct{ cluster, uri string }

// fetches lists the callouts a configuration makes. For discovery the JWKS
// URI is only known at run time; it is assumed to use the discovery URI's
// scheme and host, the usual case.
func fetches(cfg *filter.Config) []fetch {
	var out []fetch
	for _, p := range cfg.Providers {
		switch {
		case p.RemoteJWKS != nil:
			out = append(out, fetch{p.RemoteJWKS.Cluster, p.RemoteJWKS.URI})
		case p.Discovery != nil:
			out = append(out, fetch{p.Discovery.Cluster, p.Discovery.URI})
			out = append(out, fetch{p.Discovery.JWKSCluster, p.Discovery.URI})
		}
	}
	return out
}

// checkTLS requires a cluster reached with an https URI to originate TLS to
// that host: an UpstreamTlsContext whose SNI is the URI's host and which
// verifies the server certificate.
func checkTLS(name, uri string, c *clusterv3.Cluster) error {
	u, err := url.Parse(uri)
	if err != nil || c == nil || u.Scheme != "https" {
		return nil // a bad URI is ParseConfig's to reject, a missing cluster is reported already
	}
	ts := c.GetTransportSocket()
	tls := &tlsv3.UpstreamTlsContext{}
	if !ts.GetTypedConfig().MessageIs(tls) {
		return fmt.Errorf("cluster %q serves %s but has no UpstreamTlsContext transport socket", name, uri)
	}
	if err := ts.GetTypedConfig().UnmarshalTo(tls); err != nil {
		return err
	}
	if tls.GetSni() != u.Hostname() {
		return fmt.Errorf("cluster %q: sni %q, want %q (the host of %s)", name, tls.GetSni(), u.Hostname(), uri)
	}
	if tls.GetCommonTlsContext().GetValidationContextType() == nil {
		return fmt.Errorf("cluster %q does not verify the identity provider's certificate (no validation_context)", name)
	}
	return nil
}

// validateEnvoyYAML is the whole check for one file.
func validateEnvoyYAML(data []byte) error {
	bs, err := loadBootstrap(data)
	if err != nil {
		return err
	}
	return errors.Join(checkBootstrap(bs)...)
}

// envoyYAMLs lists every Envoy bootstrap under envoy/ (Istio manifests live
// in envoy/istio and have their own test).
func envoyYAMLs(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 2 {
		t.Fatalf("found %d Envoy YAMLs under envoy/, want at least envoy.yaml and the discovery example", len(files))
	}
	return files
}

func TestEveryEnvoyYAMLLoadsIntoEnvoysTypesAndScopegatesParser(t *testing.T) {
	validateEach(t, envoyYAMLs(t), " is a valid bootstrap with a valid scopegate filter", validateEnvoyYAML)
}

// validateEach runs validate on every file's contents, each in a subtest
// named by the file and what.
func validateEach(t *testing.T, files []string, what string, validate func([]byte) error) {
	for _, f := range files {
		t.Run(f+what, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(data); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTheDiscoveryExampleHasSeveralProvidersAndRules(t *testing.T) {
	configs := envoyPluginConfigs(t, "envoy-discovery.yaml")
	if len(configs) != 1 {
		t.Fatalf("found %d scopegate filters, want 1", len(configs))
	}
	var cfg *filter.Config
	for where, raw := range configs {
		var err error
		if cfg, err = filter.ParseConfig(raw); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
	}
	var discovery bool
	for _, p := range cfg.Providers {
		discovery = discovery || p.Discovery != nil
	}
	if len(cfg.Providers) < 2 || !discovery || len(cfg.Rules) < 3 {
		t.Errorf("want >= 2 providers (one using discovery) and >= 3 rules; got %d providers (discovery: %v), %d rules",
			len(cfg.Providers), discovery, len(cfg.Rules))
	}
}

// TestBrokenEnvoyYAMLIsRejected proves the validation has teeth: each case
// changes one thing in a copy of envoy.yaml and expects the check to fail;
// the unchanged file and the allowed variants must pass.
func TestBrokenEnvoyYAMLIsRejected(t *testing.T) {
	checkMutations(t, "envoy.yaml", validateEnvoyYAML, []mutation{
		{"the unchanged file is accepted", "", "", ""},
		{"failure_policy FAIL_CLOSED instead of fail_open is accepted", "fail_open: false", "failure_policy: FAIL_CLOSED", ""},
		{"rejecting escaped slashes instead of redirecting is accepted", "path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT", "path_with_escaped_slashes_action: REJECT_REQUEST", ""},

		{"allowing header names with underscores is rejected",
			"          common_http_protocol_options:\n            headers_with_underscores_action: REJECT_REQUEST\n", "", "headers_with_underscores_action"},
		{"headers_with_underscores_action ALLOW is rejected", "headers_with_underscores_action: REJECT_REQUEST", "headers_with_underscores_action: ALLOW", "headers_with_underscores_action"},
		{"a path that is not normalised is rejected", "normalize_path: true", "normalize_path: false", "normalize_path"},
		{"unmerged slashes are rejected", "merge_slashes: true", "merge_slashes: false", "merge_slashes"},
		{"escaped slashes kept as they are is rejected", "path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT", "path_with_escaped_slashes_action: KEEP_UNCHANGED", "path_with_escaped_slashes_action"},

		{"a misspelled top-level field is rejected", "static_resources:", "static_resource:", "unknown field"},
		{"a misspelled field inside the Wasm VM config is rejected", "runtime: envoy.wasm.runtime.v8", "runtim: envoy.wasm.runtime.v8", "unknown field"},
		{"a misspelled fail_open is rejected", "fail_open: false", "failopen: false", "unknown field"},
		{"a misspelled field in the TLS context is rejected", "sni: idp.example.com", "server_name: idp.example.com", "unknown field"},
		{"a misspelled field in the connection manager is rejected", "stat_prefix: ingress_http", "stats_prefix: ingress_http", "unknown field"},
		{"an unknown typed config is rejected", "filters.http.wasm.v3.Wasm", "filters.http.wasm.v3.WasmFilter", "WasmFilter"},
		{"a port out of range breaks Envoy's validation rules", "port_value: 8080", "port_value: 80800", "PortValue"},
		{"an empty stat_prefix inside a typed config breaks Envoy's validation rules", "stat_prefix: ingress_http", `stat_prefix: ""`, "StatPrefix"},

		{"a misspelled plugin field is rejected by scopegate's parser", `"audiences"`, `"audience"`, "scopegate rejects"},
		{"an unknown requirement field is rejected by scopegate's parser", `"scopes": ["kong_api_access"]`, `"scope": ["kong_api_access"]`, "scopegate rejects"},
		{"plugin configuration that is not JSON is rejected", `"providers": [{`, `providers: [{`, "scopegate rejects"},
		{"a plugin cluster the bootstrap lacks is rejected", `"cluster": "idp"`, `"cluster": "keycloak"`, `cluster "keycloak"`},
		{"a route to a missing cluster is rejected", "route: { cluster: app }", "route: { cluster: backend }", "unknown cluster"},
		{"another Wasm runtime is rejected", "runtime: envoy.wasm.runtime.v8", "runtime: envoy.wasm.runtime.wamr", "runtime"},
		{"failing open is rejected", "fail_open: false", "fail_open: true", "fail closed"},
		{"failure_policy FAIL_OPEN is rejected", "fail_open: false", "failure_policy: FAIL_OPEN", "fail closed"},
		{"an SNI that is not the IdP host is rejected", "sni: idp.example.com", "sni: other.example.com", "sni"},
		{"an IdP cluster that does not verify certificates is rejected",
			"        common_tls_context:\n          validation_context:\n            trusted_ca: { filename: /etc/ssl/certs/ca-certificates.crt }\n" +
				"            match_typed_subject_alt_names:\n            - san_type: DNS\n              matcher: { exact: idp.example.com }\n",
			"        common_tls_context: {}\n",
			"does not verify"},
	})
}

// TestTheRemoteModuleExampleIsPinnedAndReachable: the module fetched over
// HTTP must come through a cluster the bootstrap has, over verified TLS, and
// be pinned by the digest Envoy checks the download against.
func TestTheRemoteModuleExampleIsPinnedAndReachable(t *testing.T) {
	zeros := `sha256: "` + strings.Repeat("0", 64) + `"`
	checkMutations(t, "envoy-remote.yaml", validateEnvoyYAML, []mutation{
		{"the unchanged file is accepted", "", "", ""},
		{"a real digest is accepted", zeros, "sha256: " + strings.Repeat("3f", 32), ""},
		{"a module without a digest is rejected by Envoy's validation", "                      " + zeros + "\n", "", "Sha256"},
		{"an upper-case digest, which Envoy's comparison would never match, is rejected", zeros, "sha256: " + strings.Repeat("3F", 32), "lower-case hex"},
		{"a download cluster the bootstrap lacks is rejected", "cluster: artifacts", "cluster: wasm_repo", `cluster "wasm_repo"`},
		{"a download over TLS with the wrong SNI is rejected", "sni: artifacts.example.com", "sni: cdn.example.com", "sni"},
		{"a misspelled remote field is rejected", "retry_policy:", "retries:", "unknown field"},
	})
}

// mutation is one change to a shipped file and what the validation says.
type mutation struct {
	name     string
	old, new string // replace the first old with new; old "" appends new
	wantErr  string // "" means the changed file is valid
}

// checkMutations proves a validation has teeth: each case changes one thing
// in a copy of file; the unchanged file and the allowed variants must pass,
// every other change must fail with an error mentioning wantErr.
func checkMutations(t *testing.T, file string, validate func([]byte) error, cases []mutation) {
	t.Helper()
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := string(orig)
			switch {
			case tc.old == "":
				data += tc.new
			case !strings.Contains(data, tc.old):
				t.Fatalf("%s no longer contains %q; update the test", file, tc.old)
			default:
				data = strings.Replace(data, tc.old, tc.new, 1)
			}
			err := validate([]byte(data))
			t.Logf("validation: %v", err)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatal("accepted")
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

// TestThePathsDocSnippetsAreValid keeps docs/paths.md honest: its YAML is
// the connection manager settings checkOneReading requires, decoded into
// Envoy's type, and its JSON is a rule scopegate's parser accepts.
func TestThePathsDocSnippetsAreValid(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "paths.md"))
	if err != nil {
		t.Fatal(err)
	}
	var yamls, jsons int
	for i, block := range strings.Split(string(data), "```")[1:] {
		if i%2 != 0 {
			continue // the text between two blocks
		}
		lang, text, _ := strings.Cut(block, "\n")
		switch lang {
		case "yaml":
			yamls++
			js, err := yaml.YAMLToJSON([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			hcm := &hcmv3.HttpConnectionManager{}
			if err := protojson.Unmarshal(js, hcm); err != nil {
				t.Fatalf("docs/paths.md YAML is not connection manager settings: %v", err)
			}
			if errs := checkOneReading(hcm); len(errs) != 0 {
				t.Errorf("docs/paths.md YAML: %v", errors.Join(errs...))
			}
		case "jsonc": // a rule, not a whole configuration (the docs test's convention)
			jsons++
			cfg := `{"rules":[` + text + `],"default":{"allow":true}}`
			if _, err := filter.ParseConfig([]byte(cfg)); err != nil {
				t.Errorf("docs/paths.md JSON rule: %v", err)
			}
		}
	}
	if yamls != 1 || jsons != 1 {
		t.Fatalf("found %d YAML and %d JSON blocks in docs/paths.md, want the Envoy settings and the OPTIONS * rule", yamls, jsons)
	}
}
