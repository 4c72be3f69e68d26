package envoy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	extensionsv1alpha1 "istio.io/api/extensions/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/scopegate/scopegate/filter"
)

// The snippets in README.md are what users copy, so they are checked like the
// full example files: Envoy fragments against Envoy's types, Istio objects
// against Istio's, plugin configurations against scopegate's parser. Each
// check reads one top-level section of the README.

// README sections whose code blocks the tests check.
const (
	configurationSection = "Configuration reference"
	envoySection         = "Install in Envoy"
	istioSection         = "Install in Istio"
	migrationSection     = "Migrating from Kong, Envoy jwt_authn and Istio"
)

// codeBlock is one fenced block of README.md; line is its line in the file.
type codeBlock struct {
	lang, text string
	line       int
}

// codeBlocks returns the fenced blocks of the README section titled
// "## <section>" (up to the next "## " heading).
func codeBlocks(t *testing.T, section string) []codeBlock {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []codeBlock
	var cur *codeBlock
	inSection, found := false, false
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == nil && strings.HasPrefix(line, "## ") {
			inSection = strings.TrimPrefix(line, "## ") == section
			found = found || inSection
			continue
		}
		if !inSection {
			continue
		}
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &codeBlock{lang: strings.TrimPrefix(trimmed, "```"), line: i + 1}
		case cur != nil && trimmed == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if !found {
		t.Fatalf("README.md has no section %q", section)
	}
	if cur != nil {
		t.Fatalf("README.md: unterminated code block at line %d", cur.line)
	}
	return blocks
}

// yamlList decodes a YAML list of protobuf messages strictly.
func yamlList[T any, P interface {
	*T
	proto.Message
}](text string) ([]P, error) {
	js, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(js, &items); err != nil {
		return nil, fmt.Errorf("want a YAML list: %w", err)
	}
	var out []P
	for _, it := range items {
		m := P(new(T))
		if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(it, m); err != nil {
			return nil, err
		}
		if err := validateDeep(m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func TestEveryJSONConfigurationInTheDocsParses(t *testing.T) {
	var n int
	for _, doc := range []string{configurationSection, envoySection, istioSection, migrationSection} {
		for _, b := range codeBlocks(t, doc) {
			if b.lang != "json" {
				continue
			}
			n++
			t.Run(fmt.Sprintf("the JSON at README.md:%d (%s) is a valid scopegate configuration", b.line, doc), func(t *testing.T) {
				if _, err := filter.ParseConfig([]byte(b.text)); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	if n == 0 {
		t.Fatal("no JSON configuration found in the README")
	}
}

func TestEnvoyDocSnippetsAreValidEnvoyConfig(t *testing.T) {
	blocks := codeBlocks(t, envoySection)
	var filters []*hcmv3.HttpFilter
	clusters := map[string]*clusterv3.Cluster{}
	for _, b := range blocks {
		if b.lang != "yaml" {
			continue
		}
		var err error
		switch {
		case strings.Contains(b.text, "name: envoy.filters.http.wasm"):
			var fs []*hcmv3.HttpFilter
			fs, err = yamlList[hcmv3.HttpFilter](b.text)
			filters = append(filters, fs...)
		case strings.Contains(b.text, "load_assignment:"):
			var cs []*clusterv3.Cluster
			cs, err = yamlList[clusterv3.Cluster](b.text)
			for _, c := range cs {
				clusters[c.GetName()] = c
			}
		default:
			t.Errorf("README.md:%d: a YAML block that is neither an HTTP filter nor a cluster; teach this test about it", b.line)
		}
		if err != nil {
			t.Errorf("README.md:%d: %v", b.line, err)
		}
	}
	if len(filters) != 1 || len(clusters) != 1 {
		t.Fatalf("found %d filters and %d clusters in the README's Envoy section, want the Wasm filter and the IdP cluster", len(filters), len(clusters))
	}
	w := &wasmfilterv3.Wasm{}
	if err := filters[0].GetTypedConfig().UnmarshalTo(w); err != nil {
		t.Fatal(err)
	}
	for _, err := range checkPlugin(w.GetConfig(), clusters) {
		t.Error(err)
	}
}

func TestIstioDocObjectsAreValidIstioConfig(t *testing.T) {
	var docs []string
	for _, b := range codeBlocks(t, istioSection) {
		if b.lang == "yaml" && strings.Contains(b.text, "apiVersion:") {
			docs = append(docs, b.text)
		}
	}
	if len(docs) < 2 {
		t.Fatalf("found %d Istio objects blocks in the README's Istio section, want the ServiceEntry/DestinationRule and the WasmPlugin", len(docs))
	}
	if err := validateIstioYAML([]byte(strings.Join(docs, "\n---\n"))); err != nil {
		t.Fatal(err)
	}
}

// TestMigrationSideBySideUsesRealFields checks the abbreviated objects of the
// side-by-side table: their specs must decode into Istio's types, and the
// WasmPlugin's pluginConfig must satisfy scopegate's parser.
func TestMigrationSideBySideUsesRealFields(t *testing.T) {
	var objects int
	for _, b := range codeBlocks(t, migrationSection) {
		if b.lang != "yaml" || !strings.Contains(b.text, "kind:") {
			continue
		}
		for _, doc := range splitYAMLDocuments([]byte(b.text)) {
			objects++
			js, err := yaml.YAMLToJSON(doc)
			if err != nil {
				t.Fatalf("README.md:%d: %v", b.line, err)
			}
			var obj struct {
				Kind string
				Spec json.RawMessage
			}
			if err := json.Unmarshal(js, &obj); err != nil {
				t.Fatalf("README.md:%d: %v", b.line, err)
			}
			t.Run(fmt.Sprintf("the %s at README.md:%d decodes", obj.Kind, b.line), func(t *testing.T) {
				var spec proto.Message
				for key, newSpec := range istioKinds {
					if strings.HasSuffix(key, "/"+obj.Kind) {
						spec = newSpec()
					}
				}
				if spec == nil {
					t.Fatalf("unknown kind %q", obj.Kind)
				}
				if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(obj.Spec, spec); err != nil {
					t.Fatal(err)
				}
				if wp, ok := spec.(*extensionsv1alpha1.WasmPlugin); ok {
					js, err := protojson.Marshal(wp.GetPluginConfig())
					if err != nil {
						t.Fatal(err)
					}
					if _, err := filter.ParseConfig(js); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
	if objects < 3 {
		t.Fatalf("found %d objects in the README's migration side-by-side table, want RequestAuthentication, AuthorizationPolicy and WasmPlugin", objects)
	}
}
