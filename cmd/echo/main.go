// Command echo is the demo upstream: it answers every request with JSON
// describing the method, path, query and headers it received.
//
//	go run ./cmd/echo -addr 127.0.0.1:9100
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/scopegate/scopegate/internal/cli"
	"github.com/scopegate/scopegate/internal/echo"
	"github.com/scopegate/scopegate/internal/serve"
)

func main() {
	cli.Main("echo", func(ctx context.Context, args []string) error { return run(ctx, args, os.Stdout, os.Stderr) })
}

// run parses the flags and serves until ctx ends, then lets requests in
// flight finish before it returns. It logs on stderr; stdout gets only what
// was asked for (-version).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.Flags("echo", "echo is the demo upstream: it answers every request with JSON describing the\nmethod, path, query and headers it received.\n\nUsage:\n  echo [-addr 127.0.0.1:9100]", stderr)
	addr := fs.String("addr", "127.0.0.1:9100", "listen address (host:port; port 0 picks a free one)")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	fmt.Fprintf(stderr, "echo upstream listening on http://%s\n", ln.Addr())
	return serve.Until(ctx, &http.Server{Handler: echo.Handler(), ReadHeaderTimeout: 10 * time.Second}, ln)
}
