package envoy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	extensionsv1alpha1 "istio.io/api/extensions/v1alpha1"
	networkingv1 "istio.io/api/networking/v1"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1 "istio.io/api/security/v1"
	typev1beta1 "istio.io/api/type/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/scopegate/scopegate/filter"
)

// istioKinds maps apiVersion/kind to a fresh spec message of istio.io/api.
var istioKinds = map[string]func() proto.Message{
	"extensions.istio.io/v1alpha1/WasmPlugin":    func() proto.Message { return &extensionsv1alpha1.WasmPlugin{} },
	"networking.istio.io/v1/ServiceEntry":        func() proto.Message { return &networkingv1.ServiceEntry{} },
	"networking.istio.io/v1/DestinationRule":     func() proto.Message { return &networkingv1.DestinationRule{} },
	"networking.istio.io/v1/Sidecar":             func() proto.Message { return &networkingv1.Sidecar{} },
	"security.istio.io/v1/RequestAuthentication": func() proto.Message { return &securityv1.RequestAuthentication{} },
	"security.istio.io/v1/AuthorizationPolicy":   func() proto.Message { return &securityv1.AuthorizationPolicy{} },
	"networking.istio.io/v1alpha3/EnvoyFilter":   func() proto.Message { return &networkingv1alpha3.EnvoyFilter{} },
}

// istioObject is one Kubernetes object of a manifest, its spec decoded.
type istioObject struct {
	Kind      string
	Name      string
	Namespace string
	RawSpec   map[string]any // the spec as written, to see fields set to their zero value
	Spec      proto.Message
}

// splitYAMLDocuments splits a multi-document YAML stream at "---" lines.
func splitYAMLDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if strings.TrimSpace(stripComments(cur.String())) != "" {
			docs = append(docs, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.TrimRight(line, " \r\n") == "---" {
			flush()
			continue
		}
		cur.WriteString(line)
	}
	flush()
	return docs
}

// stripComments drops full-line YAML comments (to tell empty documents apart).
func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// loadIstioManifest decodes every object of a manifest strictly: known
// apiVersion/kind, only apiVersion/kind/metadata/spec at the top, a name and
// namespace, and a spec that istio.io/api's types accept with no unknown field.
func loadIstioManifest(data []byte) ([]istioObject, error) {
	var objs []istioObject
	for i, doc := range splitYAMLDocuments(data) {
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: yaml: %w", i, err)
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(js, &top); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		var apiVersion, kind string
		var meta struct{ Name, Namespace string }
		_ = json.Unmarshal(top["apiVersion"], &apiVersion)
		_ = json.Unmarshal(top["kind"], &kind)
		for k := range top {
			if k != "apiVersion" && k != "kind" && k != "metadata" && k != "spec" {
				return nil, fmt.Errorf("document %d (%s): unknown top-level field %q", i, kind, k)
			}
		}
		newSpec, ok := istioKinds[apiVersion+"/"+kind]
		if !ok {
			return nil, fmt.Errorf("document %d: unknown apiVersion/kind %q/%q", i, apiVersion, kind)
		}
		if err := json.Unmarshal(top["metadata"], &meta); err != nil || meta.Name == "" || meta.Namespace == "" {
			return nil, fmt.Errorf("document %d (%s): metadata needs a name and a namespace", i, kind)
		}
		spec := newSpec()
		if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(top["spec"], spec); err != nil {
			return nil, fmt.Errorf("%s %s: spec: %w", kind, meta.Name, err)
		}
		var raw map[string]any
		if err := json.Unmarshal(top["spec"], &raw); err != nil {
			return nil, fmt.Errorf("%s %s: spec: %w", kind, meta.Name, err)
		}
		objs = append(objs, istioObject{kind, meta.Name, meta.Namespace, raw, spec})
	}
	if len(objs) == 0 {
		return nil, errors.New("no objects")
	}
	return objs, nil
}

