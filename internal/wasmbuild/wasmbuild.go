// Package wasmbuild builds proxy-wasm guest modules with the standard Go
// toolchain (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared) for tests, benchmarks
// and tools. Builds go through Go's build cache, so a second build of an
// unchanged package costs little; each package is built once per process.
package wasmbuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/scopegate/scopegate/internal/overlay"
)

// Options tune one build.
type Options struct {
	// Tags are extra build tags (for example "scopegate_testhooks").
	Tags []string
	// NoOverlay builds without the runtime overlay (used to prove the overlay matters).
	NoOverlay bool
}

var (
	mu    sync.Mutex
	built = map[string]string{}
)

// RepoRoot returns the module root (the directory holding go.mod), found by
// walking up from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("wasmbuild: finding the module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("wasmbuild: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Build compiles the Go package pkg (an import path or ./relative path from
// the module root) to a wasm module under dist/test and returns the module's
// path. The result is cached for the life of the process.
func Build(pkg string, opts Options) (string, error) {
	key := pkg + "|" + strings.Join(opts.Tags, ",") + fmt.Sprint(opts.NoOverlay)
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[key]; ok {
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	name := strings.NewReplacer("/", "_", ".", "_", "|", "_", ",", "_").Replace(key) + ".wasm"
	out := filepath.Join(root, "dist", "test", name)
	if err := BuildTo(pkg, out, opts); err != nil {
		return "", err
	}
	built[key] = out
	return out, nil
}

// BuildTo compiles pkg to the wasm module at out. It is the one build recipe
// for the module: `make wasm` (through internal/tools/buildwasm) and the tests
// use it, so the tests run what ships.
func BuildTo(pkg, out string, opts Options) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	outDir := filepath.Dir(out)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("wasmbuild: output directory: %w", err)
	}
	tmp, err := os.CreateTemp(outDir, "build-*.wasm")
	if err != nil {
		return fmt.Errorf("wasmbuild %s: %w", pkg, err)
	}
	tmp.Close()
	args := []string{"build", "-buildmode=c-shared", "-trimpath"}
	if len(opts.Tags) > 0 {
		args = append(args, "-tags", strings.Join(opts.Tags, ","))
	}
	if !opts.NoOverlay {
		ov, err := overlayFlag(root)
		if err != nil {
			os.Remove(tmp.Name())
			return err
		}
		args = append(args, ov...)
	}
	args = append(args, "-o", tmp.Name(), pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if outb, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("wasmbuild %s: %w\n%s", pkg, err, outb)
	}
	// Rename is atomic, so test packages running in parallel never read a half-written module.
	if err := os.Rename(tmp.Name(), out); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("wasmbuild %s: %w", pkg, err)
	}
	return nil
}

// overlayFlag returns the -overlay arguments for the runtime ENOSYS overlay
// (see internal/overlay), generated into <root>/build/overlay from the
// installed toolchain's sources. overlay.Write renames complete files into
// place, so test processes building at the same time do not collide. Delete
// this (and always build without -overlay) once golang/go#78513 is fixed.
func overlayFlag(root string) ([]string, error) {
	path, err := overlay.Write(filepath.Join(root, "build", "overlay"))
	if err != nil {
		return nil, fmt.Errorf("wasmbuild: generating the runtime overlay: %w", err)
	}
	return []string{"-overlay", path}, nil
}
