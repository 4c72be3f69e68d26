package envoy

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	extensionsv1alpha1 "istio.io/api/extensions/v1alpha1"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/syncbuf"
)

// The docs tell operators to find denials with a grep on "wasm log". These
// tests run every such grep, with the real grep, over lines the local host
// prints for the real module and over the same messages in the formats
// Envoy and Istio write them, so a doc grep that misses lines (or a host
// prefix that drifts from Envoy's) fails here.

// docGrep is one grep command quoted in a document.
type docGrep struct {
	where string
	args  []string
}

// inlineCode matches `code spans` in prose.
var inlineCode = regexp.MustCompile("`([^`]+)`")

// docGreps returns every grep in README.md and docs/*.md, in code blocks and
// code spans, whose pattern mentions "wasm log".
func docGreps(t *testing.T) []docGrep {
	t.Helper()
	var out []docGrep
	add := func(where, line string) {
		i := strings.Index(line, "grep ")
		if i < 0 || !strings.Contains(line, "wasm log") {
			return
		}
		args, err := shellWords(line[i+len("grep "):])
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		out = append(out, docGrep{where, args})
	}
	for _, f := range docFiles(t) {
		inBlock := false
		for i, line := range strings.Split(readDoc(t, f), "\n") {
			where := fmt.Sprintf("%s:%d", f, i+1)
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inBlock = !inBlock
				continue
			}
			if inBlock {
				add(where, line)
				continue
			}
			for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
				add(where, m[1])
			}
		}
	}
	return out
}

