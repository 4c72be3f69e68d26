// Command scopegate-oci packages the scopegate wasm module as an
// Istio-compatible OCI image (the "compat" Wasm image variant), writes it as
// an OCI image layout directory and, given -push, uploads it to a registry.
// No Docker daemon is involved. `make oci` runs it:
//
//	go run ./cmd/scopegate-oci -wasm dist/scopegate.wasm -out dist/oci [-push ghcr.io/org/scopegate:0.1.0]
//
// Registry credentials come from the Docker config (~/.docker/config.json or
// $DOCKER_CONFIG), as written by `docker login`, `crane auth login` or similar.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/scopegate/scopegate/internal/cli"
	"github.com/scopegate/scopegate/oci"
)

func main() {
	cli.Main("scopegate-oci", func(ctx context.Context, args []string) error { return run(ctx, args, os.Stdout, os.Stderr) })
}

// run is main without the process: it parses args, builds the image, writes
// the layout and pushes, reporting to out. Help and flag errors go to
// stderr, as in every scopegate command.
func run(ctx context.Context, args []string, out, stderr io.Writer) error {
	fs := cli.Flags("scopegate-oci", "scopegate-oci packages the wasm module as an Istio-compatible OCI image (the\n\"compat\" Wasm image variant), writes an OCI image layout and, with -push,\nuploads it and prints the digest for the WasmPlugin's sha256.\n\nUsage:\n  scopegate-oci [-wasm dist/scopegate.wasm] [-out dist/oci] [-push registry/repo:tag]", stderr)
	wasmPath := fs.String("wasm", "dist/scopegate.wasm", "the wasm module to package")
	outDir := fs.String("out", "dist/oci", "OCI image layout directory to write (\"\" to skip)")
	push := fs.String("push", "", "registry reference to push to, e.g. ghcr.io/org/scopegate:0.1.0")
	insecure := fs.Bool("insecure", false, "allow plain HTTP to the registry given by -push")
	if err := cli.Parse(fs, args, out); err != nil {
		return err
	}
	if *outDir == "" && *push == "" {
		return errors.New("nothing to do: give -out, -push or both")
	}

	module, err := os.ReadFile(*wasmPath)
	if err != nil {
		return fmt.Errorf("reading the module: %w (run `make wasm` first)", err)
	}
	img, err := oci.Image(module)
	if err != nil {
		return fmt.Errorf("%s: %w", *wasmPath, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(module)
	fmt.Fprintf(out, "module  %s (%d bytes, sha256 %s)\n", *wasmPath, len(module), hex.EncodeToString(sum[:]))
	fmt.Fprintf(out, "image   %s\n", digest)

	if *outDir != "" {
		if err := oci.WriteLayout(*outDir, *push, img); err != nil {
			return err
		}
		fmt.Fprintf(out, "layout  %s\n", *outDir)
	}
	if *push != "" {
		pinned, err := oci.Push(ctx, *push, img, oci.PushOptions{Insecure: *insecure})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "pushed  %s\n", *push)
		// The WasmPlugin's sha256 field is checked against the manifest digest.
		fmt.Fprintf(out, "WasmPlugin: url: oci://%s  sha256: %s\n", *push, digest.Hex)
		fmt.Fprintf(out, "pinned  oci://%s\n", pinned)
	}
	return nil
}
