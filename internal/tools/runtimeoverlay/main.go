// Command runtimeoverlay writes the Go runtime overlay for the wasm build
// (see internal/overlay): patched copies of the installed toolchain's
// runtime/netpoll_wasip1.go and runtime/os_wasip1.go plus overlay.json, and
// prints the overlay.json path. `make wasm` runs it and passes the result to
// `go build -overlay`. Delete it with internal/overlay once golang/go#78513
// is fixed.
//
// Usage:
//
//	go run ./internal/tools/runtimeoverlay -out build/overlay
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/scopegate/scopegate/internal/overlay"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "runtimeoverlay:", err)
		os.Exit(1)
	}
}

// run parses the flags, writes the overlay and prints overlay.json's path.
func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("runtimeoverlay", flag.ContinueOnError)
	out := fs.String("out", "build/overlay", "directory for the patched runtime files and overlay.json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	path, err := overlay.Write(*out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, path)
	return err
}
