package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// fakeModule returns a tiny byte string that starts like a wasm binary
// (magic + version 1) followed by tag, so tests never need the real build.
func fakeModule(tag string) []byte {
	return append([]byte("\x00asm\x01\x00\x00\x00"), tag...)
}

// startRegistry runs go-containerregistry's in-memory registry over HTTP and
// returns its host:port.
func startRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// layerFiles lists the tar entries of a gzip tar blob with their contents.
func layerFiles(t *testing.T, blob io.Reader) map[string][]byte {
	t.Helper()
	zr, err := gzip.NewReader(blob)
	if err != nil {
		t.Fatalf("layer is not gzip: %v", err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("layer tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", h.Name, err)
		}
		files[h.Name] = b
	}
}

// checkCompatImage asserts everything Istio's agent relies on, reading the
// image only through go-containerregistry's generic accessors.
func checkCompatImage(t *testing.T, img v1.Image, module []byte) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest media type = %q, want %q", m.MediaType, types.OCIManifestSchema1)
	}
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("config media type = %q, want %q", m.Config.MediaType, types.OCIConfigJSON)
	}
	if got := m.Annotations["module.wasm.image/variant"]; got != "compat" {
		t.Errorf("annotation module.wasm.image/variant = %q, want compat", got)
	}
	if len(m.Layers) != 1 {
		t.Fatalf("manifest has %d layers, want 1", len(m.Layers))
	}
	if m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("layer media type = %q, want %q", m.Layers[0].MediaType, types.OCILayer)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	blob, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(blob)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != m.Layers[0].Digest.String() {
		t.Errorf("layer blob hashes to %s, manifest says %s", got, m.Layers[0].Digest)
	}
	files := layerFiles(t, bytes.NewReader(blob))
	if len(files) != 1 {
		t.Errorf("layer holds %d files, want only plugin.wasm", len(files))
	}
	if got, ok := files["plugin.wasm"]; !ok || !bytes.Equal(got, module) {
		t.Errorf("plugin.wasm in the layer (%d bytes, present %v) differs from the module (%d bytes)", len(got), ok, len(module))
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RootFS.DiffIDs) != 1 {
		t.Errorf("config lists %d diff_ids, want 1", len(cfg.RootFS.DiffIDs))
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	msum := sha256.Sum256(raw)
	if got := "sha256:" + hex.EncodeToString(msum[:]); got != d.String() {
		t.Errorf("manifest hashes to %s, image digest is %s", got, d)
	}
}

func TestImageIsTheCompatVariantHoldingOnlyTheModule(t *testing.T) {
	module := fakeModule("compat")
	img, err := Image(module)
	if err != nil {
		t.Fatal(err)
	}
	checkCompatImage(t, img, module)
	got, err := ExtractModule(img)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, module) {
		t.Errorf("ExtractModule returned %q, want %q", got, module)
	}
}

func TestImageDigestDependsOnlyOnTheModule(t *testing.T) {
	digest := func(module []byte) v1.Hash {
		img, err := Image(module)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Run("the same module built twice has the same digest", func(t *testing.T) {
		if a, b := digest(fakeModule("a")), digest(fakeModule("a")); a != b {
			t.Errorf("digests differ: %s vs %s", a, b)
		}
	})
	t.Run("a different module has a different digest", func(t *testing.T) {
		if a, b := digest(fakeModule("a")), digest(fakeModule("b")); a == b {
			t.Errorf("both modules gave %s", a)
		}
	})
}

func TestImageRefusesBytesThatAreNotWasm(t *testing.T) {
	for _, tc := range []struct {
		name   string
		module []byte
	}{
		{"an empty file is refused", nil},
		{"an ELF binary is refused", []byte("\x7fELF\x02\x01\x01")},
		{"text is refused", []byte("hello")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Image(tc.module); err == nil {
				t.Error("Image accepted it")
			}
		})
	}
}

// layerOf builds a gzip tar layer with the given files and media type.
func layerOf(t *testing.T, mt types.MediaType, files map[string][]byte) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	blob := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil }, tarball.WithMediaType(mt))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// handmade assembles an image from parts, so ExtractModule's checks can be
// shown to reject each deviation.
func handmade(t *testing.T, annotate bool, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		t.Fatal(err)
	}
	if annotate {
		img = mutate.Annotations(img, map[string]string{VariantAnnotation: VariantCompat}).(v1.Image)
	}
	return img
}

