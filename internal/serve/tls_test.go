package serve

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/testcert"
)

func TestTLSFlags(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA("test CA")
	cert, key := testcert.WriteFiles(dir, "server", ca.Server("server"))
	caFile := ca.WriteCA(dir, "ca")
	good := []struct {
		name  string
		flags TLSFlags
		auth  tls.ClientAuthType
		tls   bool
	}{
		{"no flags serve plain HTTP", TLSFlags{}, tls.NoClientCert, false},
		{"a certificate and key serve HTTPS without client certificates", TLSFlags{CertFile: cert, KeyFile: key}, tls.NoClientCert, true},
		{"a client CA alone verifies certificates when given", TLSFlags{CertFile: cert, KeyFile: key, ClientCAFile: caFile}, tls.VerifyClientCertIfGiven, true},
		{"request asks for any certificate", TLSFlags{CertFile: cert, KeyFile: key, ClientAuth: "request"}, tls.RequestClientCert, true},
		{"require demands a verified one", TLSFlags{CertFile: cert, KeyFile: key, ClientAuth: "require", ClientCAFile: caFile}, tls.RequireAndVerifyClientCert, true},
	}
	for _, c := range good {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := c.flags.Config()
			if err != nil || (cfg != nil) != c.tls || (cfg != nil && cfg.ClientAuth != c.auth) {
				t.Fatalf("Config() = %+v, %v", cfg, err)
			}
		})
	}
	bad := []struct {
		name, flag string
		flags      TLSFlags
	}{
		{"a certificate without its key", "-tls-key", TLSFlags{CertFile: cert}},
		{"client authentication without a certificate", "-tls-client-auth", TLSFlags{ClientAuth: "request"}},
		{"verify without a CA", "-tls-client-ca", TLSFlags{CertFile: cert, KeyFile: key, ClientAuth: "verify"}},
		{"an unknown client-auth mode", "-tls-client-auth", TLSFlags{CertFile: cert, KeyFile: key, ClientAuth: "maybe"}},
		{"a CA file without certificates", "-tls-client-ca", TLSFlags{CertFile: cert, KeyFile: key, ClientCAFile: key}},
		{"a missing certificate file", "-tls-cert", TLSFlags{CertFile: dir + "/none.crt", KeyFile: key}},
	}
	for _, c := range bad {
		t.Run(c.name+" is an error naming "+c.flag, func(t *testing.T) {
			if _, err := c.flags.Config(); err == nil || !strings.Contains(err.Error(), c.flag) {
				t.Fatalf("Config() error %v, want one naming %s", err, c.flag)
			}
		})
	}
}