// istioCluster is a parsed Istio outbound cluster name, outbound|port|subset|host.
type istioCluster struct {
	port int
	host string
}

func parseIstioCluster(name string) (istioCluster, error) {
	parts := strings.Split(name, "|")
	if len(parts) != 4 || parts[0] != "outbound" || parts[3] == "" {
		return istioCluster{}, fmt.Errorf("cluster %q is not an Istio outbound cluster name (outbound|<port>|<subset>|<host>)", name)
	}
	port, err := strconv.Atoi(parts[1])
	if err != nil || port < 1 || port > 65535 {
		return istioCluster{}, fmt.Errorf("cluster %q: bad port %q", name, parts[1])
	}
	return istioCluster{port, parts[3]}, nil
}

// checkIstioManifest applies the rules a working scopegate deployment in
// Istio needs beyond the schema.
func checkIstioManifest(objs []istioObject) []error {
	var errs []error
	var plugins int
	for _, o := range objs {
		wp, ok := o.Spec.(*extensionsv1alpha1.WasmPlugin)
		if !ok {
			continue
		}
		plugins++
		for _, err := range checkWasmPlugin(o, wp, objs) {
			errs = append(errs, fmt.Errorf("WasmPlugin %s: %w", o.Name, err))
		}
	}
	if plugins == 0 && !hasKind(objs, "RequestAuthentication") {
		errs = append(errs, errors.New("no WasmPlugin in the manifest"))
	}
	return errs
}

func hasKind(objs []istioObject, kind string) bool {
	for _, o := range objs {
		if o.Kind == kind {
			return true
		}
	}
	return false
}

// sha256Pattern is the WasmPlugin CRD's validation of the sha256 field.
var sha256Pattern = regexp.MustCompile(`^[a-f0-9]{64}$`)

// checkWasmPlugin: AUTHN phase, explicit FAIL_CLOSE, our OCI image pinned
// by digest, a workload selection with the traffic direction that workload
// needs, and a pluginConfig scopegate accepts whose clusters the selected
// proxies will actually have.
func checkWasmPlugin(o istioObject, wp *extensionsv1alpha1.WasmPlugin, objs []istioObject) []error {
	var errs []error
	if wp.GetPhase() != extensionsv1alpha1.PluginPhase_AUTHN {
		errs = append(errs, fmt.Errorf("phase is %s, want AUTHN", wp.GetPhase()))
	}
	// FAIL_CLOSE is the enum's zero value, so protobuf cannot tell it from
	// "unset"; the manifest must say it explicitly, as documentation.
	if o.RawSpec["failStrategy"] != "FAIL_CLOSE" {
		errs = append(errs, fmt.Errorf("failStrategy is %v, want FAIL_CLOSE written out", o.RawSpec["failStrategy"]))
	}
	if wp.GetType() != extensionsv1alpha1.PluginType_HTTP {
		errs = append(errs, fmt.Errorf("type is %s, want HTTP", wp.GetType()))
	}
	if !strings.HasPrefix(wp.GetUrl(), "oci://ghcr.io/scopegate/scopegate:") && !strings.HasPrefix(wp.GetUrl(), "oci://ghcr.io/scopegate/scopegate@sha256:") {
		errs = append(errs, fmt.Errorf("url is %q, want oci://ghcr.io/scopegate/scopegate:<version>", wp.GetUrl()))
	}
	errs = append(errs, checkPinned(wp)...)
	if len(wp.GetSelector().GetMatchLabels()) == 0 && len(wp.GetTargetRefs()) == 0 {
		errs = append(errs, errors.New("selects no workload (selector or targetRefs); it would apply to the whole namespace"))
	}
	errs = append(errs, checkTrafficSelection(wp)...)
	js, err := protojson.Marshal(wp.GetPluginConfig())
	if err != nil {
		return append(errs, err)
	}
	cfg, err := filter.ParseConfig(js)
	if err != nil {
		return append(errs, fmt.Errorf("scopegate rejects the pluginConfig: %w", err))
	}
	for _, f := range fetches(cfg) {
		errs = append(errs, checkIstioFetch(o, wp, f, objs)...)
	}
	return errs
}

