// Command demo is `make run`: it starts, on loopback, everything needed to see
// scopegate work — the local proxy hosting dist/scopegate.wasm with
// examples/demo.json, the development identity provider, and an echo upstream
// — prints where everything is and what to try, and stops cleanly on Ctrl-C.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/cli"
	"github.com/scopegate/scopegate/internal/devidp"
	"github.com/scopegate/scopegate/internal/echo"
)

// exampleIdPURL is the identity provider URL written in examples/demo.json.
// When the provider listens elsewhere, the launcher substitutes its real URL
// so that the issuer and discovery URI stay true.
const exampleIdPURL = "http://127.0.0.1:9000"

// options are the launcher's settings (one flag each).
type options struct {
	ProxyAddr, IdPAddr, EchoAddr, AdminAddr string
	Module                                  string // the .wasm to host
	Config                                  string // the plugin configuration file
	Alg                                     string // devidp signing algorithm
	Workers                                 int
	LogLevel                                string
	Log                                     io.Writer // proxy and component logs
}

// synopsis heads the -h output.
const synopsis = `demo is "make run": the local proxy hosting the scopegate module, the
development identity provider and an echo upstream, on loopback.

Usage:
  demo [-wasm dist/scopegate.wasm] [-config examples/demo.json] [-alg RS256] [flags]`

// parseOptions reads the launcher's flags. Help and flag errors go to
// stderr, -version to stdout, as in every scopegate command.
func parseOptions(args []string, stdout, stderr io.Writer) (options, error) {
	o := options{Log: stderr}
	fs := cli.Flags("demo", synopsis, stderr)
	fs.StringVar(&o.ProxyAddr, "proxy", "127.0.0.1:8080", "proxy listen address")
	fs.StringVar(&o.IdPAddr, "idp", "127.0.0.1:9000", "development identity provider listen address")
	fs.StringVar(&o.EchoAddr, "echo", "127.0.0.1:9100", "echo upstream listen address")
	fs.StringVar(&o.AdminAddr, "admin", "127.0.0.1:9901", "admin (/stats) listen address")
	fs.StringVar(&o.Module, "wasm", "dist/scopegate.wasm", "the plugin module (built by make wasm)")
	fs.StringVar(&o.Config, "config", "examples/demo.json", "plugin configuration")
	fs.StringVar(&o.Alg, "alg", "RS256", "signing algorithm of the identity provider: "+strings.Join(devidp.Algorithms, ", "))
	fs.IntVar(&o.Workers, "workers", 2, "worker VMs")
	fs.StringVar(&o.LogLevel, "log-level", "info", "proxy log level (trace, debug, info, warn, error, critical)")
	return o, cli.Parse(fs, args, stdout)
}

func main() {
	o, err := parseOptions(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		os.Exit(cli.ExitStatus("demo", err, os.Stderr))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := start(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	printGuide(os.Stdout, d)
	select {
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "\ndemo: stopping")
	case err = <-d.errc:
		fmt.Fprintln(os.Stderr, "demo:", err)
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cerr := d.Close(closeCtx); cerr != nil {
		fmt.Fprintln(os.Stderr, "demo: stopping:", cerr)
	}
	if err != nil {
		os.Exit(1)
	}
}

// demo is the running set of servers.
type demo struct {
	ProxyURL, IdPURL, EchoURL, AdminURL string
	IdP                                 *devidp.Server
	Host                                *host.Host

	servers []*http.Server
	errc    chan error // the first server failure
	wg      sync.WaitGroup
}

// start listens on every address first (so ":0" works and a busy port fails
// before anything runs), then starts the identity provider, the echo
// upstream, the proxy and its admin endpoint.
func start(ctx context.Context, o options) (_ *demo, err error) {
	raw, err := os.ReadFile(o.Config)
	if err != nil {
		return nil, fmt.Errorf("reading plugin configuration: %w", err)
	}
	// The launcher gives the proxy one cluster, "idp": check the file against
	// that before anything listens, with the file's own line numbers.
	if _, err := cli.CheckPluginConfig(o.Config, raw, []string{"idp"}); err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.Module); err != nil {
		return nil, fmt.Errorf("plugin module %s: %w (run `make wasm` first, or use `make run`)", o.Module, err)
	}
	var listeners []net.Listener
	defer func() {
		if err != nil {
			for _, ln := range listeners {
				ln.Close()
			}
		}
	}()
	listen := func(what, addr string) (net.Listener, string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w (choose another address with its flag)", what, err)
		}
		listeners = append(listeners, ln)
		return ln, "http://" + ln.Addr().String(), nil
	}
	d := &demo{errc: make(chan error, 4)}
	idpLn, idpURL, err := listen("identity provider", o.IdPAddr)
	if err != nil {
		return nil, err
	}
	echoLn, echoURL, err := listen("echo upstream", o.EchoAddr)
	if err != nil {
		return nil, err
	}
	proxyLn, proxyURL, err := listen("proxy", o.ProxyAddr)
	if err != nil {
		return nil, err
	}
	adminLn, adminURL, err := listen("admin", o.AdminAddr)
	if err != nil {
		return nil, err
	}
	d.IdPURL, d.EchoURL, d.ProxyURL, d.AdminURL = idpURL, echoURL, proxyURL, adminURL

	d.IdP, err = devidp.New(devidp.Config{Issuer: idpURL, Alg: o.Alg})
	if err != nil {
		return nil, err
	}
	level, err := host.ParseLogLevel(o.LogLevel)
	if err != nil {
		return nil, err
	}
	logw := o.Log
	if logw == nil {
		logw = os.Stderr
	}
	d.Host, err = host.New(ctx, host.Config{
		Module:       o.Module,
		PluginConfig: pluginConfigFor(raw, idpURL),
		Clusters:     map[string]string{"idp": idpURL},
		Upstream:     echoURL,
		Workers:      o.Workers,
		LogLevel:     level,
		Log:          logw,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the proxy with %s and %s: %w", o.Module, o.Config, err)
	}
	serve := func(ln net.Listener, h http.Handler) {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		d.servers = append(d.servers, srv)
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.errc <- fmt.Errorf("serving %s: %w", ln.Addr(), err)
			}
		}()
	}
	serve(idpLn, d.IdP)
	serve(echoLn, echo.Handler())
	serve(proxyLn, d.Host.Handler())
	serve(adminLn, d.Host.AdminHandler())
	return d, nil
}

