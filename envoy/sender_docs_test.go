package envoy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/encoding/protojson"
	networkingv1 "istio.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/scopegate/scopegate/filter"
)

// TestSenderConstrainedDocSnippets checks every snippet of
// docs/sender-constrained.md: the plugin configurations against
// scopegate's parser, the Envoy fragments against Envoy's types (strict,
// with their validation rules), the Istio Gateway against Istio's.
func TestSenderConstrainedDocSnippets(t *testing.T) {
	const doc = "sender-constrained.md"
	seen := map[string]int{}
	for _, b := range codeBlocks(t, "docs/"+doc) {
		where := fmt.Sprintf("docs/%s:%d", doc, b.line)
		switch {
		case b.lang == "json":
			seen["json"]++
			t.Run("the configuration at "+where+" parses", func(t *testing.T) {
				cfg, err := filter.ParseConfig([]byte(b.text))
				if err != nil {
					t.Fatal(err)
				}
				if len(cfg.Providers) == 0 {
					t.Fatal("no provider")
				}
			})
		case b.lang == "yaml" && strings.Contains(b.text, "kind: Gateway"):
			seen["gateway"]++
			t.Run("the Istio Gateway at "+where+" is valid for Istio", func(t *testing.T) {
				js, err := yaml.YAMLToJSON([]byte(b.text))
				if err != nil {
					t.Fatal(err)
				}
				var obj struct {
					APIVersion string          `json:"apiVersion"`
					Spec       json.RawMessage `json:"spec"`
				}
				if err := json.Unmarshal(js, &obj); err != nil || obj.APIVersion != "networking.istio.io/v1" {
					t.Fatalf("apiVersion %q: %v", obj.APIVersion, err)
				}
				gw := &networkingv1.Gateway{}
				if err := (protojson.UnmarshalOptions{}).Unmarshal(obj.Spec, gw); err != nil {
					t.Fatal(err)
				}
				if m := gw.GetServers()[0].GetTls().GetMode(); m != networkingv1.ServerTLSSettings_MUTUAL && m != networkingv1.ServerTLSSettings_OPTIONAL_MUTUAL {
					t.Errorf("tls mode %v does not ask for client certificates", m)
				}
			})
		case b.lang == "yaml" && strings.Contains(b.text, "DownstreamTlsContext"):
			seen["listener"]++
			t.Run("the listener filter chain at "+where+" is valid Envoy config asking for client certificates", func(t *testing.T) {
				chains, err := yamlList[listenerv3.FilterChain](b.text)
				if err != nil {
					t.Fatal(err)
				}
				tc := &tlsv3.DownstreamTlsContext{}
				if err := chains[0].GetTransportSocket().GetTypedConfig().UnmarshalTo(tc); err != nil {
					t.Fatal(err)
				}
				if !tc.GetRequireClientCertificate().GetValue() || tc.GetCommonTlsContext().GetValidationContext() == nil {
					t.Error("the listener does not ask for client certificates")
				}
			})
		case b.lang == "yaml" && strings.Contains(b.text, "forward_client_cert_details"):
			seen["xfcc"]++
			t.Run("the connection manager at "+where+" is valid Envoy config setting XFCC", func(t *testing.T) {
				if _, err := yamlList[listenerv3.Filter](b.text); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(b.text, "forward_client_cert_details: SANITIZE_SET") {
					t.Error("the front does not replace the client's XFCC")
				}
			})
		case b.lang == "yaml":
			t.Errorf("%s: a YAML block this test does not know; teach it", where)
		}
	}
	for _, kind := range []string{"json", "gateway", "listener", "xfcc"} {
		if seen[kind] == 0 {
			t.Errorf("docs/%s has no %s snippet", doc, kind)
		}
	}
}