// shellWords splits the arguments of a shell command the way sh would for
// the quoting the docs use (single and double quotes, backslash escapes),
// stopping at an unquoted |, ;, &, ) or #.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				cur.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			i = j
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.IndexByte("|;&)#", c) >= 0:
			if inWord {
				words = append(words, cur.String())
			}
			return words, nil
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func TestShellWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`-E 'wasm log[^:]*: denied '`, []string{"-E", "wasm log[^:]*: denied "}},
		{`"wasm log.*denied" file | head`, []string{"wasm log.*denied", "file"}},
		{`-E 'a b' # comment`, []string{"-E", "a b"}},
		{`x\ y`, []string{"x y"}},
	} {
		got, err := shellWords(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("shellWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// pluginNaming is how a proxy names the plugin in its log prefix.
type pluginNaming struct {
	proxy              string
	name, rootID, vmID string
	format             func(hostLine string) string // the line as that proxy prints it
}

// namings returns the namings of the shipped configurations: the local
// proxy's defaults, envoy/envoy.yaml's, and Istio's for wasmplugin.yaml
// (<namespace>.<name>, pluginName as root_id, no vm_id).
func namings(t *testing.T) []pluginNaming {
	t.Helper()
	var envoyPlugin pluginNaming
	for _, p := range envoyWasmPlugins(t, "envoy.yaml") {
		envoyPlugin = pluginNaming{proxy: "Envoy (envoy/envoy.yaml)", name: p.GetName(), rootID: p.GetRootId(), vmID: p.GetVmConfig().GetVmId()}
	}
	var istio pluginNaming
	for _, o := range istioManifestFile(t, filepath.Join("istio", "wasmplugin.yaml")) {
		if wp, ok := o.Spec.(*extensionsv1alpha1.WasmPlugin); ok {
			istio = pluginNaming{proxy: "Istio (envoy/istio/wasmplugin.yaml)", name: o.Namespace + "." + o.Name, rootID: wp.GetPluginName()}
		}
	}
	// What follows "[time][level][wasm] " in the host's line is what Envoy's
	// Context::log writes as the message: "wasm log<prefix>: <text>".
	message := func(hostLine string) string { return hostLine[strings.Index(hostLine, "wasm log"):] }
	// Envoy's default --log-format "[%Y-%m-%d %T.%e][%t][%l][%n] [%g:%#] %v".
	envoyPlugin.format = func(l string) string {
		return "[2026-07-01 12:00:00.000][21][info][wasm] [source/extensions/common/wasm/context.cc:1192] " + message(l)
	}
	// Istio's --log-format "%Y-%m-%dT%T.%fZ\t%l\tenvoy %n %g:%#\t%v\tthread=%t".
	istio.format = func(l string) string {
		return "2026-07-01T12:00:00.000000Z\tinfo\tenvoy wasm external/envoy/source/extensions/common/wasm/context.cc:1192\t" + message(l) + "\tthread=21"
	}
	local := pluginNaming{proxy: "the local proxy (defaults)", name: "scopegate", format: func(l string) string { return l }}
	return []pluginNaming{local, envoyPlugin, istio}
}

// logSamples runs the module under each naming and returns the denial lines
// and other lines (the configured line, a failed key fetch) as each proxy
// prints them.
func logSamples(t *testing.T) (denials, others []string) {
	t.Helper()
	module := buildModule(t)
	configs := shippedPluginConfigs(t)
	cfg := configs[firstKey(t, configs, "envoy.yaml")]
	idp := unreachableIdP(t)
	for _, n := range namings(t) {
		var log syncbuf.Buffer
		h, err := host.New(context.Background(), host.Config{
			ModuleBytes: module, PluginConfig: cfg, Clusters: map[string]string{"idp": idp},
			PluginName: n.name, RootID: n.rootID, VMID: n.vmID, Log: &log, LogLevel: host.LogInfo,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/oidc/orders", "/admin"} {
			if _, err := h.Do(context.Background(), host.Request{Method: "GET", Path: path, Authority: "api.example.com"}); err != nil {
				t.Fatal(err)
			}
		}
		h.Close(context.Background())
		var gotDenial, gotOther bool
		for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
			if !strings.Contains(line, "wasm log") {
				continue
			}
			if strings.Contains(line, ": denied ") {
				denials = append(denials, line, n.format(line))
				gotDenial = true
			} else {
				others = append(others, line, n.format(line))
				gotOther = true
			}
		}
		if !gotDenial || !gotOther {
			t.Fatalf("%s: the host logged no denial or no other plugin line:\n%s", n.proxy, log.String())
		}
	}
	return slices.Compact(denials), slices.Compact(others)
}

// TestTheDocsLogGrepFindsDenialsInEveryProxy runs each documented grep over
// real host lines and their Envoy and Istio forms: it must print every
// denial line and nothing else.
func TestTheDocsLogGrepFindsDenialsInEveryProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the wasm module; skipped with -short")
	}
	if _, err := exec.LookPath("grep"); err != nil {
		t.Fatal("grep is needed to run the documented log greps")
	}
	greps := docGreps(t)
	files := map[string]bool{}
	for _, g := range greps {
		files[strings.Split(g.where, ":")[0]] = true
	}
	for _, f := range []string{"README.md", "docs/configuration.md", "docs/envoy.md", istioDoc, "docs/troubleshooting.md", "docs/local-host.md", "docs/keycloak.md"} {
		if !files[f] {
			t.Errorf("%s shows no grep for the denial lines; the docs reader may be looking in the wrong place", f)
		}
	}
	denials, others := logSamples(t)
	input := strings.Join(append(slices.Clone(denials), others...), "\n") + "\n"
	for _, g := range greps {
		t.Run(fmt.Sprintf("the grep at %s finds every denial and nothing else", g.where), func(t *testing.T) {
			if !slices.ContainsFunc(g.args, func(a string) bool { return strings.Contains(a, "denied") }) {
				t.Fatalf("grep %q greps for something other than denials; teach this test what it should find", g.args)
			}
			cmd := exec.Command("grep", g.args...)
			cmd.Stdin = strings.NewReader(input)
			out, err := cmd.Output()
			if err != nil && len(out) == 0 {
				t.Fatalf("grep %q found nothing (%v) in:\n%s", g.args, err, input)
			}
			got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			if !slices.Equal(got, denials) {
				t.Errorf("grep %q printed\n%s\nwant exactly the denials\n%s", g.args, strings.Join(got, "\n"), strings.Join(denials, "\n"))
			}
		})
	}
}