// pluginConfigFor returns the plugin configuration with the example's
// identity provider URL replaced by the one actually listening.
func pluginConfigFor(raw []byte, idpURL string) []byte {
	if idpURL == exampleIdPURL {
		return raw
	}
	return bytes.ReplaceAll(raw, []byte(exampleIdPURL), []byte(idpURL))
}

// Close stops the servers (letting in-flight requests finish) and the proxy's VMs.
func (d *demo) Close(ctx context.Context) error {
	var errs []error
	for _, srv := range d.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	d.wg.Wait()
	if d.Host != nil {
		if err := d.Host.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// printGuide tells the user where everything is and what to try.
func printGuide(w io.Writer, d *demo) {
	users := d.IdP.Users()
	pass := map[string]string{}
	for _, u := range users {
		pass[u.Username] = u.Password
	}
	tokenCmd := func(user string) string {
		return fmt.Sprintf("curl -s %s/token -d grant_type=password -d client_id=demo-cli -d username=%s -d password=%s | sed -n 's/.*\"access_token\": *\"\\([^\"]*\\)\".*/\\1/p'",
			d.IdPURL, user, pass[user])
	}
	fmt.Fprintf(w, `
scopegate demo is running (Ctrl-C stops everything)

  proxy (scopegate.wasm)   %[1]s      routes: /oidc* needs scope kong_api_access, GET /health is open
  identity provider        %[2]s      discovery: %[2]s/.well-known/openid-configuration
  echo upstream            %[3]s
  admin                    %[4]s/stats

Users (password grant, client_id demo-cli):
`, d.ProxyURL, d.IdPURL, d.EchoURL, d.AdminURL)
	for _, u := range users {
		fmt.Fprintf(w, "  %-20s password %-20s groups %s\n", u.Username, u.Password, strings.Join(u.Groups, ","))
	}
	fmt.Fprintf(w, `
Try it (copy and paste):

  WITH=$(%[1]s)
  WITHOUT=$(%[2]s)

  curl -i -H "Authorization: Bearer $WITH" %[3]s/oidc/hello      # 200, echo shows x-jwt-* headers, no Authorization
  curl -i -H "Authorization: Bearer $WITHOUT" %[3]s/oidc/hello   # 403 insufficient_scope; log: required scopes were not found [kong_api_access]
  curl -i %[3]s/oidc/hello                                       # 401, no token
  curl -i %[3]s/health                                           # 200, open route
  curl -s %[4]s/stats | grep scopegate                           # counters
  curl -s -X POST %[5]s/rotate                                   # new signing key; the next token's kid triggers a JWKS refetch

Proxy logs follow on stderr.
`, tokenCmd("Blog_with_scope"), tokenCmd("Blog_without_scope"), d.ProxyURL, d.AdminURL, d.IdPURL)
}
