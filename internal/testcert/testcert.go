// Package testcert makes X.509 certificates for tests and the demo: a CA,
// and server and client certificates it issues, in memory or as PEM files
// for commands that take -tls-* flags. Like testjwt it panics on errors,
// which cannot happen with the fixed, valid templates it uses.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority that issues test certificates.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a self-signed CA valid for a day.
func NewCA(name string) *CA {
	key := newKey()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	return &CA{Cert: create(tmpl, tmpl, key, key), key: key}
}

// Pool is a cert pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// PEM is the CA certificate in PEM.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Server issues a server certificate for localhost and 127.0.0.1.
func (ca *CA) Server(name string) tls.Certificate { return ca.issue(name, x509.ExtKeyUsageServerAuth) }

// Client issues a client certificate.
func (ca *CA) Client(name string) tls.Certificate { return ca.issue(name, x509.ExtKeyUsageClientAuth) }

func (ca *CA) issue(name string, usage x509.ExtKeyUsage) tls.Certificate {
	key := newKey()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	cert := create(tmpl, ca.Cert, key, ca.key)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// SHA256 is the SHA-256 of a certificate's DER: what cnf.x5t#S256 (RFC
// 8705 §3.1) names, base64url-encoded.
func SHA256(c tls.Certificate) [32]byte { return sha256.Sum256(c.Certificate[0]) }

// WriteFiles writes the certificate and its key as PEM files named
// <name>.crt and <name>.key in dir and returns their paths.
func WriteFiles(dir, name string, c tls.Certificate) (certFile, keyFile string) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		panic("testcert: " + err.Error())
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	write(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}))
	write(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return certFile, keyFile
}

// WriteCA writes the CA certificate as <name>.crt in dir and returns its path.
func (ca *CA) WriteCA(dir, name string) string {
	path := filepath.Join(dir, name+".crt")
	write(path, ca.PEM())
	return path
}

func write(path string, data []byte) {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		panic("testcert: " + err.Error())
	}
}

func newKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("testcert: " + err.Error())
	}
	return k
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic("testcert: " + err.Error())
	}
	return n
}

func create(tmpl, parent *x509.Certificate, key, signer *ecdsa.PrivateKey) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		panic("testcert: " + err.Error())
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic("testcert: " + err.Error())
	}
	return cert
}
