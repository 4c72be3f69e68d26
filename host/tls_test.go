package host

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/scopegate/scopegate/internal/testcert"
)

// The peer certificate property is Envoy's: the lower-case hex SHA-256 of
// the client certificate's DER, NOT_FOUND without one.
func TestPeerCertificateDigestProperty(t *testing.T) {
	h := newTestHost(t, "pass", nil)
	der := []byte("a client certificate")
	sum := sha256.Sum256(der)
	for _, c := range []struct {
		name string
		cert []byte
		want string
	}{
		{"a request with a client certificate sees its digest", der, hex.EncodeToString(sum[:]) + " 0"},
		{"a request without one gets NOT_FOUND", nil, " 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := h.Do(context.Background(), Request{Path: "/", ClientCertificate: c.cert})
			if err != nil {
				t.Fatal(err)
			}
			if got := header(d.Headers, "x-seen-peer-cert"); got != c.want {
				t.Fatalf("connection.sha256_peer_certificate_digest = %q, want %q", got, c.want)
			}
		})
	}
}

// Through the HTTP front end on a TLS listener that asks for client
// certificates, the filter sees the certificate the client presented.
func TestHandlerPassesTheTLSClientCertificate(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("x-seen-peer-cert"))
	}))
	defer up.Close()
	h := newTestHost(t, "pass", func(c *Config) { c.Upstream = up.URL })
	srv := httptest.NewUnstartedServer(h.Handler())
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()
	client := testcert.NewCA("test CA").Client("client")
	sum := testcert.SHA256(client)
	for _, c := range []struct {
		name  string
		certs []tls.Certificate
		want  string
	}{
		{"with a client certificate", []tls.Certificate{client}, hex.EncodeToString(sum[:]) + " 0"},
		{"without one", nil, "1"}, // NOT_FOUND (HTTP drops the value's leading space)
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := srv.Client().Transport.(*http.Transport).Clone()
			tr.TLSClientConfig.Certificates = c.certs
			resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := string(body); got != c.want {
				t.Fatalf("the filter saw %q, want %q", got, c.want)
			}
		})
	}
}
