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
	"os"

	"github.com/scopegate/scopegate/internal/overlay"
)

func main() {
	out := flag.String("out", "build/overlay", "directory for the patched runtime files and overlay.json")
	flag.Parse()
	path, err := overlay.Write(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtimeoverlay:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
