package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/cli/clitest"
	"github.com/scopegate/scopegate/internal/testcert"
)

// startCommand runs the command with args until stop, which cancels it and
// returns run's result; it returns the first line printed and the URL it
// says it listens on.
func startCommand(t *testing.T, args ...string) (line, url string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, io.Discard, outW)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v (run: %v)", err, <-done)
	}
	go io.Copy(io.Discard, outR)
	_, rest, _ := strings.Cut(line, "listening on ")
	url, _, _ = strings.Cut(rest, ",")
	return line, url, func() error { cancel(); return <-done }
}

func TestDevIdPCommand(t *testing.T) {
	t.Run("its discovery names the issuer it printed, and it stops cleanly", func(t *testing.T) {
		line, url, stop := startCommand(t, "-addr", "127.0.0.1:0", "-alg", "ES256")
		if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.Contains(line, "signing ES256") {
			t.Fatalf("listening line %q", line)
		}
		resp, err := http.Get(url + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Issuer string `json:"issuer"`
		}
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil || doc.Issuer != url {
			t.Fatalf("discovery issuer %q (%v), want %q", doc.Issuer, err, url)
		}
		if err := stop(); err != nil {
			t.Fatalf("run = %v, want nil after a clean shutdown", err)
		}
	})
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"a stray argument is an error", []string{"extra"}, "unexpected arguments"},
		{"an unknown algorithm is an error naming it", []string{"-addr", "127.0.0.1:0", "-alg", "HS1"}, `"HS1"`},
		{"a non-positive token lifetime is an error", []string{"-ttl", "0s"}, "-ttl"},
		{"an unknown flag is an error", []string{"-nope"}, "nope"},
		{"a TLS key without its certificate is an error", []string{"-tls-key", "k.pem"}, "-tls-cert"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			err := run(context.Background(), c.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run(%q) = %v, want an error containing %s", c.args, err, c.want)
			}
		})
	}
}

func TestDevIdPHelpAndVersion(t *testing.T) {
	clitest.HelpAndVersion(t, "devidp", "alg", func(args []string, stdout, stderr io.Writer) error {
		return run(context.Background(), args, stdout, stderr)
	})
}

// Over TLS asking for client certificates, the command issues tokens bound
// to the certificate the token request was made with.
func TestDevIdPCommandOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA("test CA")
	certFile, keyFile := testcert.WriteFiles(dir, "idp", ca.Server("idp"))
	line, base, stop := startCommand(t, "-addr", "127.0.0.1:0", "-tls-cert", certFile, "-tls-key", keyFile, "-tls-client-auth", "request")
	if !strings.HasPrefix(base, "https://") || !strings.Contains(line, "issuer "+base) {
		t.Fatalf("listening line %q", line)
	}
	cert := ca.Client("service")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{cert}}}}
	resp, err := client.PostForm(base+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"demo-service"}, "client_secret": {"demo-service-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	parts := strings.Split(tr.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("status %d, token %q", resp.StatusCode, tr.AccessToken)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	sum := testcert.SHA256(cert)
	if want := `"x5t#S256":"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`; !strings.Contains(string(payload), want) {
		t.Fatalf("payload %s lacks %s", payload, want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
