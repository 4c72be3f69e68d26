package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/jwt"
)

// The pieces of a cache hit (readRequest, the cache lookup, the remembered
// decision) are checked here for what they must not do: answer wrong or
// allocate. How fast they are is measured in bench/ (BenchmarkEngine).

func TestEqualWordsIsEquality(t *testing.T) {
	base := strings.Repeat("eyJhbGciOiJSUzI1NiJ9.", 8)
	for n := 0; n <= len(base); n++ {
		a := base[:n]
		if !equalWords(a, strings.Clone(a)) {
			t.Fatalf("%d bytes: equal strings compare unequal", n)
		}
		for i := 0; i < n; i++ {
			b := []byte(a)
			b[i] ^= 0x20
			if equalWords(a, string(b)) {
				t.Fatalf("%d bytes: a difference at byte %d was missed", n, i)
			}
		}
		if n > 0 && equalWords(a, a[:n-1]) {
			t.Fatalf("%d bytes: a shorter string compared equal", n)
		}
	}
}

func TestWordReadsLittleEndian(t *testing.T) {
	if got := word("\x01\x02\x03\x04\x05\x06\x07\x08\x09", 1); got != 0x0908070605040302 {
		t.Fatalf("word = %#x", got)
	}
}

func TestTokenCacheKeys(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	set := keySet(t, rsKey())
	current := func(*Provider) *jwt.KeySet { return set }
	vt := verifiedToken{provider: &Provider{Name: "p"}, sub: "a"}
	c := newTokenCache(8)
	tok := strings.Repeat("h", 40) + ".p." + strings.Repeat("s", 30) + "0123456789abcdef"
	c.put(tok, vt, set, set.Keys[0], now.Add(time.Hour), true, now)
	t.Run("a token with the same last 16 bytes but other bytes is no hit", func(t *testing.T) {
		forged := strings.Repeat("H", 40) + ".p." + strings.Repeat("s", 30) + "0123456789abcdef"
		if c.hash(forged) != c.hash(tok) {
			t.Fatal("the test needs tokens with one key")
		}
		if _, ok := c.get(forged, now, current); ok {
			t.Fatal("a different token got the cached verification")
		}
		if _, ok := c.get(tok, now, current); !ok {
			t.Fatal("the cached token missed")
		}
	})
	t.Run("tokens shorter than 16 bytes are keyed by every byte", func(t *testing.T) {
		if c.hash("a.b.c") == c.hash("a.b.d") || c.hash("") == c.hash("x") {
			t.Fatal("short tokens collide")
		}
	})
	t.Run("two caches key the same token differently", func(t *testing.T) {
		if newTokenCache(8).hash(tok) == c.hash(tok) {
			t.Fatal("the key does not depend on the cache's seed")
		}
	})
	t.Run("a hit allocates nothing", func(t *testing.T) {
		if n := testing.AllocsPerRun(100, func() { _, _ = c.get(tok, now, current) }); n != 0 {
			t.Fatalf("%v allocations per hit", n)
		}
	})
}

func TestTokenDecisionsAreRemembered(t *testing.T) {
	prov := &Provider{Name: "idp", ScopeClaims: []string{"scope"}}
	vt := &verifiedToken{provider: prov, sub: "alice", iss: testIssuer, scopes: []string{"read"}}
	reqs := []*Requirement{{Scopes: []string{"read"}}, {Scopes: []string{"write"}}, {Scopes: []string{"a", "b"}},
		{Provider: "other"}, {Scopes: []string{"read"}}, {}}
	for round := 0; round < 3; round++ {
		for i, req := range reqs {
			got, want := vt.decide(req), vt.evaluate(req)
			if (got == nil) != (want == nil) || (got != nil && (got.reason != want.reason || got.scope != want.scope || got.description != want.description)) {
				t.Fatalf("round %d, requirement %d: decide = %+v, evaluate = %+v", round, i, got, want)
			}
		}
	}
	t.Run("a remembered 403 is the same answer, rendered once", func(t *testing.T) {
		vt := &verifiedToken{provider: prov, sub: "alice", scopes: []string{"read"}}
		req := &Requirement{Scopes: []string{"write", "read"}}
		d := vt.decide(req)
		if d == nil || d.reason != "required scopes were not found [write]" || d.scope != "write read" {
			t.Fatalf("decide = %+v", d)
		}
		a := d.render("realm")
		if again := vt.decide(req); again != d || again.render("realm") != a {
			t.Fatal("the second decision is not the remembered one")
		}
		if n := testing.AllocsPerRun(100, func() { vt.decide(req).render("realm") }); n != 0 {
			t.Fatalf("%v allocations per remembered 403", n)
		}
	})
}

func TestScanAllocatesNothing(t *testing.T) {
	cfg, err := ParseConfig([]byte(diffConfigs[0].cfg))
	if err != nil {
		t.Fatal(err)
	}
	pairs := [][2]string{{":authority", "api.example.com"}, {":path", "/api/orders?a=1"}, {":method", "GET"}, {":scheme", "https"},
		{"user-agent", "Mozilla/5.0"}, {"accept", "*/*"}, {"cookie", "theme=dark; session=x.y.z"}, {"authorization", "Bearer a.b.c"},
		{"sec-ch-ua", "x"}, {"x-request-id", "1"}}
	m, err := abi.ParseHeaderMap(abi.EncodeHeaderMap(nil, pairs))
	if err != nil {
		t.Fatal(err)
	}
	var r request
	if n := testing.AllocsPerRun(100, func() { cfg.scan(m, &r, nil) }); n != 0 {
		t.Fatalf("%v allocations per scan", n)
	}
	// Two tokens (cookie and header): which one is first does not matter,
	// the request is a 400.
	if r.method != "GET" || r.path != "/api/orders?a=1" || r.tokens != 2 {
		t.Fatalf("scan read method %q path %q and %d tokens", r.method, r.path, r.tokens)
	}
}

func TestStreamContextsAreReused(t *testing.T) {
	pc := &pluginContext{}
	first := pc.NewHttpContext(1).(*httpContext)
	first.stripped, first.looked, first.nextNonce = true, true, "n"
	pc.RecycleHttpContext(first)
	second := pc.NewHttpContext(2).(*httpContext)
	if second != first {
		t.Fatal("a deleted stream's context was not reused")
	}
	if second.id != 2 || second.plugin != pc || second.stripped || second.looked || second.nextNonce != "" {
		t.Fatalf("the reused context kept state: %+v", second)
	}
	t.Run("a parked context is not reused", func(t *testing.T) {
		second.parked = true
		pc.RecycleHttpContext(second)
		if third := pc.NewHttpContext(3).(*httpContext); third == second {
			t.Fatal("reused")
		}
	})
	t.Run("another plugin's context is not taken", func(t *testing.T) {
		other := &pluginContext{}
		pc.RecycleHttpContext(other.NewHttpContext(4))
		if len(pc.idle) != 0 {
			t.Fatal("taken")
		}
	})
	t.Run("at most maxIdleContexts are kept", func(t *testing.T) {
		for i := 0; i < maxIdleContexts+10; i++ {
			pc.RecycleHttpContext(&httpContext{plugin: pc})
		}
		if len(pc.idle) != maxIdleContexts {
			t.Fatalf("%d kept", len(pc.idle))
		}
	})
}
