// Command devidp is a development OpenID provider: discovery, JWKS, and a
// token endpoint (password and client-credentials grants) issuing signed JWT
// access tokens. It has two users, Blog_with_scope (whose group grants the
// scope kong_api_access) and Blog_without_scope. Never use it for anything real.
//
//	go run ./cmd/devidp -addr 127.0.0.1:9000 -alg ES256
//	curl -X POST http://127.0.0.1:9000/rotate        # new key, new kid
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/scopegate/scopegate/internal/devidp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	issuer := flag.String("issuer", "", "issuer URL (default http://<addr>)")
	alg := flag.String("alg", "RS256", "signing algorithm: "+strings.Join(devidp.Algorithms, ", "))
	ttl := flag.Duration("ttl", time.Hour, "access token lifetime")
	audience := flag.String("audience", "scopegate-demo", "aud of issued tokens")
	keepOld := flag.Bool("keep-old-keys", false, "keep the previous key in the JWKS when rotating")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devidp:", err)
		os.Exit(1)
	}
	if *issuer == "" {
		*issuer = "http://" + ln.Addr().String()
	}
	idp, err := devidp.New(devidp.Config{Issuer: *issuer, Alg: *alg, TokenTTL: *ttl, Audience: *audience, KeepOldKeys: *keepOld})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: idp, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "devidp: issuer %s, signing %s (kid %s)\n", idp.Issuer(), *alg, idp.SigningKid())
	for _, u := range idp.Users() {
		fmt.Fprintf(os.Stderr, "devidp: user %s password %s groups %v\n", u.Username, u.Password, u.Groups)
	}
	for _, c := range idp.Clients() {
		fmt.Fprintf(os.Stderr, "devidp: client %s secret %q grants %v\n", c.ID, c.Secret, c.Grants)
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "devidp:", err)
		os.Exit(1)
	}
}
