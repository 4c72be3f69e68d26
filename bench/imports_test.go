package bench

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRequestPathImports keeps fmt, encoding/json, reflect and log out of
// the packages that run on every request in the VM (issue #7; DESIGN §6):
// they are slow and allocation-heavy in wasm, and printing would start the
// netpoller. Standard-library dependencies may still link them in; the
// filter's own code must not call them.
func TestRequestPathImports(t *testing.T) {
	forbidden := map[string]bool{"fmt": true, "encoding/json": true, "reflect": true, "log": true}
	for _, dir := range []string{"../filter", "../filter/abi", "../jwt"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s (%v)", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range parsed.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if forbidden[path] {
					t.Errorf("%s imports %s", f, path)
				}
			}
		}
	}
}