// checkPinned: the module is pinned by digest (the sha256 field, or
// url@sha256:), in the form the WasmPlugin CRD accepts. A tag alone can be
// re-pushed, and with imagePullPolicy IfNotPresent different pods would then
// run different modules.
func checkPinned(wp *extensionsv1alpha1.WasmPlugin) []error {
	_, urlDigest, inURL := strings.Cut(wp.GetUrl(), "@sha256:")
	switch {
	case wp.GetSha256() == "" && !inURL:
		return []error{errors.New("the module is not pinned: set sha256 to the digest `make oci` prints (or use url ...@sha256:<digest>)")}
	case wp.GetSha256() != "" && !sha256Pattern.MatchString(wp.GetSha256()):
		return []error{fmt.Errorf("sha256 %q: the CRD wants 64 lower-case hex digits", wp.GetSha256())}
	case inURL && !sha256Pattern.MatchString(urlDigest):
		return []error{fmt.Errorf("url digest %q: want 64 lower-case hex digits", urlDigest)}
	case inURL && wp.GetSha256() != "" && wp.GetSha256() != urlDigest:
		return []error{fmt.Errorf("sha256 %s differs from the url's digest %s", wp.GetSha256(), urlDigest)}
	}
	return nil
}

// isGateway tells whether the plugin is attached to a gateway rather than
// to sidecars: Istio's gateway labels, or a Gateway target.
func isGateway(wp *extensionsv1alpha1.WasmPlugin) bool {
	labels := wp.GetSelector().GetMatchLabels()
	if v := labels["istio"]; v == "ingressgateway" || v == "egressgateway" {
		return true
	}
	if labels["gateway.networking.k8s.io/gateway-name"] != "" || labels["istio.io/gateway-name"] != "" {
		return true
	}
	for _, ref := range wp.GetTargetRefs() {
		if ref.GetKind() == "Gateway" {
			return true
		}
	}
	return false
}

// checkTrafficSelection: on sidecars the plugin must see only inbound
// traffic (mode SERVER); with no match Istio also runs it on the workload's
// outbound calls, which then get 401 from the workload's own sidecar. A
// gateway's listeners are outbound (CLIENT) in Istio's model, so SERVER
// there would leave the gateway unchecked.
func checkTrafficSelection(wp *extensionsv1alpha1.WasmPlugin) []error {
	gateway := isGateway(wp)
	if len(wp.GetMatch()) == 0 {
		if gateway {
			return []error{errors.New("no match: write the gateway's traffic direction out (match: [{mode: CLIENT}])")}
		}
		return []error{errors.New("no match: Istio would run the plugin on the workload's outbound calls too, and its own requests would get 401; set match: [{mode: SERVER}]")}
	}
	var errs []error
	for i, m := range wp.GetMatch() {
		mode := m.GetMode()
		switch {
		case gateway && mode != typev1beta1.WorkloadMode_CLIENT && mode != typev1beta1.WorkloadMode_CLIENT_AND_SERVER:
			errs = append(errs, fmt.Errorf("match[%d].mode is %s on a gateway, where the plugin would never run; want CLIENT", i, mode))
		case !gateway && mode != typev1beta1.WorkloadMode_SERVER:
			errs = append(errs, fmt.Errorf("match[%d].mode is %s on sidecars: the workload's own outbound calls would need a token; want SERVER", i, mode))
		}
	}
	return errs
}

