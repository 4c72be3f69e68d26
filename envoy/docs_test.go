package envoy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	extensionsv1alpha1 "istio.io/api/extensions/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/scopegate/scopegate/filter"
)

// The snippets in README.md and docs/*.md are what users copy, so they are
// checked like the full example files: every JSON block against scopegate's
// parser, every YAML block for syntax, Envoy fragments against Envoy's
// types, Istio objects against Istio's. Links between the documents must
// lead somewhere.
//
// Conventions for writers: a ```json block is a complete plugin
// configuration (use ```jsonc for a fragment, ```text for other JSON); a
// YAML block in docs/envoy.md is a list of HTTP filters or of clusters; a
// YAML block with apiVersion in docs/istio.md is an Istio object, and one
// whose only key is spec is a WasmPlugin spec.

// The documents whose YAML blocks have more than a syntax check.
const (
	envoyDoc     = "docs/envoy.md"
	istioDoc     = "docs/istio.md"
	migrationDoc = "docs/migration.md"
)

// codeBlock is one fenced block of a document; line is its line in the file.
type codeBlock struct {
	file, lang, text string
	line             int
}

func (b codeBlock) where() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// docFiles lists the documents users read: README.md and docs/*.md,
// relative to the repository root.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, f := range files {
		out = append(out, filepath.ToSlash(strings.TrimPrefix(f, ".."+string(filepath.Separator))))
	}
	return out
}

