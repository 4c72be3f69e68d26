package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/cli/clitest"
	"github.com/scopegate/scopegate/internal/testcert"
	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// TestProxyCommand runs the CLI with the host's pass-through test guest,
// sends one allowed and one denied request, reads /stats and shuts it down.
func TestProxyCommand(t *testing.T) {
	module, err := wasmbuild.Build("./host/testdata/guests/pass", wasmbuild.Options{NoOverlay: true})
	if err != nil {
		t.Fatal(err)
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream saw x-pass="+r.Header.Get("X-Pass"))
	}))
	defer upstream.Close()
	cfgPath := filepath.Join(t.TempDir(), "plugin.json")
	os.WriteFile(cfgPath, []byte(`{"any":"config"}`), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-module", module, "-config", cfgPath, "-upstream", upstream.URL,
			"-cluster", "idp=" + upstream.URL, "-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0", "-workers", "2"}, outW, io.Discard)
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	addrs := map[string]string{}
	for len(addrs) < 2 && lines.Scan() {
		what, url, ok := strings.Cut(lines.Text(), " listening on ")
		if ok {
			addrs[what] = url
		}
	}
	go io.Copy(io.Discard, outR)
	if addrs["proxy"] == "" || addrs["admin"] == "" {
		t.Fatalf("listen lines not printed: %v (run: %v)", addrs, <-done)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(url string, hdr ...string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(addrs["proxy"] + "/ok"); code != 200 || body != "upstream saw x-pass=yes" {
		t.Errorf("allowed request: %d %q", code, body)
	}
	if code, body := get(addrs["proxy"]+"/no", "X-Deny", "1"); code != 403 || body != "denied by pass" {
		t.Errorf("denied request: %d %q", code, body)
	}
	if code, body := get(addrs["admin"] + "/stats"); code != 200 || !strings.Contains(body, "wasmcustom.pass.requests: 2") {
		t.Errorf("/stats: %d %q", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no clean shutdown")
	}
}

func TestProxyCommandRejectsBadFlags(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "plugin.json")
	os.WriteFile(cfgPath, []byte(`{}`), 0o644)
	required := []string{"-config", cfgPath, "-upstream", "http://127.0.0.1:9"}
	cases := map[string][]string{
		"a cluster without a URL":          {"-cluster", "idp"},
		"a cluster URL without scheme":     {"-cluster", "idp=127.0.0.1:9000"},
		"an unknown log level":             {"-log-level", "loud"},
		"an unknown poll mode":             {"-poll-oneoff", "maybe"},
		"an unknown verify_signature mode": {"-verify-signature", "sometimes"},
		"a missing module":                 {"-module", "/nonexistent.wasm"},
		"a TLS certificate without key":    {"-tls-cert", "/nonexistent.crt"},
		"client certificates over HTTP":    {"-tls-client-auth", "request"},
	}
	for name, args := range cases {
		t.Run(name+" is an error", func(t *testing.T) {
			if err := run(context.Background(), append(slices.Clone(required), args...), io.Discard, io.Discard); err == nil {
				t.Fatalf("run(%v) succeeded", args)
			}
		})
	}
}

// TestProxyCommandBusyAdmin: when the admin address cannot be bound after the
// proxy listener is up, run stops the proxy listener and returns the error.
func TestProxyCommandBusyAdmin(t *testing.T) {
	module, err := wasmbuild.Build("./host/testdata/guests/pass", wasmbuild.Options{NoOverlay: true})
	if err != nil {
		t.Fatal(err)
	}
	busy := httptest.NewServer(http.NotFoundHandler())
	defer busy.Close()
	var out strings.Builder
	err = run(context.Background(), []string{"-module", module, "-config", os.DevNull,
		"-upstream", "http://127.0.0.1:9", "-listen", "127.0.0.1:0",
		"-admin", strings.TrimPrefix(busy.URL, "http://")}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "admin listener") {
		t.Fatalf("run = %v, want an admin listener error", err)
	}
	_, url, ok := strings.Cut(strings.TrimSpace(out.String()), "proxy listening on ")
	if !ok {
		t.Fatalf("proxy listening line not printed: %q", out.String())
	}
	if resp, err := http.Get(url + "/"); err == nil {
		resp.Body.Close()
		t.Fatalf("proxy %s still answers after run returned", url)
	}
}

// TestProxyCommandExplainsItsStartupErrors: each mistake a newcomer makes on
// the command line is a startup error that says what is wrong and where.
func TestProxyCommandExplainsItsStartupErrors(t *testing.T) {
	scopegate, err := wasmbuild.Build("./cmd/scopegate", wasmbuild.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pass, err := wasmbuild.Build("./host/testdata/guests/pass", wasmbuild.Options{NoOverlay: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	valid := `{
  "providers": [{
    "name": "demo",
    "remote_jwks": {"cluster": "idp", "uri": "http://127.0.0.1:9000/jwks"}
  }]
}`
	good := file("good.json", valid)
	broken := file("broken.json", "{\n  \"providers\": [\n    {\"name\": \"demo\",}\n  ]\n}\n")
	misspelled := file("misspelled.json", strings.Replace(valid, `"name": "demo",`, `"name": "demo", "audience": ["api"],`, 1))
	noModule := filepath.Join(dir, "no-such-module.wasm")
	base := []string{"-upstream", "http://127.0.0.1:9", "-listen", "127.0.0.1:0", "-admin", "", "-cluster", "idp=http://127.0.0.1:9"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no -config says it is required", []string{"-upstream", "http://127.0.0.1:9"}, "-config is required"},
		{"no -upstream says it is required", []string{"-config", good}, "-upstream is required"},
		{"invalid JSON the module rejects is placed by line and column", append([]string{"-module", scopegate, "-config", broken}, base...),
			broken + ":3:21: invalid JSON: invalid character '}' looking for beginning of object key string (the module rejected the configuration"},
		{"an unknown field the module rejects comes with the field meant", append([]string{"-module", scopegate, "-config", misspelled}, base...),
			`providers[0].audience: unknown field (did you mean "audiences"?) (the module rejected the configuration`},
		{"a cluster the proxy was not given is named before the module loads", []string{"-module", noModule, "-config", good, "-upstream", "http://127.0.0.1:9", "-cluster", "keycloak=http://127.0.0.1:9"},
			`cluster "idp", which the proxy was not given (clusters: keycloak); add -cluster idp=http://host:port`},
		{"the valid twin passes the cluster check and fails only on the missing module", []string{"-module", noModule, "-config", good, "-upstream", "http://127.0.0.1:9", "-cluster", "idp=http://127.0.0.1:9"},
			"no-such-module.wasm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
	t.Run("-check loads the module with the configuration, reports and exits", func(t *testing.T) {
		var stdout strings.Builder
		if err := run(context.Background(), []string{"-check", "-module", scopegate, "-config", good, "-cluster", "idp=http://127.0.0.1:9"}, &stdout, io.Discard); err != nil {
			t.Fatalf("run -check = %v", err)
		}
		if !strings.Contains(stdout.String(), good+": accepted by "+scopegate) {
			t.Errorf("stdout %q", stdout.String())
		}
		if err := run(context.Background(), []string{"-check", "-module", scopegate, "-config", misspelled, "-cluster", "idp=http://127.0.0.1:9"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "did you mean") {
			t.Errorf("run -check with a misspelled field = %v", err)
		}
	})
	t.Run("another module's configuration is that module's business", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // start, then stop at once: reaching the listeners is the point
		err := run(ctx, append([]string{"-module", pass, "-config", misspelled}, base...), io.Discard, io.Discard)
		if err != nil {
			t.Fatalf("run with the pass guest = %v; its on_configure accepts any configuration", err)
		}
	})
}

func TestProxyCommandHelpAndVersion(t *testing.T) {
	clitest.HelpAndVersion(t, "scopegate-proxy", "upstream", func(args []string, stdout, stderr io.Writer) error {
		return run(context.Background(), args, stdout, stderr)
	})
}

func TestProxyCommandRefusesAnUpstreamThatIsNotAnHTTPURL(t *testing.T) {
	config := filepath.Join(t.TempDir(), "plugin.json")
	if err := os.WriteFile(config, []byte(`{"providers": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-module", "unused.wasm", "-config", config, "-upstream", "127.0.0.1:9000", "-listen", "127.0.0.1:0", "-admin", ""}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `upstream "127.0.0.1:9000"`) {
		t.Fatalf("run = %v, want an error naming the upstream", err)
	}
}

// TestProxyCommandTLSClientCertificates serves the proxy over HTTPS asking
// for client certificates: the plugin reads the presented one's digest as
// Envoy's connection.sha256_peer_certificate_digest, and with
// -tls-client-auth require a client without one cannot connect.
func TestProxyCommandTLSClientCertificates(t *testing.T) {
	module, err := wasmbuild.Build("./host/testdata/guests/pass", wasmbuild.Options{NoOverlay: true})
	if err != nil {
		t.Fatal(err)
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Seen-Peer-Cert"))
	}))
	defer upstream.Close()
	dir := t.TempDir()
	ca := testcert.NewCA("test CA")
	certFile, keyFile := testcert.WriteFiles(dir, "proxy", ca.Server("proxy"))
	caFile := ca.WriteCA(dir, "ca")
	client := ca.Client("client")
	digest := testcert.SHA256(client)

	for _, mode := range []string{"verify", "require"} {
		t.Run("-tls-client-auth "+mode, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			outR, outW := io.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"-module", module, "-config", os.DevNull, "-upstream", upstream.URL, "-listen", "127.0.0.1:0", "-admin", "",
					"-tls-cert", certFile, "-tls-key", keyFile, "-tls-client-ca", caFile, "-tls-client-auth", mode}, outW, io.Discard)
				outW.Close()
			}()
			lines := bufio.NewScanner(outR)
			url := ""
			for url == "" && lines.Scan() {
				_, url, _ = strings.Cut(lines.Text(), "proxy listening on ")
			}
			go io.Copy(io.Discard, outR)
			if !strings.HasPrefix(url, "https://") {
				t.Fatalf("listen line %q (run: %v)", url, <-done)
			}
			get := func(certs ...tls.Certificate) (string, error) {
				c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: certs}}}
				resp, err := c.Get(url + "/")
				if err != nil {
					return "", err
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return string(b), nil
			}
			if got, err := get(client); err != nil || got != hex.EncodeToString(digest[:])+" 0" {
				t.Errorf("with the client certificate the plugin saw %q (%v)", got, err)
			}
			got, err := get()
			switch {
			case mode == "verify" && (err != nil || got != "1"):
				t.Errorf("without a client certificate the plugin saw %q (%v), want NOT_FOUND", got, err)
			case mode == "require" && err == nil:
				t.Errorf("a client without a certificate got through: %q", got)
			}
			// A certificate from another CA is never presented to the plugin.
			stranger := testcert.NewCA("other CA").Client("stranger")
			if got, err := get(stranger); err == nil && got != "1" {
				t.Errorf("the plugin saw a certificate from another CA: %q", got)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}
