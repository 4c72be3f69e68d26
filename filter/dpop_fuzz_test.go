package filter

import (
	"strings"
	"testing"
)

// FuzzNormalizeHTU checks that htu normalisation never panics, is
// idempotent, and never lets a query, fragment or userinfo through.
func FuzzNormalizeHTU(f *testing.F) {
	for _, s := range []string{"https://api.example.com/a", "HTTP://H:80/%7e/./../x?q#f", "http://[::1]:8443/", "http://u@h/", "http://h/%zz", "x://y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := normalizeHTU(s)
		if !ok {
			return
		}
		again, ok := normalizeHTU(n)
		if !ok || again != n {
			t.Fatalf("normalizeHTU(%q) = %q, then %q, %v", s, n, again, ok)
		}
		rest := n[strings.Index(n, "://")+3:]
		if strings.ContainsAny(n, "?#") || strings.ContainsAny(hostOf(n), "@/") || !strings.HasPrefix(rest[len(hostOf(n)):], "/") {
			t.Fatalf("normalizeHTU(%q) = %q", s, n)
		}
		if scheme := n[:strings.Index(n, "://")]; scheme != strings.ToLower(scheme) {
			t.Fatalf("scheme of %q not lower-cased", n)
		}
	})
}

// FuzzHeaderCertDigest checks that reading a certificate hash from a
// client_cert_header value never panics and yields a digest or nothing.
func FuzzHeaderCertDigest(f *testing.F) {
	for _, s := range []string{
		`By=spiffe://a;Hash=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef;Subject="CN=a,O=b"`,
		`Hash=00,Hash="` + strings.Repeat("A", 64) + `"`, `"unterminated;Hash=`, strings.Repeat("f", 64), `\"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d := headerCertDigest(s); d != nil && len(d) != 32 {
			t.Fatalf("digest of %d bytes", len(d))
		}
	})
}
