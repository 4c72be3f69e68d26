package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	cases := map[string][]string{
		"a cluster without a URL":          {"-cluster", "idp"},
		"a cluster URL without scheme":     {"-cluster", "idp=127.0.0.1:9000"},
		"an unknown log level":             {"-log-level", "loud"},
		"an unknown poll mode":             {"-poll-oneoff", "maybe"},
		"an unknown verify_signature mode": {"-verify-signature", "sometimes"},
		"a missing module":                 {"-module", "/nonexistent.wasm"},
	}
	for name, args := range cases {
		t.Run(name+" is an error", func(t *testing.T) {
			if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
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
	err = run(context.Background(), []string{"-module", module, "-listen", "127.0.0.1:0",
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
