package overlay

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestPatchesApplyToTheInstalledToolchain(t *testing.T) {
	dir := t.TempDir()
	path, err := Write(dir)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	goroot, err := GOROOT()
	if err != nil {
		t.Fatal(err)
	}
	var ov struct{ Replace map[string]string }
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &ov); err != nil {
		t.Fatalf("overlay.json: %v", err)
	}
	t.Run("overlay.json replaces exactly the two runtime files by the patched copies", func(t *testing.T) {
		if len(ov.Replace) != 2 {
			t.Fatalf("Replace = %v, want 2 entries", ov.Replace)
		}
		for _, f := range []string{"netpoll_wasip1.go", "os_wasip1.go"} {
			orig := filepath.Join(goroot, "src", "runtime", f)
			if got := ov.Replace[orig]; got != filepath.Join(dir, f) {
				t.Errorf("Replace[%s] = %q, want %q", orig, got, filepath.Join(dir, f))
			}
		}
	})
	t.Run("each patched copy is Go's file plus our header and our patch, nothing else", func(t *testing.T) {
		for orig, copyPath := range ov.Replace {
			src, _ := os.ReadFile(orig)
			got, _ := os.ReadFile(copyPath)
			want := string(src)
			for _, p := range Patches {
				if p.File == filepath.Base(orig) {
					want = strings.Replace(want, p.Old, p.New, 1)
				}
			}
			if string(got) != header+want {
				t.Errorf("%s is not the patched %s", copyPath, orig)
			}
			if !strings.Contains(string(got), "ENOSYS") || !strings.Contains(string(got), "//go:build wasip1") {
				t.Errorf("%s lacks the patch or its build constraint", copyPath)
			}
		}
	})
}

func TestApplyFailsLoudlyWhenGoChanged(t *testing.T) {
	netpoll := Patches[0]
	cases := []struct {
		name, file, src string
		wantErr         []string
	}{
		{"a file without the expected snippet names the file and the snippet",
			"netpoll_wasip1.go", "package runtime\n\nfunc netpoll() {}\n",
			[]string{"runtime/netpoll_wasip1.go", "expected snippet not found", "golang/go#78513", netpoll.Old}},
		{"a snippet that occurs twice is refused rather than patched once",
			"netpoll_wasip1.go", "package runtime\n" + netpoll.Old + netpoll.Old,
			[]string{"runtime/netpoll_wasip1.go", "found 2 times"}},
		{"a file we have no patch for is refused",
			"proc.go", "package runtime\n",
			[]string{"no patch for runtime/proc.go"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Apply(c.file, c.src, Patches)
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	t.Run("the valid twin: the snippet once is patched", func(t *testing.T) {
		got, err := Apply("netpoll_wasip1.go", "package runtime\n"+netpoll.Old, Patches)
		if err != nil || !strings.Contains(got, netpoll.New) {
			t.Fatalf("Apply = %q, %v", got, err)
		}
	})
}

func TestWriteFromFailsOnAToolchainWithoutTheSnippet(t *testing.T) {
	goroot := t.TempDir()
	rt := filepath.Join(goroot, "src", "runtime")
	if err := os.MkdirAll(rt, 0o755); err != nil {
		t.Fatal(err)
	}
	// A future Go whose netpoll no longer looks like 1.26's.
	os.WriteFile(filepath.Join(rt, "netpoll_wasip1.go"), []byte("//go:build wasip1\n\npackage runtime\n"), 0o644)
	os.WriteFile(filepath.Join(rt, "os_wasip1.go"), []byte("package runtime\n"+Patches[1].Old), 0o644)
	out := t.TempDir()
	_, err := WriteFrom(goroot, out, Patches)
	if err == nil || !strings.Contains(err.Error(), "netpoll_wasip1.go") {
		t.Fatalf("WriteFrom err = %v, want one naming netpoll_wasip1.go", err)
	}
	if _, err := os.Stat(filepath.Join(out, "overlay.json")); err == nil {
		t.Error("overlay.json was written although the patch failed")
	}
}

func TestConcurrentWritesLeaveCompleteFiles(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := Write(dir); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "netpoll_wasip1.go os_wasip1.go overlay.json" {
		t.Errorf("dir holds %v, want the two patched files and overlay.json only", names)
	}
}
