package overlay_test

// The first line of defence against golang/go#78513: the filter must never
// start the Go netpoller (os file I/O, fmt/log printing, runtime timers,
// runtime.GC), because once it runs every GC cycle calls poll_oneoff, which
// Envoy 1.33-1.38 answer with ENOSYS. Two checks, from two sides:
//
//   - the built module's name section lists every function the linker kept;
//     if no trigger is linked, none is reachable from any request path;
//   - the source of our own packages compiled into the module (as `go list`
//     sees them for wasip1) must neither import nor call a trigger.
//
// Both are shown to fail: the first on gcguest (which calls runtime.GC), the
// second on synthetic snippets.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// linkedTriggers are functions whose presence in a module means a netpoller
// trigger is reachable. Entries ending in "." are prefixes. Names are
// as the Go linker writes them (pointer receivers as __T_).
var linkedTriggers = []string{
	"runtime.GC",                 // blocks; the scavenger parks on a timer
	"runtime/debug.FreeOSMemory", // runs a GC
	"time.Sleep",                 // a runtime timer
	"time.NewTimer", "time.After", "time.AfterFunc", "time.NewTicker", "time.Tick",
	"time.__Timer_.", "time.__Ticker_.", // Reset/Stop on timers
	"os.__File_.Write", "os.__File_.Read", // file I/O through internal/poll
	"os.Open", "os.OpenFile", "os.Create", "os.ReadFile", "os.WriteFile",
	"internal/poll.runtime_pollServerInit", // the netpoller's own start
	"log.", "log/slog.",                    // write to os.Stderr
	"fmt.Print", "fmt.Println", "fmt.Printf", // write to os.Stdout
}

// linkedTriggerHits returns the linked function names matching linkedTriggers.
func linkedTriggerHits(names []string) []string {
	var hits []string
	for _, n := range names {
		for _, tr := range linkedTriggers {
			if n == tr || (strings.HasSuffix(tr, ".") && strings.HasPrefix(n, tr)) {
				hits = append(hits, n)
				break
			}
		}
	}
	sort.Strings(hits)
	return hits
}

// functionNames reads the function names from a wasm module's "name" custom
// section (subsection 1), which the Go linker writes unless told to strip.
func functionNames(module []byte) ([]string, error) {
	if len(module) < 8 || !bytes.Equal(module[:4], []byte("\x00asm")) {
		return nil, errors.New("not a wasm module")
	}
	r := &wasmReader{b: module[8:]}
	for r.err == nil && len(r.b) > 0 {
		id := r.byte()
		body := r.bytes(r.uleb())
		if id != 0 {
			continue
		}
		sec := &wasmReader{b: body}
		if string(sec.bytes(sec.uleb())) != "name" {
			continue
		}
		for sec.err == nil && len(sec.b) > 0 {
			sub := sec.byte()
			data := &wasmReader{b: sec.bytes(sec.uleb())}
			if sub != 1 {
				continue
			}
			n := data.uleb()
			// Each entry takes at least two bytes, so a count beyond the
			// data is a lie; do not let it size the slice.
			names := make([]string, 0, min(n, uint64(len(data.b))/2))
			for i := uint64(0); i < n && data.err == nil; i++ {
				data.uleb() // function index
				names = append(names, string(data.bytes(data.uleb())))
			}
			return names, errors.Join(sec.err, data.err)
		}
		return nil, errors.Join(sec.err, errors.New("the name section has no function names"))
	}
	return nil, errors.Join(r.err, errors.New("no name section (stripped module?)"))
}

// wasmReader reads LEB128 numbers and byte runs; the first error sticks.
type wasmReader struct {
	b   []byte
	err error
}