func TestExtractModuleChecksTheCompatLayout(t *testing.T) {
	module := fakeModule("x")
	only := map[string][]byte{"plugin.wasm": module}
	for _, tc := range []struct {
		name    string
		img     v1.Image
		wantErr string
	}{
		{"one annotated OCI tar+gzip layer holding plugin.wasm is accepted",
			handmade(t, true, layerOf(t, types.OCILayer, only)), ""},
		{"a manifest without the variant annotation is rejected",
			handmade(t, false, layerOf(t, types.OCILayer, only)), "annotation"},
		{"two layers are rejected",
			handmade(t, true, layerOf(t, types.OCILayer, only), layerOf(t, types.OCILayer, only)), "layers"},
		{"a Docker layer media type is rejected",
			handmade(t, true, layerOf(t, types.DockerLayer, only)), "media type"},
		{"a layer with another file beside plugin.wasm is rejected",
			handmade(t, true, layerOf(t, types.OCILayer, map[string][]byte{"plugin.wasm": module, "runtime-config.json": []byte("{}")})), "only one"},
		{"a layer without plugin.wasm is rejected",
			handmade(t, true, layerOf(t, types.OCILayer, map[string][]byte{"filter.wasm": module})), "only one"},
		{"a non-gzip layer is rejected",
			handmade(t, true, static.NewLayer(module, types.OCILayer)), "gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ExtractModule(tc.img)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ExtractModule: %v", err)
				}
				if !bytes.Equal(got, module) {
					t.Errorf("got %q, want %q", got, module)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestPushedImagePullsBackByDigestUnchanged(t *testing.T) {
	host := startRegistry(t)
	module := fakeModule("pushed")
	img, err := Image(module)
	if err != nil {
		t.Fatal(err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := Push(context.Background(), host+"/scopegate/scopegate:0.1.0", img, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pinned.DigestStr() != want.String() {
		t.Errorf("Push returned %s, image digest is %s", pinned.DigestStr(), want)
	}

	for _, ref := range []string{pinned.String(), host + "/scopegate/scopegate:0.1.0"} {
		t.Run("pulling "+strings.TrimPrefix(ref, host)+" gives back the same image", func(t *testing.T) {
			r, err := name.ParseReference(ref)
			if err != nil {
				t.Fatal(err)
			}
			pulled, err := remote.Image(r)
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			got, err := pulled.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("pulled digest %s, pushed %s", got, want)
			}
			checkCompatImage(t, pulled, module)
		})
	}
}

func TestPushReportsABadReference(t *testing.T) {
	img, err := Image(fakeModule("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Push(context.Background(), "UPPER/case:tag", img, PushOptions{}); err == nil {
		t.Error("Push accepted an invalid reference")
	}
}

// readLayout opens the OCI image layout in dir and returns its index.
func readLayout(t *testing.T, dir string) (layout.Path, *v1.IndexManifest) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return p, im
}

func TestWriteLayoutRoundTrips(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	module := fakeModule("layout")
	img, err := Image(module)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteLayout(dir, "ghcr.io/scopegate/scopegate:0.1.0", img); err != nil {
		t.Fatal(err)
	}
	p, im := readLayout(t, dir)
	if len(im.Manifests) != 1 {
		t.Fatalf("index lists %d manifests, want 1", len(im.Manifests))
	}
	desc := im.Manifests[0]
	if got := desc.Annotations[RefNameAnnotation]; got != "ghcr.io/scopegate/scopegate:0.1.0" {
		t.Errorf("ref.name annotation = %q", got)
	}
	if desc.MediaType != types.OCIManifestSchema1 {
		t.Errorf("index entry media type = %q", desc.MediaType)
	}
	read, err := p.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	checkCompatImage(t, read, module)
}

func TestWriteLayoutOverwritesOnlyALayout(t *testing.T) {
	img, err := Image(fakeModule("v1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a previous layout is replaced, leaving one image", func(t *testing.T) {
		dir := t.TempDir()
		if err := WriteLayout(dir, "", img); err != nil {
			t.Fatal(err)
		}
		img2, err := Image(fakeModule("v2"))
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteLayout(dir, "", img2); err != nil {
			t.Fatal(err)
		}
		_, im := readLayout(t, dir)
		want, _ := img2.Digest()
		if len(im.Manifests) != 1 || im.Manifests[0].Digest != want {
			t.Errorf("index = %+v, want only %s", im.Manifests, want)
		}
	})
	t.Run("a directory with other files is left alone", func(t *testing.T) {
		dir := t.TempDir()
		keep := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := WriteLayout(dir, "", img); err == nil {
			t.Error("WriteLayout wrote into a non-layout directory")
		}
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("the existing file is gone: %v", err)
		}
	})
}

// TestImageOfTheRealModule packages the module `make wasm` builds.
func TestImageOfTheRealModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm module; skipped with -short")
	}
	path, err := wasmbuild.Build("./cmd/scopegate", wasmbuild.Options{})
	if err != nil {
		t.Fatalf("building the module: %v", err)
	}
	module, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := Image(module)
	if err != nil {
		t.Fatal(err)
	}
	host := startRegistry(t)
	pinned, err := Push(context.Background(), host+"/scopegate/scopegate:test", img, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(pinned)
	if err != nil {
		t.Fatal(err)
	}
	checkCompatImage(t, pulled, module)
}
