// Package oci packages the scopegate wasm module as an OCI image that Istio's
// agent can pull for a WasmPlugin (url: oci://...), without Docker.
//
// The image follows the "compat" variant of the Wasm image specification
// (solo-io/wasm, spec-compat.md), the one Istio's image fetcher tries first
// for OCI manifests: exactly one layer of media type
// application/vnd.oci.image.layer.v1.tar+gzip whose tar holds plugin.wasm,
// and the manifest annotation module.wasm.image/variant=compat.
//
// Builds are reproducible: the same module always gives the same digest, so a
// WasmPlugin can pin the image with its sha256 field.
package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// VariantAnnotation is the manifest annotation naming the Wasm image variant.
	VariantAnnotation = "module.wasm.image/variant"
	// VariantCompat is the value of VariantAnnotation for the compat variant.
	VariantCompat = "compat"
	// ModuleFileName is the file in the layer that Istio's agent loads.
	ModuleFileName = "plugin.wasm"
	// RefNameAnnotation is the OCI image-layout annotation naming an image in index.json.
	RefNameAnnotation = "org.opencontainers.image.ref.name"
)

// wasmMagic is the first four bytes of every WebAssembly binary.
var wasmMagic = []byte{0x00, 'a', 's', 'm'}

// epoch is the fixed timestamp written into the layer and config, so that
// identical modules give identical digests.
var epoch = time.Unix(0, 0).UTC()

// Image builds the compat-variant image holding module as plugin.wasm.
// It refuses bytes that are not a WebAssembly binary, because Istio would
// only discover that when every sidecar fails to load the plugin.
func Image(module []byte) (v1.Image, error) {
	if !bytes.HasPrefix(module, wasmMagic) {
		return nil, errors.New("oci: module is not a WebAssembly binary (missing \\0asm magic)")
	}
	blob, err := layerBlob(module)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("oci: layer: %w", err)
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: "wasm",
		OS:           "wasip1",
		Created:      v1.Time{Time: epoch},
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, fmt.Errorf("oci: config: %w", err)
	}
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, fmt.Errorf("oci: append layer: %w", err)
	}
	annotated, ok := mutate.Annotations(img, map[string]string{VariantAnnotation: VariantCompat}).(v1.Image)
	if !ok {
		return nil, errors.New("oci: annotating the manifest did not yield an image")
	}
	return annotated, nil
}

// layerBlob returns the gzip-compressed tar holding module as plugin.wasm,
// with fixed metadata so the bytes depend only on the module.
func layerBlob(module []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     ModuleFileName,
		Mode:     0o644,
		Size:     int64(len(module)),
		ModTime:  epoch,
		Format:   tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("oci: tar header: %w", err)
	}
	if _, err := tw.Write(module); err != nil {
		return nil, fmt.Errorf("oci: tar body: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("oci: tar close: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("oci: gzip close: %w", err)
	}
	return buf.Bytes(), nil
}

// ExtractModule returns plugin.wasm from a compat-variant image, checking the
// same things Istio's agent relies on: an OCI manifest carrying the variant
// annotation and exactly one OCI tar+gzip layer that holds plugin.wasm and
// nothing else.
func ExtractModule(img v1.Image) ([]byte, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("oci: manifest: %w", err)
	}
	if m.MediaType != types.OCIManifestSchema1 {
		return nil, fmt.Errorf("oci: manifest media type %q, want %q", m.MediaType, types.OCIManifestSchema1)
	}
	if got := m.Annotations[VariantAnnotation]; got != VariantCompat {
		return nil, fmt.Errorf("oci: annotation %s=%q, want %q", VariantAnnotation, got, VariantCompat)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("oci: layers: %w", err)
	}
	if len(layers) != 1 {
		return nil, fmt.Errorf("oci: %d layers, want exactly 1", len(layers))
	}
	mt, err := layers[0].MediaType()
	if err != nil {
		return nil, fmt.Errorf("oci: layer media type: %w", err)
	}
	if mt != types.OCILayer {
		return nil, fmt.Errorf("oci: layer media type %q, want %q", mt, types.OCILayer)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		return nil, fmt.Errorf("oci: layer blob: %w", err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return nil, fmt.Errorf("oci: layer is not gzip: %w", err)
	}
	tr := tar.NewReader(zr)
	var module []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("oci: layer tar: %w", err)
		}
		if h.Name != ModuleFileName || module != nil {
			return nil, fmt.Errorf("oci: layer holds %q; only one %s is expected", h.Name, ModuleFileName)
		}
		if module, err = io.ReadAll(tr); err != nil {
			return nil, fmt.Errorf("oci: reading %s: %w", ModuleFileName, err)
		}
	}
	if module == nil {
		return nil, fmt.Errorf("oci: layer holds no %s", ModuleFileName)
	}
	return module, nil
}

// WriteLayout writes img as an OCI image layout in dir, tagged ref (for the
// ref.name annotation in index.json; may be empty). An existing layout in dir
// is replaced; any other non-empty directory is left alone and is an error,
// so a mistyped -out never deletes someone's files.
func WriteLayout(dir, ref string, img v1.Image) error {
	if err := clearLayoutDir(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("oci: layout %s: %w", dir, err)
	}
	var opts []layout.Option
	if ref != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{RefNameAnnotation: ref}))
	}
	if err := p.AppendImage(img, opts...); err != nil {
		return fmt.Errorf("oci: layout %s: %w", dir, err)
	}
	return nil
}

// clearLayoutDir empties dir if it holds a previous OCI layout.
func clearLayoutDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("oci: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		return fmt.Errorf("oci: %s is not empty and is not an OCI image layout; refusing to overwrite it", dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("oci: replacing %s: %w", dir, err)
	}
	return nil
}

// PushOptions tune Push.
type PushOptions struct {
	// Insecure allows plain HTTP to the registry (localhost registries are
	// reached over HTTP anyway).
	Insecure bool
	// Remote are extra go-containerregistry options (transport, auth, ...).
	// By default credentials come from the Docker config (~/.docker/config.json).
	Remote []remote.Option
}

// Push uploads img to the registry reference ref (e.g. ghcr.io/org/scopegate:0.1.0)
// and returns the reference pinned by manifest digest.
func Push(ctx context.Context, ref string, img v1.Image, opts PushOptions) (name.Digest, error) {
	var nameOpts []name.Option
	if opts.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nameOpts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("oci: reference %q: %w", ref, err)
	}
	ropts := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts.Remote...)
	if err := remote.Write(r, img, ropts...); err != nil {
		return name.Digest{}, fmt.Errorf("oci: push %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("oci: digest: %w", err)
	}
	pinned, err := name.NewDigest(r.Context().String()+"@"+d.String(), nameOpts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("oci: pinned reference: %w", err)
	}
	return pinned, nil
}
