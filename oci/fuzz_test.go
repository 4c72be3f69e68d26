package oci

import (
	"bytes"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// FuzzExtractModule feeds arbitrary layer blobs to ExtractModule: it must
// never panic, and whatever module it accepts must survive a rebuild of the
// image unchanged.
func FuzzExtractModule(f *testing.F) {
	good, err := layerBlob(fakeModule("seed"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, blob []byte) {
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(blob)), nil
		}, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return
		}
		module, err := ExtractModule(handmade(t, true, layer))
		if err != nil {
			return
		}
		img, err := Image(module)
		if err != nil {
			return // not a wasm binary; Image refuses it, as it should
		}
		again, err := ExtractModule(img)
		if err != nil || !bytes.Equal(again, module) {
			t.Fatalf("rebuilt image gives %q, %v; want %q", again, err, module)
		}
	})
}
