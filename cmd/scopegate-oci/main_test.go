package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/scopegate/scopegate/internal/cli/clitest"
	"github.com/scopegate/scopegate/oci"
)

// writeFakeModule writes a tiny wasm-looking file and returns its path and bytes.
func writeFakeModule(t *testing.T) (string, []byte) {
	t.Helper()
	module := []byte("\x00asm\x01\x00\x00\x00cli")
	path := filepath.Join(t.TempDir(), "scopegate.wasm")
	if err := os.WriteFile(path, module, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, module
}

func TestRunWritesTheLayoutAndPushes(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/scopegate/scopegate:0.1.0"
	wasm, module := writeFakeModule(t)
	out := filepath.Join(t.TempDir(), "oci")

	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-wasm", wasm, "-out", out, "-push", ref}, &stdout, io.Discard); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}

	p, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index: %v %+v", err, im)
	}
	local, err := p.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	got, err := oci.ExtractModule(local)
	if err != nil || !bytes.Equal(got, module) {
		t.Errorf("layout module = %q, %v; want %q", got, err, module)
	}

	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(r)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	d, _ := pulled.Digest()
	if d != im.Manifests[0].Digest {
		t.Errorf("pushed digest %s, layout digest %s", d, im.Manifests[0].Digest)
	}
	if !strings.Contains(stdout.String(), "sha256: "+d.Hex) {
		t.Errorf("output does not give the WasmPlugin sha256 %s:\n%s", d.Hex, stdout.String())
	}
}

func TestRunRejectsBadInvocations(t *testing.T) {
	wasm, _ := writeFakeModule(t)
	notWasm := filepath.Join(t.TempDir(), "x.wasm")
	if err := os.WriteFile(notWasm, []byte("#!/bin/sh"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"a missing module file is an error", []string{"-wasm", filepath.Join(t.TempDir(), "none.wasm"), "-out", t.TempDir()}},
		{"a file that is not wasm is an error", []string{"-wasm", notWasm, "-out", t.TempDir()}},
		{"no output and no push is an error", []string{"-wasm", wasm, "-out", ""}},
		{"a stray argument is an error", []string{"-wasm", wasm, "extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := run(context.Background(), tc.args, io.Discard, io.Discard); err == nil {
				t.Error("run succeeded")
			}
		})
	}
}

func TestHelpGoesToStderrAndVersionToStdout(t *testing.T) {
	clitest.HelpAndVersion(t, "scopegate-oci", "push", func(args []string, stdout, stderr io.Writer) error {
		return run(context.Background(), args, stdout, stderr)
	})
}
