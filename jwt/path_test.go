package jwt

import (
	"reflect"
	"testing"
)

const pathPayload = `{
 "sub": "alice",
 "scope": "openid  orders:read orders:write",
 "scp": ["a", "b"],
 "bad_scp": ["a", 1],
 "realm_access": {"roles": ["admin", "user"], "level": 3},
 "https://example.com/roles": ["editor"],
 "a\\b": "backslash",
 "a.b": {"c": "dotted"},
 "a": {"b": {"c": "nested"}},
 "tier": 2.0,
 "beta": true,
 "nothing": null,
 "esc\u0061ped": "yes",
 "line": "x\ny",
 "obj": {"k": [1, "two", {"x": null}]}
}`

func TestCheckClaimPath(t *testing.T) {
	for _, ok := range []string{"sub", "realm_access.roles", `https://example\.com/roles`, `a\\b`, `a\.b.c`} {
		if err := CheckClaimPath(ok); err != nil {
			t.Errorf("CheckClaimPath(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"", ".a", "a.", "a..b", `a\`, `a\b`, `\x`} {
		if err := CheckClaimPath(bad); err == nil {
			t.Errorf("CheckClaimPath(%q) accepted a malformed path", bad)
		}
	}
}

func TestClaimPathLookup(t *testing.T) {
	p := []byte(pathPayload)
	cases := []struct {
		path, want string
		ok         bool
	}{
		{"sub", "alice", true},
		{"a.b.c", "nested", true},
		{`a\.b.c`, "dotted", true},
		{`a\\b`, "backslash", true},
		{`https://example\.com/roles`, "editor", true},
		{"https://example.com/roles", "", false}, // unescaped dots walk into objects
		{"escaped", "yes", true},                 // member names are compared unescaped
		{"realm_access.level", "3", true},
		{"realm_access.roles", "admin,user", true},
		{"realm_access.missing", "", false},
		{"sub.x", "", false}, // strings have no members
		{"a..b", "", false},  // malformed paths find nothing
		{"nothing", "", false},
		{"tier", "2.0", true},
		{"beta", "true", true},
		{"obj", `{"k":[1,"two",{"x":null}]}`, true},
		{"obj.k", `1,two,{"x":null}`, true},
		{"line", "", false}, // a newline cannot go into a header
	}
	for _, c := range cases {
		got, ok := ClaimHeaderValue(p, c.path)
		if got != c.want || ok != c.ok {
			t.Errorf("ClaimHeaderValue(%q) = %q, %v; want %q, %v", c.path, got, ok, c.want, c.ok)
		}
	}
}

func TestClaimContains(t *testing.T) {
	p := []byte(pathPayload)
	cases := []struct {
		name   string
		path   string
		values []string
		want   bool
	}{
		{"a string equal to a value matches", "sub", []string{"bob", "alice"}, true},
		{"a string equal to no value does not match", "sub", []string{"bob"}, false},
		{"a space-delimited string is compared whole, not split", "scope", []string{"orders:write"}, false},
		{"a string with spaces matches only itself", "scope", []string{"openid  orders:read orders:write"}, true},
		{"a substring does not match", "scope", []string{"orders"}, false},
		{"an array element matches", "realm_access.roles", []string{"admin"}, true},
		{"an array without the value does not match", "realm_access.roles", []string{"root"}, false},
		{"a number matches numerically", "tier", []string{"2"}, true},
		{"a different number does not match", "tier", []string{"3"}, false},
		{"a number inside an array matches", "obj.k", []string{"1"}, true},
		{"a boolean matches its spelling", "beta", []string{"true"}, true},
		{"a boolean does not match the other spelling", "beta", []string{"false"}, false},
		{"an object never matches", "realm_access", []string{"roles"}, false},
		{"null never matches", "nothing", []string{"null"}, false},
		{"an absent claim never matches", "missing", []string{"x"}, false},
		{"an escaped path finds a claim with dots", `https://example\.com/roles`, []string{"editor"}, true},
		{"an unescaped path does not", "https://example.com/roles", []string{"editor"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ClaimContains(p, c.path, c.values); got != c.want {
				t.Fatalf("ClaimContains(%q, %q) = %v", c.path, c.values, got)
			}
		})
	}
}

func TestScopes(t *testing.T) {
	p := []byte(pathPayload)
	cases := []struct {
		name   string
		claims []string
		want   []string
	}{
		{"a space-delimited string is split", []string{"scope", "scp"}, []string{"openid", "orders:read", "orders:write"}},
		{"an array of strings is taken as is", []string{"scp", "scope"}, []string{"a", "b"}},
		{"the first present claim wins", []string{"missing", "scp"}, []string{"a", "b"}},
		{"an array with a non-string yields nothing", []string{"bad_scp", "scp"}, nil},
		{"a claim of the wrong type yields nothing", []string{"tier", "scp"}, nil},
		{"no present claim yields nothing", []string{"missing"}, nil},
		{"a nested path works", []string{"realm_access.roles"}, []string{"admin", "user"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Scopes(p, c.claims); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Scopes(%q) = %q, want %q", c.claims, got, c.want)
			}
		})
	}
	t.Run("an empty scope string yields no scopes", func(t *testing.T) {
		if got := Scopes([]byte(`{"scope":" "}`), []string{"scope"}); len(got) != 0 {
			t.Fatalf("got %q", got)
		}
	})
}
