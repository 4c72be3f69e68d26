// Command dpop makes DPoP proofs (RFC 9449) for curl and scripts: one proof
// per call, for one request, signed with a key kept in a PEM file (created
// on first use). It is a development tool, like devidp.
//
//	PROOF=$(go run ./cmd/dpop -key dpop.pem -method POST -url http://127.0.0.1:9000/token)
//	curl -H "DPoP: $PROOF" -d grant_type=password ... http://127.0.0.1:9000/token
//	curl -H "Authorization: DPoP $TOKEN" \
//	     -H "DPoP: $(go run ./cmd/dpop -key dpop.pem -url http://127.0.0.1:8080/oidc/hello -token $TOKEN)" \
//	     http://127.0.0.1:8080/oidc/hello
//
// -thumbprint prints the key's RFC 7638 thumbprint instead: the cnf.jkt of
// the tokens bound to it.
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/scopegate/scopegate/internal/cli"
	"github.com/scopegate/scopegate/internal/testjwt"
)

func main() {
	cli.Main("dpop", func(ctx context.Context, args []string) error { return run(ctx, args, os.Stdout, os.Stderr) })
}

// keyAlgs are the algorithms a new key can be made for.
var keyAlgs = []string{"ES256", "ES384", "ES512", "EdDSA", "RS256", "PS256"}

// run parses the flags and prints one proof (or the key's thumbprint).
func run(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.Flags("dpop", "dpop makes one DPoP proof (RFC 9449) for one request, signed with the key in\n-key (created when missing), or prints the key's thumbprint.\n\nUsage:\n  dpop [-key dpop-key.pem] -url https://host/path [-method GET] [-token TOKEN] [-nonce NONCE]\n  dpop [-key dpop-key.pem] -thumbprint", stderr)
	keyFile := fs.String("key", "dpop-key.pem", "private key (PKCS#8 PEM); created when missing")
	alg := fs.String("alg", "", "proof algorithm: ES256 (default for a new key), ES384, ES512, EdDSA, RS256 or PS256; must fit the key")
	method := fs.String("method", "GET", "htm: the HTTP method of the request the proof is for")
	target := fs.String("url", "", "htu: the URL of the request the proof is for (query and fragment are ignored by servers)")
	token := fs.String("token", "", "the access token the request carries (sets ath); empty for a token request")
	nonce := fs.String("nonce", "", "the server's nonce (from a DPoP-Nonce header)")
	thumbprint := fs.Bool("thumbprint", false, "print the key's JWK SHA-256 thumbprint (cnf.jkt) instead of a proof")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return err
	}
	if !*thumbprint {
		u, err := url.Parse(*target)
		if *target == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-url %q: want an absolute http or https URL", *target)
		}
		if *method == "" {
			return errors.New("-method must not be empty")
		}
	}
	key, created, err := loadOrCreate(*keyFile, *alg)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stderr, "dpop: created a new %s key in %s (thumbprint %s)\n", key.Alg, *keyFile, key.Thumbprint())
	}
	if *thumbprint {
		fmt.Fprintln(stdout, key.Thumbprint())
		return nil
	}
	fmt.Fprintln(stdout, key.DPoPProof(*method, *target, *token, *nonce, time.Now()))
	return nil
}

// loadOrCreate reads the key file, or creates it for alg (default ES256)
// when it does not exist.
func loadOrCreate(path, alg string) (*testjwt.Key, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if alg == "" {
			alg = "ES256"
		}
		if !slices.Contains(keyAlgs, alg) {
			return nil, false, fmt.Errorf("-alg %q: want one of %v", alg, keyAlgs)
		}
		k := testjwt.NewKey(alg, "")
		der, err := x509.MarshalPKCS8PrivateKey(k.Signer)
		if err != nil {
			return nil, false, err
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, false, fmt.Errorf("-key: %w", err)
		}
		return k, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("-key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, false, fmt.Errorf("-key %s: not a PKCS#8 PEM private key", path)
	}
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, false, fmt.Errorf("-key %s: %w", path, err)
	}
	keyAlg, err := algFor(priv.(crypto.Signer), alg)
	if err != nil {
		return nil, false, fmt.Errorf("-key %s: %w", path, err)
	}
	return &testjwt.Key{Alg: keyAlg, Signer: priv.(crypto.Signer)}, false, nil
}

// algFor picks the proof algorithm for a key: its curve's for EC and
// Ed25519, RS256 (or PS256 when asked) for RSA. An -alg the key cannot
// make is an error.
func algFor(k crypto.Signer, want string) (string, error) {
	var fits []string
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		fits = []string{map[int]string{256: "ES256", 384: "ES384", 521: "ES512"}[k.Curve.Params().BitSize]}
	case ed25519.PrivateKey:
		fits = []string{"EdDSA"}
	case *rsa.PrivateKey:
		fits = []string{"RS256", "PS256"}
	}
	if len(fits) == 0 || fits[0] == "" {
		return "", errors.New("unsupported key type")
	}
	if want == "" {
		return fits[0], nil
	}
	if !slices.Contains(fits, want) {
		return "", fmt.Errorf("-alg %s does not fit this key (it makes %v)", want, fits)
	}
	return want, nil
}