// checkIstioFetch: the cluster a key fetch names exists in the proxies the
// plugin runs in. Istio builds outbound|<port>||<host> for a Kubernetes
// service or a ServiceEntry exported to the plugin's namespace; a Sidecar
// resource limiting the workload's egress must list the host; and an https
// URI needs a DestinationRule, applying to those workloads, that originates
// TLS with the host as SNI.
func checkIstioFetch(o istioObject, wp *extensionsv1alpha1.WasmPlugin, f fetch, objs []istioObject) []error {
	c, err := parseIstioCluster(f.cluster)
	if err != nil {
		return []error{err}
	}
	hostNS := ""
	if strings.HasSuffix(c.host, ".svc.cluster.local") {
		hostNS = strings.Split(c.host, ".")[1]
	} else {
		se, err := serviceEntryFor(c, o.Namespace, objs)
		if err != nil {
			return []error{fmt.Errorf("cluster %q: %w", f.cluster, err)}
		}
		hostNS = se.Namespace
	}
	var errs []error
	for _, sc := range objs {
		s, ok := sc.Spec.(*networkingv1.Sidecar)
		if !ok || sc.Namespace != o.Namespace || !selectsPlugin(s.GetWorkloadSelector().GetLabels(), wp) {
			continue
		}
		if !egressAllows(s, sc.Namespace, hostNS, c.host) {
			errs = append(errs, fmt.Errorf("cluster %q: Sidecar %s limits the workload's egress and does not list %s (add %s/%s)", f.cluster, sc.Name, c.host, hostNS, c.host))
		}
	}
	if u, err := url.Parse(f.uri); err == nil && u.Scheme == "https" {
		if err := tlsOriginated(c, u.Hostname(), o.Namespace, wp, objs); err != nil {
			errs = append(errs, fmt.Errorf("cluster %q serves %s but %w", f.cluster, f.uri, err))
		}
	}
	return errs
}

// serviceEntryFor finds the ServiceEntry declaring the cluster's host and
// port that is exported to namespace ns.
func serviceEntryFor(c istioCluster, ns string, objs []istioObject) (istioObject, error) {
	declared := false
	for _, o := range objs {
		se, ok := o.Spec.(*networkingv1.ServiceEntry)
		if !ok || !slices.Contains(se.GetHosts(), c.host) || !slices.ContainsFunc(se.GetPorts(), func(p *networkingv1.ServicePort) bool { return int(p.GetNumber()) == c.port }) {
			continue
		}
		declared = true
		if exportedTo(se.GetExportTo(), o.Namespace, ns) {
			return o, nil
		}
	}
	if declared {
		return istioObject{}, fmt.Errorf("the ServiceEntry for %s port %d is not exported to namespace %s (exportTo)", c.host, c.port, ns)
	}
	return istioObject{}, fmt.Errorf("no ServiceEntry declares %s port %d (and it is not a Kubernetes service)", c.host, c.port)
}

// exportedTo applies Istio's exportTo: empty or "*" is every namespace, "."
// the object's own.
func exportedTo(exportTo []string, objNS, ns string) bool {
	if len(exportTo) == 0 {
		return true
	}
	for _, e := range exportTo {
		if e == "*" || e == ns || (e == "." && objNS == ns) {
			return true
		}
	}
	return false
}

// selectsPlugin: a workload selector (nil: the whole namespace) that applies
// to the workloads the plugin selects.
func selectsPlugin(labels map[string]string, wp *extensionsv1alpha1.WasmPlugin) bool {
	for k, v := range labels {
		if wp.GetSelector().GetMatchLabels()[k] != v {
			return false
		}
	}
	return true
}

// egressAllows applies a Sidecar's egress hosts ("<namespace>/<host>", the
// namespace "*" or "." for the Sidecar's own, the host "*" or "*.suffix").
func egressAllows(s *networkingv1.Sidecar, sidecarNS, hostNS, host string) bool {
	for _, l := range s.GetEgress() {
		for _, h := range l.GetHosts() {
			ns, name, ok := strings.Cut(h, "/")
			if !ok {
				continue
			}
			nsOK := ns == "*" || ns == hostNS || (ns == "." && sidecarNS == hostNS)
			hostOK := name == "*" || name == host || (strings.HasPrefix(name, "*.") && strings.HasSuffix(host, name[1:]))
			if nsOK && hostOK {
				return true
			}
		}
	}
	return false
}

