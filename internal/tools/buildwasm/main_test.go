package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Run("builds the package to -o as a wasm module and prints the path", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "pass.wasm")
		var stdout strings.Builder
		if err := run([]string{"-o", out, "./filter/abi/testdata/passthrough"}, &stdout); err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(stdout.String()) != out {
			t.Errorf("printed %q, want %q", stdout.String(), out)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("\x00asm")) {
			t.Fatalf("%s is not a wasm module", out)
		}
	})
	for _, args := range [][]string{
		{"./cmd/scopegate"},
		{"-o", "x.wasm"},
		{"-o", "x.wasm", "./a", "./b"},
	} {
		t.Run("refuses "+strings.Join(args, " "), func(t *testing.T) {
			if err := run(args, &strings.Builder{}); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
