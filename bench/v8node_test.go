package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// envoyV8Flags are the V8 flags Envoy starts V8 with (proxy-wasm-cpp-host,
// src/v8/v8.cc): TurboFan only (no Liftoff baseline compiler), the 1 GiB
// memory limit in 64 KiB pages, 20 stack frames in traces. Envoy also
// enables V8's WebAssembly trap handler, which Node does by default on
// linux/x86-64.
var envoyV8Flags = []string{"--no-liftoff", "--wasm-max-mem-pages=16384", "--stack-trace-limit=20"}

// nodeInstallHint is part of every failure caused by a missing Node.js.
const nodeInstallHint = "the V8 host (bench/v8) needs Node.js 20 (or newer) on PATH; install it with your " +
	"package manager (Debian/Ubuntu: `sudo apt-get install nodejs`) or from https://nodejs.org/en/download"

var (
	nodeOnce sync.Once
	nodeErr  error
)

// requireNode fails tb, with install instructions, unless Node.js 20+ runs.
func requireNode(tb testing.TB) {
	tb.Helper()
	nodeOnce.Do(func() {
		out, err := exec.Command("node", "--version").Output()
		if err != nil {
			nodeErr = fmt.Errorf("running node --version: %v; %s", err, nodeInstallHint)
			return
		}
		var major int
		fmt.Sscanf(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), "%d", &major)
		if major < 20 {
			nodeErr = fmt.Errorf("node %s is too old: %s", strings.TrimSpace(string(out)), nodeInstallHint)
		}
	})
	if nodeErr != nil {
		tb.Fatal(nodeErr)
	}
}

// runNode runs one of the scripts in bench/v8 with Envoy's V8 flags, stdin
// as its input, and returns its standard output.
func runNode(tb testing.TB, timeout time.Duration, script string, stdin []byte, args ...string) []byte {
	tb.Helper()
	requireNode(tb)
	root, err := wasmbuild.RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := append(append(append([]string(nil), envoyV8Flags...), filepath.Join(root, "bench", "v8", script)), args...)
	cmd := exec.CommandContext(ctx, "node", argv...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	return stdout.Bytes()
}

// jsRequest is a host.Request as bench/v8/proxywasm.mjs takes it.
type jsRequest struct {
	Method     string      `json:"method,omitempty"`
	Path       string      `json:"path,omitempty"`
	Authority  string      `json:"authority,omitempty"`
	Scheme     string      `json:"scheme,omitempty"`
	Headers    [][2]string `json:"headers,omitempty"`
	Body       string      `json:"body,omitempty"`
	RemoteAddr string      `json:"remoteAddr,omitempty"`
}

func toJS(r host.Request) jsRequest {
	out := jsRequest{Method: latin1(r.Method), Path: latin1(r.Path), Authority: latin1(r.Authority), Scheme: latin1(r.Scheme),
		Body: latin1(string(r.Body)), RemoteAddr: latin1(r.RemoteAddr)}
	out.Headers = latin1Pairs(r.Headers)
	return out
}

// The JS host keeps bytes as strings of one character per byte (latin1),
// and JSON carries characters. latin1 turns bytes into such a string (each
// byte one character, whatever UTF-8 it holds or breaks), fromLatin1 turns
// one back into the bytes; both hosts then see exactly the same bytes.
func latin1(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			out := make([]rune, len(s))
			for j := 0; j < len(s); j++ {
				out[j] = rune(s[j])
			}
			return string(out)
		}
	}
	return s
}

func fromLatin1(s string) string {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		out = append(out, byte(r))
	}
	return string(out)
}

func latin1Pairs(m [][2]string) [][2]string { return mapPairs(m, latin1) }

func mapPairs(m [][2]string, f func(string) string) [][2]string {
	if m == nil {
		return nil
	}
	out := make([][2]string, len(m))
	for i, p := range m {
		out[i] = [2]string{f(p[0]), f(p[1])}
	}
	return out
}

// jsDecision is a decision as proxywasm.mjs returns it.
type jsDecision struct {
	Continue        bool        `json:"continue"`
	Status          int         `json:"status"`
	Headers         [][2]string `json:"headers"`
	ResponseHeaders [][2]string `json:"responseHeaders"`
	Body            string      `json:"body"`
	RequestBody     string      `json:"requestBody"`
}

// decision converts it to the Go host's form (empty slices as nil).
func (d jsDecision) decision() host.Decision {
	out := host.Decision{Continue: d.Continue, Status: d.Status,
		Headers: mapPairs(d.Headers, fromLatin1), ResponseHeaders: mapPairs(d.ResponseHeaders, fromLatin1)}
	if d.Body != "" {
		out.Body = []byte(fromLatin1(d.Body))
	}
	if d.RequestBody != "" {
		out.RequestBody = []byte(fromLatin1(d.RequestBody))
	}
	if len(out.Headers) == 0 {
		out.Headers = nil
	}
	if len(out.ResponseHeaders) == 0 {
		out.ResponseHeaders = nil
	}
	return out
}

// jsViolation is one rule violation the JS host reported.
type jsViolation struct {
	Rule   string `json:"rule"`
	VM     string `json:"vm"`
	Detail string `json:"detail"`
}

// jsJob is the input of bench/v8/run.mjs.
type jsJob struct {
	Module          string                          `json:"module"`
	PluginConfig    string                          `json:"pluginConfig,omitempty"`
	PollOneoff      string                          `json:"pollOneoff,omitempty"`
	VerifySignature string                          `json:"verifySignature,omitempty"` // "present" (the default) or "absent"
	Clusters        map[string]map[string]*jsAnswer `json:"clusters,omitempty"`
	Steps           []jsStep                        `json:"steps"`
	Metrics         []string                        `json:"metrics,omitempty"`
}

// jsAnswer is a callout answer served from memory.
type jsAnswer struct {
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers,omitempty"`
	Body    string      `json:"body"`
}

type jsStep struct {
	Request *jsRequest `json:"request,omitempty"`
}

// jsResult is the output of bench/v8/run.mjs.
type jsResult struct {
	LoadError  string            `json:"loadError"`
	Decisions  []jsDecision      `json:"decisions"`
	Violations []jsViolation     `json:"violations"`
	Traps      int               `json:"traps"`
	Callouts   int               `json:"callouts"`
	Metrics    map[string]uint64 `json:"metrics"`
	Logs       []struct {
		Level   int    `json:"level"`
		VM      string `json:"vm"`
		Message string `json:"message"`
	} `json:"logs"`
}