// tlsOriginated finds a DestinationRule for the cluster's host that applies
// to the plugin's workloads and originates TLS (mode SIMPLE) on its port
// with sni as SNI.
func tlsOriginated(c istioCluster, sni, ns string, wp *extensionsv1alpha1.WasmPlugin, objs []istioObject) error {
	elsewhere := ""
	for _, o := range objs {
		dr, ok := o.Spec.(*networkingv1.DestinationRule)
		if !ok || dr.GetHost() != c.host || !exportedTo(dr.GetExportTo(), o.Namespace, ns) {
			continue
		}
		if ws := dr.GetWorkloadSelector(); ws != nil && (o.Namespace != ns || !selectsPlugin(ws.GetMatchLabels(), wp)) {
			elsewhere = fmt.Sprintf(" (DestinationRule %s selects other workloads than the plugin's)", o.Name)
			continue
		}
		for _, pl := range dr.GetTrafficPolicy().GetPortLevelSettings() {
			if int(pl.GetPort().GetNumber()) != c.port || pl.GetTls().GetMode() != networkingv1.ClientTLSSettings_SIMPLE {
				continue
			}
			if pl.GetTls().GetSni() != sni {
				return fmt.Errorf("DestinationRule %s has sni %q, want %q", o.Name, pl.GetTls().GetSni(), sni)
			}
			return nil
		}
	}
	return fmt.Errorf("no DestinationRule originates TLS (mode SIMPLE) on port %d for the plugin's workloads%s", c.port, elsewhere)
}

func validateIstioYAML(data []byte) error {
	objs, err := loadIstioManifest(data)
	if err != nil {
		return err
	}
	return errors.Join(checkIstioManifest(objs)...)
}

func istioYAMLs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("istio", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d manifests under envoy/istio, want the sidecar and the gateway examples", len(files))
	}
	return files
}

func TestEveryIstioManifestLoadsIntoIstiosTypesAndScopegatesParser(t *testing.T) {
	validateEach(t, istioYAMLs(t), " is valid for Istio and for scopegate", validateIstioYAML)
}

