// Command scopegate-proxy runs any proxy-wasm module (ABI 0.2.0/0.2.1) in a
// local HTTP reverse proxy, the way Envoy 1.33+ runs it: requests go through
// the plugin and, when it lets them through, on to the upstream.
//
//	scopegate-proxy -module dist/scopegate.wasm -config plugin.json \
//	    -upstream http://127.0.0.1:9000 -cluster idp=http://127.0.0.1:9001 \
//	    -listen 127.0.0.1:8080 -admin 127.0.0.1:9901 -workers 2
//
// With -tls-cert and -tls-key the proxy listener serves HTTPS, and with
// -tls-client-auth / -tls-client-ca it asks for client certificates, whose
// SHA-256 the plugin reads as Envoy's connection.sha256_peer_certificate_digest.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/cli"
	"github.com/scopegate/scopegate/internal/serve"
)

func main() {
	cli.Main("scopegate-proxy", func(ctx context.Context, args []string) error { return run(ctx, args, os.Stdout, os.Stderr) })
}

// clusterFlags collects repeatable -cluster name=URL flags.
type clusterFlags map[string]string

func (c clusterFlags) String() string {
	parts := make([]string, 0, len(c))
	for k, v := range c {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (c clusterFlags) Set(s string) error {
	name, url, ok := strings.Cut(s, "=")
	if !ok || name == "" || url == "" {
		return fmt.Errorf("want name=URL, got %q", s)
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return fmt.Errorf("cluster %s: URL %q must start with http:// or https://", name, url)
	}
	c[name] = url
	return nil
}

// run parses flags, starts the host, the proxy and the admin listener, and
// serves until ctx ends; then it shuts down cleanly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scopegate-proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	module := fs.String("module", "dist/scopegate.wasm", "proxy-wasm module (.wasm) to run")
	configPath := fs.String("config", "", "plugin configuration file (buffer 7, read in on_configure)")
	vmConfigPath := fs.String("vm-config", "", "VM configuration file (buffer 6, read in on_vm_start)")
	upstream := fs.String("upstream", "", "upstream base URL requests are forwarded to, e.g. http://127.0.0.1:9000")
	clusters := clusterFlags{}
	fs.Var(clusters, "cluster", "callout cluster as name=URL (repeatable)")
	listenAddr := fs.String("listen", "127.0.0.1:8080", "proxy listen address")
	admin := fs.String("admin", "127.0.0.1:9901", "admin listen address (/stats, /ready, /logs); empty disables it")
	workers := fs.Int("workers", 2, "worker VMs (one per Envoy worker thread)")
	logLevel := fs.String("log-level", "info", "trace, debug, info, warn, error or critical")
	pollOneoff := fs.String("poll-oneoff", "enosys", "WASI poll_oneoff: enosys (Envoy 1.33-1.38) or no-events (newer Envoy)")
	pluginName := fs.String("plugin-name", "scopegate", "plugin name in logs and properties")
	cacheDir := fs.String("cache-dir", "", "wazero compilation cache directory (default: user cache dir/scopegate/wazero)")
	var tlsFlags serve.TLSFlags
	tlsFlags.Register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	tlsConfig, err := tlsFlags.Config()
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	level, err := host.ParseLogLevel(*logLevel)
	if err != nil {
		return err
	}
	mode, err := host.ParsePollOneoffMode(*pollOneoff)
	if err != nil {
		return err
	}
	cfg := host.Config{
		Module:              *module,
		PluginName:          *pluginName,
		Workers:             *workers,
		Clusters:            clusters,
		Upstream:            *upstream,
		PollOneoff:          mode,
		CompilationCacheDir: *cacheDir,
		LogLevel:            level,
		Log:                 stderr,
	}
	if *configPath != "" {
		if cfg.PluginConfig, err = os.ReadFile(*configPath); err != nil {
			return fmt.Errorf("reading plugin configuration: %w", err)
		}
	}
	if *vmConfigPath != "" {
		if cfg.VMConfig, err = os.ReadFile(*vmConfigPath); err != nil {
			return fmt.Errorf("reading VM configuration: %w", err)
		}
	}
	h, err := host.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer h.Close(context.Background())

	// Each listener is served by serve.Until on a context that also ends
	// when the other one fails, so one broken listener stops the proxy.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	errs := make(chan error, 2)
	running := 0
	listen := func(what, addr string, handler http.Handler, tlsConfig *tls.Config) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s listener: %w", what, err)
		}
		scheme := "http"
		if tlsConfig != nil {
			ln, scheme = tls.NewListener(ln, tlsConfig), "https"
		}
		fmt.Fprintf(stdout, "%s listening on %s://%s\n", what, scheme, ln.Addr())
		running++
		go func() {
			err := serve.Until(ctx, &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}, ln)
			stop()
			if err != nil {
				err = fmt.Errorf("%s: %w", what, err)
			}
			errs <- err
		}()
		return nil
	}
	err = listen("proxy", *listenAddr, h.Handler(), tlsConfig)
	if err == nil && *admin != "" {
		err = listen("admin", *admin, h.AdminHandler(), nil)
	}
	if err != nil {
		stop()
	}
	for ; running > 0; running-- {
		err = errors.Join(err, <-errs)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "shut down")
	return nil
}
