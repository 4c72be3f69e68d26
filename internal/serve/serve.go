// Package serve runs an HTTP server until its context ends and shuts it down
// cleanly: the small loop every serving command (echo, devidp,
// scopegate-proxy) needs.
package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace is how long requests in flight get to finish after ctx ends.
const ShutdownGrace = 5 * time.Second

// Until serves srv on ln until ctx ends, then shuts it down and returns only
// once it has stopped, so a command's main can exit right after. A failure
// to serve (before ctx ends) or to shut down within ShutdownGrace is returned.
func Until(ctx context.Context, srv *http.Server, ln net.Listener) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if err != nil {
		return fmt.Errorf("shutting down %s: %w", ln.Addr(), err)
	}
	return nil
}
