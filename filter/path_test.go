package filter

import (
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func TestNormalisePathResolvesWhatAnUpstreamWouldResolve(t *testing.T) {
	cases := []struct {
		in, keep, split string
	}{
		{"/admin", "/admin", "/admin"},
		{"/", "/", "/"},
		{"", "/", "/"},
		{"/api/", "/api/", "/api/"},
		{"/health/../admin", "/admin", "/admin"},
		{"/health/./../admin", "/admin", "/admin"},
		{"//admin", "/admin", "/admin"},
		{"/health//..//admin", "/admin", "/admin"},
		{"/../../admin", "/admin", "/admin"},
		{"/%68ealth/%2e%2e/admin", "/admin", "/admin"},
		{"/%2E%2E/admin", "/admin", "/admin"},
		{"/a/b/..", "/a/", "/a/"},
		{"/a/b/.", "/a/b/", "/a/b/"},
		{"/files/a%2Fb", "/files/a%2Fb", "/files/a/b"},
		{"/health%2F..%2Fadmin", "/health%2F..%2Fadmin", "/admin"},
		{`/health\..\admin`, `/health\..\admin`, "/admin"},
		{"/bad%zz/x", "/bad%zz/x", "/bad%zz/x"},
		{"/trailing%", "/trailing%", "/trailing%"},
		{"/space%20x", "/space%20x", "/space%20x"},
		{"/health/..;/admin", "/admin", "/admin"},
		{"/health/..;jsessionid=1/admin", "/admin", "/admin"},
		{"/items;v=2/7", "/items;v=2/7", "/items;v=2/7"},
	}
	for _, tc := range cases {
		t.Run(tc.in+" matches as "+tc.keep, func(t *testing.T) {
			if got := normalisePath(tc.in, false); got != tc.keep {
				t.Errorf("normalisePath(%q) = %q, want %q", tc.in, got, tc.keep)
			}
			if got := normalisePath(tc.in, true); got != tc.split {
				t.Errorf("normalisePath(%q, split) = %q, want %q", tc.in, got, tc.split)
			}
		})
	}
}

func TestPlainPathsAreMatchedAsTheyAre(t *testing.T) {
	for _, p := range []string{"/", "/oidc/orders", "/a.b/c", "/x-y_z~1", "/v1/items/42"} {
		if needsNormalising(p) {
			t.Errorf("needsNormalising(%q) = true, want the fast path", p)
		}
	}
	for _, p := range []string{"//a", "/a/./b", "/a/../b", "/%61", `/a\b`, "/a/.hidden", "/a;b"} {
		if !needsNormalising(p) {
			t.Errorf("needsNormalising(%q) = false, want normalisation", p)
		}
	}
}

func TestDotSegmentsCannotBorrowAnAllowRule(t *testing.T) {
	h := startFilter(t, localConfig("", `"rules":[
	  {"match":{"prefix":"/health"},"requires":{"allow":true}},
	  {"match":{"prefix":"/files"},"requires":{"allow":true}},
	  {"match":{"prefix":"/admin"},"requires":{"scopes":["admin"]}}]`))
	for _, path := range []string{
		"/health/../admin", "/health/..//admin", "//health/../admin/x", "/health/%2e%2e/admin",
		"/%68ealth/%2E%2E/admin?x=1", "/health/..;/admin",
	} {
		t.Run(path+" is judged as /admin: 401 without a token", func(t *testing.T) {
			if r := h.do("GET", path); r.status() != 401 {
				t.Fatalf("status %d, want 401", r.status())
			}
		})
	}
	t.Run("the plain /health route stays open", func(t *testing.T) {
		if r := h.do("GET", "/health/live"); r.action != types.ActionContinue || r.local != nil {
			t.Fatalf("status %d action %v, want continue", r.status(), r.action)
		}
	})
	t.Run("a dot segment that stays inside /health stays open", func(t *testing.T) {
		if r := h.do("GET", "/health/x/../live"); r.action != types.ActionContinue {
			t.Fatalf("status %d, want continue", r.status())
		}
	})
	t.Run("an encoded slash that would leave /health is 400 invalid_request", func(t *testing.T) {
		r := h.do("GET", "/health%2F..%2Fadmin")
		if r.status() != 400 || r.header("www-authenticate") != `Bearer error="invalid_request"` {
			t.Fatalf("status %d www-authenticate %q", r.status(), r.header("www-authenticate"))
		}
	})
	t.Run("a backslash that would leave /health is 400", func(t *testing.T) {
		if r := h.do("GET", `/health\..\admin`); r.status() != 400 {
			t.Fatalf("status %d, want 400", r.status())
		}
	})
	t.Run("an encoded slash that selects the same rule either way passes", func(t *testing.T) {
		if r := h.do("GET", "/files/a%2Fb.txt"); r.action != types.ActionContinue {
			t.Fatalf("status %d, want continue", r.status())
		}
	})
}

func FuzzNormalisePath(f *testing.F) {
	for _, s := range []string{"/a/../b", "//x//y/", "/%2e%2E/%2f", `/a\..\b`, "/%", "/%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		for _, split := range []bool{false, true} {
			n := normalisePath(p, split)
			if n == "" || n[0] != '/' {
				t.Fatalf("normalisePath(%q, %v) = %q: not absolute", p, split, n)
			}
			if strings.Contains(n, "//") || strings.Contains(n, "/./") || strings.Contains(n, "/../") ||
				strings.HasSuffix(n, "/.") || strings.HasSuffix(n, "/..") {
				t.Fatalf("normalisePath(%q, %v) = %q: still has empty or dot segments", p, split, n)
			}
			// Not idempotent by design: like Envoy's normalize_path it decodes
			// once ("%%370" -> "/%70"), as an upstream decoding once would.
		}
	})
}
