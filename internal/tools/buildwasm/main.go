// Command buildwasm builds a proxy-wasm module with the project's one build
// recipe (internal/wasmbuild: GOOS=wasip1 GOARCH=wasm -buildmode=c-shared,
// with the runtime overlay that makes Envoy 1.33-1.38's ENOSYS poll_oneoff
// harmless). `make wasm` runs it, so the module that ships is built exactly
// like the modules the tests run.
//
// Usage:
//
//	go run ./internal/tools/buildwasm -o dist/scopegate.wasm ./cmd/scopegate
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/scopegate/scopegate/internal/wasmbuild"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "buildwasm:", err)
		os.Exit(1)
	}
}

// run parses the flags, builds the one package named and prints the output path.
func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("buildwasm", flag.ContinueOnError)
	out := fs.String("o", "", "output .wasm path (required)")
	tags := fs.String("tags", "", "comma-separated extra build tags")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 1 {
		return fmt.Errorf("usage: buildwasm -o out.wasm [-tags a,b] ./package")
	}
	var opts wasmbuild.Options
	if *tags != "" {
		opts.Tags = strings.Split(*tags, ",")
	}
	if err := wasmbuild.BuildTo(fs.Arg(0), *out, opts); err != nil {
		return err
	}
	_, err := fmt.Fprintln(stdout, *out)
	return err
}
