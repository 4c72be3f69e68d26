package serve

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
)

// TLSFlags are the TLS settings of a serving command's listener, as its
// -tls-* flags give them.
type TLSFlags struct {
	CertFile, KeyFile string // server certificate and key (PEM); both or neither
	// ClientAuth is how client certificates are asked for: "none", "request"
	// (any certificate, not verified: RFC 8705 §2.2 self-signed binding),
	// "verify" (verified against ClientCAFile when presented) or "require"
	// (verified and mandatory).
	ClientAuth   string
	ClientCAFile string // PEM bundle of the CAs client certificates must chain to
}

// Register defines the -tls-cert, -tls-key, -tls-client-auth and
// -tls-client-ca flags on fs, filling f.
func (f *TLSFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.CertFile, "tls-cert", "", "serve HTTPS with this certificate (PEM; with -tls-key)")
	fs.StringVar(&f.KeyFile, "tls-key", "", "private key of -tls-cert (PEM)")
	fs.StringVar(&f.ClientAuth, "tls-client-auth", "", "client certificates: none, request (any, unverified), verify (against -tls-client-ca when given) or require (default: verify with -tls-client-ca, else none)")
	fs.StringVar(&f.ClientCAFile, "tls-client-ca", "", "CA certificates (PEM) client certificates are verified against")
}

// Config returns the listener's TLS configuration, or nil when no
// certificate is set (plain HTTP). Inconsistent settings are errors naming
// the flag.
func (f TLSFlags) Config() (*tls.Config, error) {
	if f.CertFile == "" && f.KeyFile == "" {
		if f.ClientCAFile != "" || (f.ClientAuth != "" && f.ClientAuth != "none") {
			return nil, errors.New("-tls-client-auth and -tls-client-ca need -tls-cert and -tls-key")
		}
		return nil, nil
	}
	if f.CertFile == "" || f.KeyFile == "" {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if f.ClientCAFile != "" {
		pem, err := os.ReadFile(f.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("-tls-client-ca: %w", err)
		}
		cfg.ClientCAs = x509.NewCertPool()
		if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-tls-client-ca: %s holds no PEM certificate", f.ClientCAFile)
		}
	}
	switch f.ClientAuth {
	case "", "none":
		if f.ClientCAFile != "" {
			cfg.ClientAuth = tls.VerifyClientCertIfGiven
		}
	case "request":
		cfg.ClientAuth = tls.RequestClientCert
	case "verify", "require":
		if f.ClientCAFile == "" {
			return nil, fmt.Errorf("-tls-client-auth %s needs -tls-client-ca", f.ClientAuth)
		}
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if f.ClientAuth == "require" {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	default:
		return nil, fmt.Errorf("-tls-client-auth %q: want none, request, verify or require", f.ClientAuth)
	}
	return cfg, nil
}
