// Command devidp is a development OpenID provider: discovery, JWKS, and a
// token endpoint (password and client-credentials grants) issuing signed JWT
// access tokens. It has two users, Blog_with_scope (whose group grants the
// scope kong_api_access) and Blog_without_scope. Never use it for anything real.
//
//	go run ./cmd/devidp -addr 127.0.0.1:9000 -alg ES256
//	curl -X POST http://127.0.0.1:9000/rotate        # new key, new kid
//
// A token request carrying a DPoP proof (see cmd/dpop) gets a DPoP-bound
// token; served over TLS (-tls-cert, -tls-key, -tls-client-auth request), a
// token request made with a client certificate gets a certificate-bound one.
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/scopegate/scopegate/internal/cli"
	"github.com/scopegate/scopegate/internal/devidp"
	"github.com/scopegate/scopegate/internal/serve"
)

func main() {
	cli.Main("devidp", func(ctx context.Context, args []string) error { return run(ctx, args, os.Stdout, os.Stderr) })
}

// run parses the flags, prints the provider's issuer, users and clients (on
// stderr, as a log), and serves until ctx ends; it returns once the server
// has shut down. stdout gets only what was asked for (-version).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.Flags("devidp", "devidp is a development OpenID provider (discovery, JWKS, password and\nclient-credentials grants). Never use it for anything real.\n\nUsage:\n  devidp [-addr 127.0.0.1:9000] [-alg RS256] [flags]", stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "listen address (host:port; port 0 picks a free one)")
	issuer := fs.String("issuer", "", "issuer URL (default http://<listen address>)")
	alg := fs.String("alg", "RS256", "signing algorithm: "+strings.Join(devidp.Algorithms, ", "))
	ttl := fs.Duration("ttl", time.Hour, "access token lifetime")
	audience := fs.String("audience", "scopegate-demo", "aud of issued tokens")
	keepOld := fs.Bool("keep-old-keys", false, "keep the previous key in the JWKS when rotating")
	var tlsFlags serve.TLSFlags
	tlsFlags.Register(fs)
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	tlsConfig, err := tlsFlags.Config()
	if err != nil {
		return err
	}
	if *ttl <= 0 {
		return fmt.Errorf("-ttl %s: want a positive duration", *ttl)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	scheme := "http"
	if tlsConfig != nil {
		ln, scheme = tls.NewListener(ln, tlsConfig), "https"
	}
	if *issuer == "" {
		*issuer = scheme + "://" + ln.Addr().String()
	}
	idp, err := devidp.New(devidp.Config{Issuer: *issuer, Alg: *alg, TokenTTL: *ttl, Audience: *audience, KeepOldKeys: *keepOld})
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(stderr, "devidp: listening on %s://%s, issuer %s, signing %s (kid %s)\n", scheme, ln.Addr(), idp.Issuer(), *alg, idp.SigningKid())
	for _, u := range idp.Users() {
		fmt.Fprintf(stderr, "devidp: user %s password %s groups %v\n", u.Username, u.Password, u.Groups)
	}
	for _, c := range idp.Clients() {
		fmt.Fprintf(stderr, "devidp: client %s secret %q grants %v\n", c.ID, c.Secret, c.Grants)
	}
	return serve.Until(ctx, &http.Server{Handler: idp, ReadHeaderTimeout: 10 * time.Second}, ln)
}