func (r *wasmReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errors.Join(r.err, io.ErrUnexpectedEOF)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *wasmReader) uleb() uint64 {
	v, n := binary.Uvarint(r.b)
	if r.err != nil || n <= 0 {
		r.err = errors.Join(r.err, errors.New("bad LEB128"))
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wasmReader) bytes(n uint64) []byte {
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errors.Join(r.err, io.ErrUnexpectedEOF)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func moduleNames(t *testing.T, pkg string, opts wasmbuild.Options) []string {
	t.Helper()
	path, err := wasmbuild.Build(pkg, opts)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	names, err := functionNames(data)
	if err != nil {
		t.Fatalf("%s: %v", pkg, err)
	}
	return names
}

func TestNoNetpollerTriggerIsLinkedIntoTheFilter(t *testing.T) {
	t.Run("the filter module links none of the triggers", func(t *testing.T) {
		names := moduleNames(t, "./cmd/scopegate", wasmbuild.Options{})
		if len(names) < 1000 {
			t.Fatalf("only %d function names: the check would prove nothing", len(names))
		}
		if hits := linkedTriggerHits(names); len(hits) != 0 {
			t.Errorf("netpoller triggers linked into the filter (golang/go#78513, see the contributor notes in docs/proxies.md): %v", hits)
		}
	})
	t.Run("a guest that calls runtime.GC is caught", func(t *testing.T) {
		hits := linkedTriggerHits(moduleNames(t, "./internal/overlay/testdata/gcguest", wasmbuild.Options{NoOverlay: true}))
		if !containsString(hits, "runtime.GC") {
			t.Errorf("hits = %v, want runtime.GC among them", hits)
		}
	})
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// forbiddenImports may not be imported by code compiled into the module: they
// print to os.Stdout/os.Stderr or do file I/O (log, os), or are kept off the
// request path for cost (fmt, encoding/json, reflect).
var forbiddenImports = map[string]string{
	"log":           "writes to os.Stderr (starts the netpoller); log through proxy_log",
	"log/slog":      "writes to os.Stderr (starts the netpoller); log through proxy_log",
	"os":            "file I/O starts the netpoller; Envoy lacks most WASI file functions",
	"fmt":           "printing starts the netpoller, and fmt is reflection on the request path",
	"encoding/json": "reflection on the request path; read JSON with gjson",
	"reflect":       "reflection on the request path",
}

// forbiddenCalls are package-level functions and variables that start the
// netpoller, keyed by import path and name.
var forbiddenCalls = map[string]map[string]string{
	"runtime":       {"GC": "blocks the request goroutine; the GC scavenger then parks on a timer"},
	"runtime/debug": {"FreeOSMemory": "runs a GC"},
	"time": {"Sleep": "a runtime timer", "NewTimer": "a runtime timer", "After": "a runtime timer",
		"AfterFunc": "a runtime timer", "NewTicker": "a runtime timer", "Tick": "a runtime timer"},
	"os": {"Stdout": "os file I/O", "Stderr": "os file I/O", "Stdin": "os file I/O"},
}

// sourceTriggers reports, for one Go source file, each forbidden import and
// each use of a forbidden function, as "file:line: what (why)".
func sourceTriggers(fset *token.FileSet, name string, src any) ([]string, error) {
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var out []string
	local := map[string]string{} // local package name -> import path
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if why, bad := forbiddenImports[path]; bad {
			out = append(out, fmt.Sprintf("%s: imports %q (%s)", fset.Position(imp.Pos()), path, why))
		}
		n := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			n = imp.Name.Name
		}
		local[n] = path
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		if why, bad := forbiddenCalls[local[id.Name]][sel.Sel.Name]; bad {
			out = append(out, fmt.Sprintf("%s: uses %s.%s (%s)", fset.Position(sel.Pos()), local[id.Name], sel.Sel.Name, why))
		}
		return true
	})
	return out, nil
}

func TestSourceTriggerCheckCatchesEachTrigger(t *testing.T) {
	cases := []struct {
		name, src string
		want      string // substring of the only finding; "" for none
	}{
		{"runtime.GC in a callback is caught", `package p; import "runtime"; func f() { runtime.GC() }`, "runtime.GC"},
		{"runtime.GC under a renamed import is caught", `package p; import rt "runtime"; func f() { rt.GC() }`, "runtime.GC"},
		{"debug.FreeOSMemory is caught", `package p; import "runtime/debug"; func f() { debug.FreeOSMemory() }`, "runtime/debug.FreeOSMemory"},
		{"time.Sleep is caught", `package p; import "time"; func f() { time.Sleep(1) }`, "time.Sleep"},
		{"time.After is caught", `package p; import "time"; func f() { <-time.After(1) }`, "time.After"},
		{"time.AfterFunc is caught", `package p; import "time"; func f() { time.AfterFunc(1, nil) }`, "time.AfterFunc"},
		{"time.NewTimer is caught", `package p; import "time"; func f() { time.NewTimer(1) }`, "time.NewTimer"},
		{"time.NewTicker is caught", `package p; import "time"; func f() { time.NewTicker(1) }`, "time.NewTicker"},
		{"importing log is caught", `package p; import "log"; func f() { log.Print() }`, `imports "log"`},
		{"importing log/slog is caught", `package p; import "log/slog"; func f() { slog.Info("") }`, `imports "log/slog"`},
		{"importing fmt is caught", `package p; import "fmt"; func f() { fmt.Println() }`, `imports "fmt"`},
		{"importing encoding/json is caught", `package p; import "encoding/json"; var _ = json.Valid`, `imports "encoding/json"`},
		{"importing reflect is caught", `package p; import "reflect"; var _ = reflect.TypeOf`, `imports "reflect"`},
		{"the valid twin: time.Now and time.Duration pass", `package p; import "time"; func f() time.Time { return time.Now().Add(time.Second) }`, ""},
		{"the valid twin: runtime.KeepAlive passes", `package p; import "runtime"; func f(x any) { runtime.KeepAlive(x) }`, ""},
		{"the valid twin: a local GC method passes", `package p; type c struct{}; func (c) GC() {}; func f(runtime c) { runtime.GC() }`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := sourceTriggers(token.NewFileSet(), "snippet.go", c.src)
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if len(got) != 0 {
					t.Fatalf("findings %v, want none", got)
				}
				return
			}
			found := false
			for _, g := range got {
				found = found || strings.Contains(g, c.want)
			}
			if !found {
				t.Fatalf("findings %v, want one containing %q", got, c.want)
			}
		})
	}
}