// readDoc reads a document given relative to the repository root.
func readDoc(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(file)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// codeBlocks returns the fenced blocks of one document. A block indented
// under a list item loses the fence's indentation, as Markdown renders it.
func codeBlocks(t *testing.T, file string) []codeBlock {
	t.Helper()
	var blocks []codeBlock
	var cur *codeBlock
	indent := ""
	for i, line := range strings.Split(readDoc(t, file), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &codeBlock{file: file, lang: strings.TrimPrefix(trimmed, "```"), line: i + 1}
			indent = line[:len(line)-len(strings.TrimLeft(line, " "))]
		case cur != nil && trimmed == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += strings.TrimPrefix(line, indent) + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s: unterminated code block at line %d", file, cur.line)
	}
	return blocks
}

// allCodeBlocks returns the blocks of every document.
func allCodeBlocks(t *testing.T) []codeBlock {
	t.Helper()
	var out []codeBlock
	for _, f := range docFiles(t) {
		out = append(out, codeBlocks(t, f)...)
	}
	return out
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
	perFile := map[string]int{}
	for _, b := range allCodeBlocks(t) {
		if b.lang != "json" {
			continue
		}
		perFile[b.file]++
		t.Run("the JSON at "+b.where()+" is a valid scopegate configuration", func(t *testing.T) {
			if _, err := filter.ParseConfig([]byte(b.text)); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The documents that teach the configuration must show some.
	for _, f := range []string{"README.md", "docs/configuration.md", "docs/keycloak.md", migrationDoc} {
		if perFile[f] == 0 {
			t.Errorf("%s shows no JSON configuration; is the docs reader looking in the right place?", f)
		}
	}
}

func TestEveryYAMLBlockInTheDocsParses(t *testing.T) {
	for _, b := range allCodeBlocks(t) {
		if b.lang != "yaml" {
			continue
		}
		for i, doc := range splitYAMLDocuments([]byte(b.text)) {
			if _, err := yaml.YAMLToJSON(doc); err != nil {
				t.Errorf("%s: YAML document %d: %v", b.where(), i, err)
			}
		}
	}
}

func TestEnvoyDocSnippetsAreValidEnvoyConfig(t *testing.T) {
	var filters []*hcmv3.HttpFilter
	clusters := map[string]*clusterv3.Cluster{}
	for _, b := range codeBlocks(t, envoyDoc) {
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
			t.Errorf("%s: a YAML block that is neither an HTTP filter nor a cluster; teach this test about it", b.where())
		}
		if err != nil {
			t.Errorf("%s: %v", b.where(), err)
		}
	}
	if len(filters) < 2 || len(clusters) < 2 {
		t.Fatalf("found %d filters and %d clusters in %s, want the local and the remote Wasm filter and their clusters", len(filters), len(clusters), envoyDoc)
	}
	for i, f := range filters {
		w := &wasmfilterv3.Wasm{}
		if err := f.GetTypedConfig().UnmarshalTo(w); err != nil {
			t.Fatal(err)
		}
		for _, err := range checkPlugin(w.GetConfig(), clusters) {
			t.Errorf("%s filter %d: %v", envoyDoc, i, err)
		}
	}
}

// TestIstioDocObjectsAreValidIstioConfig: the Istio objects each document
// shows (docs/istio.md, the end-to-end manifest of docs/keycloak.md) form a
// manifest that passes the same checks as envoy/istio/*.yaml.
func TestIstioDocObjectsAreValidIstioConfig(t *testing.T) {
	objects := map[string][]string{}
	var specs int
	for _, b := range allCodeBlocks(t) {
		switch {
		case b.lang != "yaml" || b.file == migrationDoc || b.file == "docs/sender-constrained.md":
			// Abbreviated objects, and the TLS Gateway that
			// TestSenderConstrainedDocSnippets checks on its own.
		case strings.Contains(b.text, "apiVersion:"):
			objects[b.file] = append(objects[b.file], b.text)
		case b.file == istioDoc && strings.HasPrefix(b.text, "spec:"):
			// A WasmPlugin spec fragment: its fields must be WasmPlugin's.
			specs++
			js, err := yaml.YAMLToJSON([]byte(b.text))
			if err != nil {
				t.Fatalf("%s: %v", b.where(), err)
			}
			var obj struct{ Spec json.RawMessage }
			if err := json.Unmarshal(js, &obj); err != nil {
				t.Fatalf("%s: %v", b.where(), err)
			}
			if err := (protojson.UnmarshalOptions{}).Unmarshal(obj.Spec, &extensionsv1alpha1.WasmPlugin{}); err != nil {
				t.Errorf("%s: not a WasmPlugin spec: %v", b.where(), err)
			}
		}
	}
	if len(objects[istioDoc]) < 3 || len(objects["docs/keycloak.md"]) < 1 || specs == 0 {
		t.Fatalf("found %d Istio object blocks in %s (want the ServiceEntry/DestinationRule, the Sidecar and the WasmPlugin), %d in docs/keycloak.md, %d WasmPlugin spec fragments",
			len(objects[istioDoc]), istioDoc, len(objects["docs/keycloak.md"]), specs)
	}
	for file, docs := range objects {
		t.Run("the Istio objects of "+file+" are a valid manifest", func(t *testing.T) {
			if err := validateIstioYAML([]byte(strings.Join(docs, "\n---\n"))); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestMigrationSideBySideUsesRealFields checks the abbreviated objects of the
// side-by-side table: their specs must decode into Istio's types, and the
// WasmPlugin's pluginConfig must satisfy scopegate's parser.
func TestMigrationSideBySideUsesRealFields(t *testing.T) {
	var objects int
	for _, b := range codeBlocks(t, migrationDoc) {
		if b.lang != "yaml" || !strings.Contains(b.text, "kind:") {
			continue
		}
		for _, doc := range splitYAMLDocuments([]byte(b.text)) {
			objects++
			js, err := yaml.YAMLToJSON(doc)
			if err != nil {
				t.Fatalf("%s: %v", b.where(), err)
			}
			var obj struct {
				Kind string
				Spec json.RawMessage
			}
			if err := json.Unmarshal(js, &obj); err != nil {
				t.Fatalf("%s: %v", b.where(), err)
			}
			t.Run(fmt.Sprintf("the %s at %s decodes", obj.Kind, b.where()), func(t *testing.T) {
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
		t.Fatalf("found %d objects in %s's side-by-side table, want RequestAuthentication, AuthorizationPolicy and WasmPlugin", objects, migrationDoc)
	}
}

// markdownLink matches [text](target) and ![alt](target); the target has no
// spaces (an optional "title" is not used in these docs).
var markdownLink = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)\)`)

// TestDocLinksLeadSomewhere: every relative link of README.md and docs/*.md
// names a file that exists, and an anchor that one of its headings makes.
func TestDocLinksLeadSomewhere(t *testing.T) {
	anchors := map[string][]string{}
	for _, file := range docFiles(t) {
		inBlock := false
		for i, line := range strings.Split(readDoc(t, file), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inBlock = !inBlock
			}
			if inBlock {
				continue
			}
			for _, m := range markdownLink.FindAllStringSubmatch(withoutCodeSpans(line), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				path, anchor, _ := strings.Cut(target, "#")
				resolved := file
				if path != "" {
					resolved = filepath.ToSlash(filepath.Join(filepath.Dir(file), path))
				}
				if _, err := os.Stat(filepath.Join("..", filepath.FromSlash(resolved))); err != nil {
					t.Errorf("%s:%d: link %q: %s does not exist", file, i+1, target, resolved)
					continue
				}
				if anchor == "" {
					continue
				}
				if !strings.HasSuffix(resolved, ".md") {
					t.Errorf("%s:%d: link %q: an anchor into a file that is not Markdown", file, i+1, target)
					continue
				}
				if _, ok := anchors[resolved]; !ok {
					anchors[resolved] = headingAnchors(readDoc(t, resolved))
				}
				if !slices.Contains(anchors[resolved], anchor) {
					t.Errorf("%s:%d: link %q: %s has no heading with the anchor #%s", file, i+1, target, resolved, anchor)
				}
			}
		}
	}
}

// withoutCodeSpans blanks `code spans`, where brackets are not links.
func withoutCodeSpans(line string) string {
	return regexp.MustCompile("`[^`]*`").ReplaceAllString(line, "``")
}

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown document: lower-cased, punctuation other than '-' and '_'
// dropped, spaces turned into '-', repeats numbered -1, -2, ...
func headingAnchors(doc string) []string {
	var out []string
	seen := map[string]int{}
	inBlock := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inBlock = !inBlock
		}
		if inBlock || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out = append(out, fmt.Sprintf("%s-%d", a, n))
		} else {
			out = append(out, a)
		}
		seen[a]++
	}
	return out
}

func TestHeadingAnchorsFollowGitHub(t *testing.T) {
	doc := "# Install in Istio\n## Supported proxies, and why Envoy 1.33\n### Istio `RequestAuthentication` + `AuthorizationPolicy`\n" +
		"## Migrating from Kong, Envoy jwt_authn and Istio\n```\n# not a heading\n```\n## Logs\n## Logs\n"
	want := []string{"install-in-istio", "supported-proxies-and-why-envoy-133", "istio-requestauthentication--authorizationpolicy",
		"migrating-from-kong-envoy-jwt_authn-and-istio", "logs", "logs-1"}
	if got := headingAnchors(doc); !slices.Equal(got, want) {
		t.Errorf("anchors = %q\nwant      %q", got, want)
	}
}
