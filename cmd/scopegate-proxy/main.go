// Command scopegate-proxy runs any proxy-wasm module (ABI 0.2.0/0.2.1) in a
// local HTTP reverse proxy, the way Envoy 1.33+ runs it: requests go through
// the plugin and, when it lets them through, on to the upstream. Only
// origin-form request targets (and "*" for OPTIONS) are accepted, and they
// always go to -upstream's host: anything else is answered 400.
//
//	scopegate-proxy -module dist/scopegate.wasm -config plugin.json \
//	    -upstream http://127.0.0.1:9100 -cluster idp=http://127.0.0.1:9000 \
//	    -listen 127.0.0.1:8080 -admin 127.0.0.1:9901 -workers 2 -verify-signature present
//
// -config and -upstream are required. A scopegate configuration naming a
// cluster the proxy was not given (-cluster) is refused before the module
// loads; a configuration the module rejects is explained as scopegate reads
// it: a JSON error with its line and column, an unknown field with the
// field meant.
//
// With -tls-cert and -tls-key the proxy listener serves HTTPS, and with
// -tls-client-auth / -tls-client-ca it asks for client certificates, whose
// SHA-256 the plugin reads as Envoy's connection.sha256_peer_certificate_digest.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
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

// synopsis heads the -h output.
const synopsis = `scopegate-proxy runs a proxy-wasm module (ABI 0.2.0/0.2.1) in a local HTTP
reverse proxy, the way Envoy 1.33+ runs it.

Usage:
  scopegate-proxy -config plugin.json -upstream http://127.0.0.1:9100 \
      [-module dist/scopegate.wasm] [-cluster idp=http://127.0.0.1:9000 ...] [flags]
  scopegate-proxy -check -config plugin.json [-cluster idp=http://127.0.0.1:9000 ...]`

// run parses flags, starts the host, the proxy and the admin listener, and
// serves until ctx ends; then it shuts down cleanly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.Flags("scopegate-proxy", synopsis, stderr)
	module := fs.String("module", "dist/scopegate.wasm", "proxy-wasm module (.wasm) to run")
	configPath := fs.String("config", "", "plugin configuration file (buffer 7, read in on_configure); required")
	vmConfigPath := fs.String("vm-config", "", "VM configuration file (buffer 6, read in on_vm_start)")
	upstream := fs.String("upstream", "", "upstream base URL allowed requests are forwarded to (always its host), e.g. http://127.0.0.1:9100; required")
	clusters := clusterFlags{}
	fs.Var(clusters, "cluster", "callout cluster as name=URL (repeatable)")
	listenAddr := fs.String("listen", "127.0.0.1:8080", "proxy listen address")
	admin := fs.String("admin", "127.0.0.1:9901", "admin listen address (/stats, /ready, /logs); empty disables it")
	workers := fs.Int("workers", 2, "worker VMs (one per Envoy worker thread)")
	logLevel := fs.String("log-level", "info", "trace, debug, info, warn, error or critical")
	pollOneoff := fs.String("poll-oneoff", "enosys", "WASI poll_oneoff: enosys (Envoy 1.33-1.38) or no-events (newer Envoy)")
	verifySignature := fs.String("verify-signature", "present", "what proxy_call_foreign_function answers: present (Envoy 1.30+: verify_signature checks\n"+
		"RSA PKCS#1 v1.5 and DER ECDSA signatures), absent (NotFound: an Envoy without it), unimplemented\n"+
		"(Unimplemented, as APISIX/MOSN-based hosts), trap (traps the VM, as Kong's ngx_wasm_module,\n"+
		"which also lacks Envoy's plugin_vm_id and xds.* properties)")
	pluginName := fs.String("plugin-name", "scopegate", "plugin name (Envoy's config.name) in logs and properties")
	rootID := fs.String("root-id", "", "plugin root_id (Envoy's config.root_id), in logs and properties")
	vmID := fs.String("vm-id", "", "VM vm_id (Envoy's vm_config.vm_id), in logs and properties")
	cacheDir := fs.String("cache-dir", "", "wazero compilation cache directory (default: user cache dir/scopegate/wazero)")
	var tlsFlags serve.TLSFlags
	tlsFlags.Register(fs)
	check := fs.Bool("check", false, "load the module with -config the way Envoy would (canary and workers, on_configure), report, and exit; -upstream is not needed")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	if *configPath == "" {
		return errors.New("-config is required: the plugin configuration file, e.g. -config examples/demo.json (a module that takes none: -config /dev/null)")
	}
	if *upstream == "" && !*check {
		return errors.New("-upstream is required: the base URL allowed requests are forwarded to, e.g. -upstream http://127.0.0.1:9100")
	}
	tlsConfig, err := tlsFlags.Config()
	if err != nil {
		return err
	}
	level, err := host.ParseLogLevel(*logLevel)
	if err != nil {
		return err
	}
	mode, err := host.ParsePollOneoffMode(*pollOneoff)
	if err != nil {
		return err
	}
	foreign, err := host.ParseVerifySignatureMode(*verifySignature)
	if err != nil {
		return err
	}
	cfg := host.Config{
		Module:              *module,
		PluginName:          *pluginName,
		RootID:              *rootID,
		VMID:                *vmID,
		Workers:             *workers,
		Clusters:            clusters,
		Upstream:            *upstream,
		PollOneoff:          mode,
		VerifySignature:     foreign,
		CompilationCacheDir: *cacheDir,
		LogLevel:            level,
		Log:                 stderr,
	}
	if cfg.PluginConfig, err = os.ReadFile(*configPath); err != nil {
		return fmt.Errorf("reading plugin configuration: %w", err)
	}
	// Read as scopegate's, the configuration's clusters are checked before
	// the module loads. A configuration scopegate cannot read may belong to
	// another module; if the module rejects it too, the error says where
	// scopegate's reading failed (line and column, the field meant).
	scopegateCfg, readErr := cli.ParsePluginConfig(*configPath, cfg.PluginConfig)
	if readErr == nil {
		if err := cli.CheckClusters(*configPath, scopegateCfg, slices.Sorted(maps.Keys(clusters))); err != nil {
			return err
		}
	}
	if *vmConfigPath != "" {
		if cfg.VMConfig, err = os.ReadFile(*vmConfigPath); err != nil {
			return fmt.Errorf("reading VM configuration: %w", err)
		}
	}
	h, err := host.New(ctx, cfg)
	if err != nil {
		if readErr != nil && errors.Is(err, host.ErrConfigureRejected) {
			return fmt.Errorf("%v (the module rejected the configuration: %w)", readErr, err)
		}
		return err
	}
	defer h.Close(context.Background())
	if *check {
		fmt.Fprintf(stdout, "%s: accepted by %s (%d worker VMs configured)\n", *configPath, *module, h.Workers())
		return nil
	}

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