// listedPackage is the part of `go list -json` output the check needs.
type listedPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Module     *struct{ Path string }
}

func TestNoNetpollerTriggerInTheFilterSource(t *testing.T) {
	root, err := wasmbuild.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The packages and files exactly as the wasm build compiles them (build
	// tags and GOOS=wasip1 applied, test-only hooks excluded).
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Dir,GoFiles,Module", "./cmd/scopegate")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var ours []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module != nil && p.Module.Path == "github.com/scopegate/scopegate" {
			ours = append(ours, p)
		}
	}
	want := []string{"github.com/scopegate/scopegate/cmd/scopegate", "github.com/scopegate/scopegate/filter",
		"github.com/scopegate/scopegate/filter/abi", "github.com/scopegate/scopegate/jwt"}
	for _, w := range want {
		found := false
		for _, p := range ours {
			found = found || p.ImportPath == w
		}
		if !found {
			t.Fatalf("go list did not report %s among the module's packages", w)
		}
	}
	fset := token.NewFileSet()
	for _, p := range ours {
		for _, f := range p.GoFiles {
			findings, err := sourceTriggers(fset, filepath.Join(p.Dir, f), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, fnd := range findings {
				t.Errorf("%s: netpoller trigger in code compiled into the module (golang/go#78513, see the contributor notes in docs/proxies.md)", fnd)
			}
		}
	}
}

// nameModule builds the smallest wasm module with a name section that lists
// names as function names (with an unrelated custom section before it).
func nameModule(names []string) []byte {
	leb := func(v int) []byte { return binary.AppendUvarint(nil, uint64(v)) }
	vecName := func(s string) []byte { return append(leb(len(s)), s...) }
	var fn []byte
	fn = append(fn, leb(len(names))...)
	for i, n := range names {
		fn = append(fn, leb(i)...)
		fn = append(fn, vecName(n)...)
	}
	var body []byte
	body = append(body, vecName("name")...)
	body = append(body, 0) // module name subsection, skipped by the reader
	body = append(body, leb(len(vecName("m")))...)
	body = append(body, vecName("m")...)
	body = append(body, 1)
	body = append(body, leb(len(fn))...)
	body = append(body, fn...)
	other := vecName("producers")
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, 0)
	m = append(m, leb(len(other))...)
	m = append(m, other...)
	m = append(m, 0)
	m = append(m, leb(len(body))...)
	return append(m, body...)
}

func TestFunctionNamesReadsTheNameSection(t *testing.T) {
	want := []string{"runtime.GC", "main.main", "time.__Timer_.Reset"}
	t.Run("the function names come back in order", func(t *testing.T) {
		got, err := functionNames(nameModule(want))
		if err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("functionNames = %v, %v; want %v", got, err, want)
		}
		if hits := linkedTriggerHits(got); strings.Join(hits, ",") != "runtime.GC,time.__Timer_.Reset" {
			t.Errorf("hits = %v", hits)
		}
	})
	t.Run("a truncated module is an error, not a panic", func(t *testing.T) {
		m := nameModule(want)
		if _, err := functionNames(m[:len(m)-3]); err == nil {
			t.Fatal("no error for a truncated module")
		}
	})
	t.Run("a module without a name section is an error", func(t *testing.T) {
		if _, err := functionNames([]byte("\x00asm\x01\x00\x00\x00")); err == nil {
			t.Fatal("no error for a module without names")
		}
	})
	t.Run("something that is not wasm is an error", func(t *testing.T) {
		if _, err := functionNames([]byte("#!/bin/sh\n")); err == nil {
			t.Fatal("no error for a shell script")
		}
	})
}

// FuzzFunctionNames: the name-section reader never panics, and whatever it
// accepts from a module built by nameModule it reads back exactly.
func FuzzFunctionNames(f *testing.F) {
	f.Add(nameModule([]string{"runtime.GC", "main.main"}))
	f.Add(nameModule(nil))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\x05\x04name"))
	f.Add([]byte("\x00asm"))
	f.Fuzz(func(t *testing.T, data []byte) {
		functionNames(data)
		names := strings.Split(string(data), "\x00")
		got, err := functionNames(nameModule(names))
		if err != nil || strings.Join(got, "\x00") != strings.Join(names, "\x00") {
			t.Fatalf("round trip of %q = %q, %v", names, got, err)
		}
	})
}
