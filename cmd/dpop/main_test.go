package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/cli/clitest"
	"github.com/scopegate/scopegate/jwt"
)

// runOut runs the command and returns its stdout, trimmed.
func runOut(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), args, &out, io.Discard)
	return strings.TrimSpace(out.String()), err
}

func TestDPoPCommand(t *testing.T) {
	dir := t.TempDir()
	all := jwt.AlgSet(0)
	for _, a := range []jwt.Alg{jwt.ES256, jwt.ES384, jwt.ES512, jwt.EdDSA, jwt.RS256, jwt.PS256} {
		all = all.With(a)
	}
	for _, c := range []struct{ alg, again string }{{"", "ES256"}, {"ES384", "ES384"}, {"EdDSA", "EdDSA"}, {"RS256", "PS256"}} {
		name := c.alg
		if name == "" {
			name = "the default"
		}
		t.Run("with "+name+" key, it makes proofs the filter's parser accepts, bound to the key's thumbprint", func(t *testing.T) {
			key := filepath.Join(dir, "key-"+c.alg+".pem")
			args := []string{"-key", key, "-method", "POST", "-url", "https://api.example.com/orders", "-token", "tok", "-nonce", "n1"}
			if c.alg != "" {
				args = append(args, "-alg", c.alg)
			}
			first, err := runOut(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			// The second call reuses the key file, with the algorithm asked for.
			second, err := runOut(t, "-key", key, "-alg", c.again, "-method", "POST", "-url", "https://api.example.com/orders", "-token", "tok")
			if err != nil {
				t.Fatal(err)
			}
			jkt, err := runOut(t, "-key", key, "-thumbprint")
			if err != nil {
				t.Fatal(err)
			}
			for i, raw := range []string{first, second} {
				p, err := jwt.ParseProof(raw, all, 0)
				if err != nil {
					t.Fatalf("proof %d: %v", i, err)
				}
				if p.Thumbprint != jkt || p.HTM != "POST" || p.HTU != "https://api.example.com/orders" || !p.BindsAccessToken("tok") ||
					time.Since(time.Unix(int64(p.IAT), 0)) > time.Minute {
					t.Fatalf("proof %d: %+v (thumbprint %s)", i, p, jkt)
				}
				if (i == 0) != (p.HasNonce && p.Nonce == "n1") {
					t.Errorf("proof %d nonce %q", i, p.Nonce)
				}
				if i == 1 && p.Alg.String() != c.again {
					t.Errorf("second proof alg %v, want %s", p.Alg, c.again)
				}
			}
			if first == second {
				t.Error("two proofs are the same (jti must differ)")
			}
		})
	}
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"no -url", []string{"-key", filepath.Join(dir, "k.pem")}, "-url"},
		{"a relative -url", []string{"-key", filepath.Join(dir, "k.pem"), "-url", "/orders"}, "-url"},
		{"an -alg a new key cannot have", []string{"-key", filepath.Join(dir, "new.pem"), "-alg", "HS256", "-url", "http://a/"}, "-alg"},
		{"an -alg the key cannot make", []string{"-key", filepath.Join(dir, "key-ES384.pem"), "-alg", "ES256", "-url", "http://a/"}, "-alg ES256"},
		{"a key file that is not PEM", []string{"-key", "main.go", "-url", "http://a/"}, "PKCS#8"},
		{"a stray argument", []string{"-url", "http://a/", "extra"}, "unexpected arguments"},
	}
	for _, c := range bad {
		t.Run(c.name+" is an error naming "+c.want, func(t *testing.T) {
			if _, err := runOut(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run(%q) = %v", c.args, err)
			}
		})
	}
}

func TestDPoPHelpAndVersion(t *testing.T) {
	clitest.HelpAndVersion(t, "dpop", "token", func(args []string, stdout, stderr io.Writer) error {
		return run(context.Background(), args, stdout, stderr)
	})
}
