package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Run("-out gets the patched files and overlay.json, whose path is printed", func(t *testing.T) {
		dir := t.TempDir()
		var out strings.Builder
		if err := run([]string{"-out", dir}, &out); err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(dir, "overlay.json")
		if strings.TrimSpace(out.String()) != want {
			t.Errorf("printed %q, want %q", out.String(), want)
		}
		for _, f := range []string{"overlay.json", "netpoll_wasip1.go", "os_wasip1.go"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("stray arguments are refused", func(t *testing.T) {
		if err := run([]string{"-out", t.TempDir(), "extra"}, &strings.Builder{}); err == nil {
			t.Fatal("no error")
		}
	})
}