// istioManifestFile reads and decodes the manifest at path.
func istioManifestFile(t *testing.T, path string) []istioObject {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := loadIstioManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestTheGatewayExampleSelectsTheIngressGateway(t *testing.T) {
	for _, o := range istioManifestFile(t, filepath.Join("istio", "gateway.yaml")) {
		if wp, ok := o.Spec.(*extensionsv1alpha1.WasmPlugin); ok {
			if got := wp.GetSelector().GetMatchLabels()["istio"]; got != "ingressgateway" || o.Namespace != "istio-system" {
				t.Errorf("selector istio=%q in namespace %q, want ingressgateway in istio-system", got, o.Namespace)
			}
			return
		}
	}
	t.Error("no WasmPlugin in gateway.yaml")
}

// TestBrokenIstioManifestIsRejected proves the checks have teeth on a copy
// of the sidecar example.
func TestBrokenIstioManifestIsRejected(t *testing.T) {
	checkMutations(t, filepath.Join("istio", "wasmplugin.yaml"), validateIstioYAML, []mutation{
		{"the unchanged manifest is accepted", "", "", ""},
		{"a digest in the url that agrees with sha256 is accepted", "url: oci://ghcr.io/scopegate/scopegate:0.1.0",
			"url: oci://ghcr.io/scopegate/scopegate@sha256:" + strings.Repeat("0", 64), ""},
		{"a real digest is accepted", "sha256: \"" + strings.Repeat("0", 64) + "\"", "sha256: " + strings.Repeat("ab", 32), ""},
		{"a ServiceEntry exported to its own namespace is accepted", "  location: MESH_EXTERNAL", "  exportTo: [\".\"]\n  location: MESH_EXTERNAL", ""},
		{"a Sidecar whose egress lists the IdP is accepted", "", sidecarEgress("./idp.example.com"), ""},
		{"a Sidecar allowing every host of the namespace is accepted", "", sidecarEgress("./*"), ""},

		{"a misspelled WasmPlugin field is rejected", "failStrategy: FAIL_CLOSE", "failStrategey: FAIL_CLOSE", "unknown field"},
		{"an unknown enum value is rejected", "phase: AUTHN", "phase: AUTHENTICATION", "AUTHENTICATION"},
		{"a misspelled ServiceEntry field is rejected", "resolution: DNS", "resolve: DNS", "unknown field"},
		{"a misspelled DestinationRule field is rejected", "sni: idp.example.com", "serverName: idp.example.com", "unknown field"},
		{"an unknown kind is rejected", "kind: ServiceEntry", "kind: ServiceEntries", "unknown apiVersion/kind"},
		{"an old apiVersion of a kind we do not decode is rejected", "apiVersion: extensions.istio.io/v1alpha1", "apiVersion: extensions.istio.io/v1", "unknown apiVersion/kind"},
		{"a misspelled top-level field is rejected", "metadata:\n  name: scopegate\n", "metdata:\n  name: scopegate\n", "unknown top-level field"},

		{"the AUTHZ phase is rejected", "phase: AUTHN", "phase: AUTHZ", "AUTHN"},
		{"failing open is rejected", "failStrategy: FAIL_CLOSE", "failStrategy: FAIL_OPEN", "FAIL_CLOSE"},
		{"an implicit fail strategy is rejected", "  failStrategy: FAIL_CLOSE\n", "", "FAIL_CLOSE"},
		{"another image is rejected", "url: oci://ghcr.io/scopegate/scopegate:0.1.0", "url: oci://docker.io/library/scopegate:0.1.0", "url"},
		{"a plugin without a workload selector is rejected", "  selector:\n    matchLabels:\n      app: orders\n  # Only", "  # Only", "selects no workload"},
		{"a plugin without a traffic match is rejected: the workload's own calls would get 401", "  match:\n  - mode: SERVER\n", "", "match: [{mode: SERVER}]"},
		{"a sidecar plugin on outbound traffic too is rejected", "mode: SERVER", "mode: CLIENT_AND_SERVER", "want SERVER"},
		{"a module pinned by no digest is rejected", "  sha256: \"" + strings.Repeat("0", 64) + "\"\n", "", "not pinned"},
		{"a sha256 the CRD would refuse is rejected", "sha256: \"" + strings.Repeat("0", 64) + "\"", "sha256: REPLACE-ME", "64 lower-case hex"},
		{"a url digest that contradicts sha256 is rejected", "url: oci://ghcr.io/scopegate/scopegate:0.1.0",
			"url: oci://ghcr.io/scopegate/scopegate@sha256:" + strings.Repeat("ab", 32), "differs"},
		{"a misspelled plugin field is rejected by scopegate's parser", "issuer: https://idp", "issuers: https://idp", "scopegate rejects"},
		{"a wrong plugin field type is rejected by scopegate's parser", "timeout_ms: 3000", "timeout_ms: soon", "scopegate rejects"},
		{"a plain cluster name is rejected under Istio", "cluster: outbound|443||idp.example.com", "cluster: idp", "not an Istio outbound cluster"},
		{"a cluster on a port no ServiceEntry declares is rejected", "cluster: outbound|443||idp.example.com", "cluster: outbound|8443||idp.example.com", "no ServiceEntry"},
		{"a ServiceEntry not exported to the plugin's namespace is rejected", "  location: MESH_EXTERNAL", "  exportTo: [istio-system]\n  location: MESH_EXTERNAL", "not exported"},
		{"a Sidecar whose egress leaves out the IdP is rejected", "", sidecarEgress("istio-system/*"), "does not list idp.example.com"},
		{"an https IdP without TLS origination is rejected", "        mode: SIMPLE\n", "        mode: DISABLE\n", "originates TLS"},
		{"TLS origination for other workloads is rejected", "  workloadSelector:\n    matchLabels:\n      app: orders", "  workloadSelector:\n    matchLabels:\n      app: billing", "selects other workloads"},
		{"TLS origination with the wrong SNI is rejected", "sni: idp.example.com", "sni: other.example.com", "sni"},
	})
}

// sidecarEgress is a Sidecar resource for the orders workloads whose egress
// lists host (with istio-system/* for the control plane).
func sidecarEgress(host string) string {
	return `---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: orders-egress
  namespace: orders
spec:
  workloadSelector:
    labels:
      app: orders
  egress:
  - hosts: ["istio-system/*", "` + host + `"]
`
}

func TestTheGatewayExampleRunsOnTheGatewaysListeners(t *testing.T) {
	checkMutations(t, filepath.Join("istio", "gateway.yaml"), validateIstioYAML, []mutation{
		{"the unchanged gateway manifest is accepted", "", "", ""},
		{"CLIENT_AND_SERVER on a gateway is accepted", "mode: CLIENT", "mode: CLIENT_AND_SERVER", ""},
		{"SERVER on a gateway is rejected: the plugin would never run there", "mode: CLIENT", "mode: SERVER", "never run"},
		{"a gateway plugin without a match is rejected", "  match:\n  - mode: CLIENT\n", "", "mode: CLIENT"},
	})
}

// checkUnderscoreHeaders requires, for every WasmPlugin, an EnvoyFilter
// on the same workloads that merges headers_with_underscores_action
// REJECT_REQUEST (or DROP_HEADER) into their HTTP connection manager
// (docs/paths.md): a WasmPlugin cannot set it, and without it an upstream
// that folds "_" into "-" sees headers scopegate never vetted. The patch
// value is decoded into Envoy's own types, so a misspelled field fails.
func checkUnderscoreHeaders(objs []istioObject) []error {
	var errs []error
	for _, o := range objs {
		wp, ok := o.Spec.(*extensionsv1alpha1.WasmPlugin)
		if !ok {
			continue
		}
		labels := wp.GetSelector().GetMatchLabels()
		want := networkingv1alpha3.EnvoyFilter_SIDECAR_INBOUND
		if labels["istio"] != "" {
			want = networkingv1alpha3.EnvoyFilter_GATEWAY
		}
		var problems []string
		found := false
		for _, f := range objs {
			ef, ok := f.Spec.(*networkingv1alpha3.EnvoyFilter)
			if !ok || f.Namespace != o.Namespace || !maps.Equal(ef.GetWorkloadSelector().GetLabels(), labels) {
				continue
			}
			for _, cp := range ef.GetConfigPatches() {
				if cp.GetApplyTo() != networkingv1alpha3.EnvoyFilter_NETWORK_FILTER ||
					cp.GetMatch().GetListener().GetFilterChain().GetFilter().GetName() != "envoy.filters.network.http_connection_manager" {
					continue
				}
				if ctx := cp.GetMatch().GetContext(); ctx != want && ctx != networkingv1alpha3.EnvoyFilter_ANY {
					problems = append(problems, fmt.Sprintf("EnvoyFilter %s patches context %s, want %s", f.Name, ctx, want))
					continue
				}
				if cp.GetPatch().GetOperation() != networkingv1alpha3.EnvoyFilter_Patch_MERGE {
					problems = append(problems, fmt.Sprintf("EnvoyFilter %s: operation %s, want MERGE", f.Name, cp.GetPatch().GetOperation()))
					continue
				}
				action, err := underscoresAction(cp.GetPatch().GetValue())
				switch {
				case err != nil:
					problems = append(problems, fmt.Sprintf("EnvoyFilter %s: %v", f.Name, err))
				case action != corev3.HttpProtocolOptions_REJECT_REQUEST && action != corev3.HttpProtocolOptions_DROP_HEADER:
					problems = append(problems, fmt.Sprintf("EnvoyFilter %s sets headers_with_underscores_action %s", f.Name, action))
				default:
					found = true
				}
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("WasmPlugin %s: no EnvoyFilter on its workloads sets headers_with_underscores_action: REJECT_REQUEST %v", o.Name, problems))
		}
	}
	return errs
}

// underscoresAction decodes an EnvoyFilter patch value as Envoy's listener
// filter (strictly) and returns its connection manager's action.
func underscoresAction(value *structpb.Struct) (corev3.HttpProtocolOptions_HeadersWithUnderscoresAction, error) {
	js, err := protojson.Marshal(value)
	if err != nil {
		return 0, err
	}
	var f listenerv3.Filter
	if err := protojson.Unmarshal(js, &f); err != nil {
		return 0, fmt.Errorf("patch value: %w", err)
	}
	hcm := &hcmv3.HttpConnectionManager{}
	if err := f.GetTypedConfig().UnmarshalTo(hcm); err != nil {
		return 0, fmt.Errorf("patch value typed_config: %w", err)
	}
	return hcm.GetCommonHttpProtocolOptions().GetHeadersWithUnderscoresAction(), nil
}

func TestEveryIstioPluginComesWithHeaderNamesWithUnderscoresRefused(t *testing.T) {
	plugins := 0
	for _, path := range istioYAMLs(t) {
		objs := istioManifestFile(t, path)
		if !hasKind(objs, "WasmPlugin") {
			continue // the RequestAuthentication example runs no plugin
		}
		plugins++
		t.Run(path+" refuses header names with underscores on the plugin's workloads", func(t *testing.T) {
			if err := errors.Join(checkUnderscoreHeaders(objs)...); err != nil {
				t.Fatal(err)
			}
		})
	}
	if plugins < 2 {
		t.Fatalf("found %d manifests with a WasmPlugin, want the sidecar and the gateway examples", plugins)
	}
	orig, err := os.ReadFile(filepath.Join("istio", "wasmplugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"without the setting", "          common_http_protocol_options:\n            headers_with_underscores_action: REJECT_REQUEST\n", ""},
		{"with ALLOW", "headers_with_underscores_action: REJECT_REQUEST", "headers_with_underscores_action: ALLOW"},
		{"with a misspelled setting", "headers_with_underscores_action: REJECT_REQUEST", "header_with_underscores_action: REJECT_REQUEST"},
		{"on other workloads", "    labels:\n      app: orders\n  configPatches:", "    labels:\n      app: billing\n  configPatches:"},
		{"on outbound traffic", "context: SIDECAR_INBOUND", "context: SIDECAR_OUTBOUND"},
		{"replacing instead of merging", "operation: MERGE", "operation: REPLACE"},
	} {
		t.Run("the sidecar example "+tc.name+" is rejected", func(t *testing.T) {
			data := string(orig)
			if !strings.Contains(data, tc.old) {
				t.Fatalf("wasmplugin.yaml no longer contains %q; update the test", tc.old)
			}
			objs, err := loadIstioManifest([]byte(strings.Replace(data, tc.old, tc.new, 1)))
			if err == nil && len(checkUnderscoreHeaders(objs)) == 0 {
				t.Fatal("accepted")
			}
		})
	}
}

func TestIstioClusterNames(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster string
		want    istioCluster
		ok      bool
	}{
		{"an external host on 443 parses", "outbound|443||idp.example.com", istioCluster{443, "idp.example.com"}, true},
		{"a subset parses", "outbound|8080|v1|keycloak.identity.svc.cluster.local", istioCluster{8080, "keycloak.identity.svc.cluster.local"}, true},
		{"an inbound cluster is rejected", "inbound|8080||", istioCluster{}, false},
		{"a missing host is rejected", "outbound|443||", istioCluster{}, false},
		{"a port out of range is rejected", "outbound|70000||idp.example.com", istioCluster{}, false},
		{"a bare name is rejected", "idp", istioCluster{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseIstioCluster(tc.cluster)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("parseIstioCluster(%q) = %+v, %v", tc.cluster, got, err)
			}
		})
	}
}
