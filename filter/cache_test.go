package filter

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/testjwt"
	"github.com/scopegate/scopegate/jwt"
)

func keySet(t *testing.T, keys ...*testjwt.Key) *jwt.KeySet {
	t.Helper()
	ks, _, err := jwt.ParseJWKS(testjwt.JWKS(keys...), jwt.JWKSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestTokenCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	prov := &Provider{Name: "p"}
	setA := keySet(t, rsKey())
	current := setA
	lookup := func(*Provider) *jwt.KeySet { return current }
	vt := verifiedToken{provider: prov, sub: "a"}

	t.Run("an entry is served until its expiry and not after", func(t *testing.T) {
		c := newTokenCache(8)
		c.put("tok", vt, setA, setA.Keys[0], now.Add(time.Minute), true, now)
		if got, ok := c.get("tok", now.Add(59*time.Second), lookup); !ok || got.sub != "a" {
			t.Fatal("miss before expiry")
		}
		if _, ok := c.get("tok", now.Add(61*time.Second), lookup); ok {
			t.Fatal("hit after expiry")
		}
		if c.len() != 0 {
			t.Error("expired entry kept")
		}
	})
	t.Run("an entry without exp lives at most the cache TTL", func(t *testing.T) {
		c := newTokenCache(8)
		c.put("tok", vt, setA, setA.Keys[0], time.Time{}, false, now)
		if _, ok := c.get("tok", now.Add(tokenCacheMaxTTL-time.Second), lookup); !ok {
			t.Fatal("miss within TTL")
		}
		if _, ok := c.get("tok", now.Add(tokenCacheMaxTTL+time.Second), lookup); ok {
			t.Fatal("hit after TTL")
		}
	})
	t.Run("an already expired token is not stored", func(t *testing.T) {
		c := newTokenCache(8)
		c.put("tok", vt, setA, setA.Keys[0], now.Add(-time.Second), true, now)
		if c.len() != 0 {
			t.Error("stored")
		}
	})
	t.Run("a rotation that keeps the key keeps the entry", func(t *testing.T) {
		c := newTokenCache(8)
		c.put("tok", vt, setA, setA.Keys[0], now.Add(time.Hour), true, now)
		current = keySet(t, rsKey(), esKey())
		defer func() { current = setA }()
		if _, ok := c.get("tok", now, lookup); !ok {
			t.Fatal("entry dropped although its kid is still in the set")
		}
	})
	t.Run("a rotation that drops the key drops the entry", func(t *testing.T) {
		c := newTokenCache(8)
		c.put("tok", vt, setA, setA.Keys[0], now.Add(time.Hour), true, now)
		current = keySet(t, esKey())
		defer func() { current = setA }()
		if _, ok := c.get("tok", now, lookup); ok {
			t.Fatal("entry served although its key left the set")
		}
	})
	t.Run("a rotation that puts other key material under the same kid drops the entry", func(t *testing.T) {
		c := newTokenCache(8)
		c.put("tok", vt, setA, setA.Keys[0], now.Add(time.Hour), true, now)
		current = keySet(t, testjwt.CachedKey("RS256", "rs-2").WithKid("rs-1"))
		defer func() { current = setA }()
		if _, ok := c.get("tok", now, lookup); ok {
			t.Fatal("entry served although the key that verified it was replaced under its kid")
		}
	})
	t.Run("a kid-less entry is dropped on any rotation", func(t *testing.T) {
		c := newTokenCache(8)
		c.put("tok", vt, setA, nil, now.Add(time.Hour), true, now)
		if _, ok := c.get("tok", now, lookup); !ok {
			t.Fatal("miss with the same set")
		}
		current = keySet(t, rsKey())
		defer func() { current = setA }()
		if _, ok := c.get("tok", now, lookup); ok {
			t.Fatal("kid-less entry survived a set replacement")
		}
	})
	t.Run("the cache is bounded", func(t *testing.T) {
		c := newTokenCache(4)
		for i := 0; i < 20; i++ {
			c.put("tok"+strconv.Itoa(i), vt, setA, setA.Keys[0], now.Add(time.Hour), true, now)
		}
		if c.len() != 4 {
			t.Fatalf("len = %d, want 4", c.len())
		}
		if _, ok := c.get("tok19", now, lookup); !ok {
			t.Error("the newest entry is missing")
		}
	})
	t.Run("the oldest insertion leaves first", func(t *testing.T) {
		c := newTokenCache(4)
		for i := 0; i < 6; i++ {
			c.put("tok"+strconv.Itoa(i), vt, setA, setA.Keys[0], now.Add(time.Hour), true, now)
		}
		for i := 0; i < 6; i++ {
			if _, ok := c.get("tok"+strconv.Itoa(i), now, lookup); ok != (i >= 2) {
				t.Errorf("tok%d cached = %v, want %v", i, ok, i >= 2)
			}
		}
	})
	t.Run("a token stored again keeps one place", func(t *testing.T) {
		c := newTokenCache(4)
		for i := 0; i < 10; i++ {
			c.put("again", vt, setA, setA.Keys[0], now.Add(time.Hour), true, now)
		}
		for i := 0; i < 3; i++ {
			c.put("tok"+strconv.Itoa(i), vt, setA, setA.Keys[0], now.Add(time.Hour), true, now)
		}
		if _, ok := c.get("again", now, lookup); !ok || c.len() != 4 {
			t.Fatalf("the repeated token cached = %v, len %d; want true, 4", ok, c.len())
		}
	})
	t.Run("a token stored again in the place it held before is kept", func(t *testing.T) {
		// "first" expires and get drops it; stored again, it is new to the
		// map, and the place its key takes in order is the one it held.
		c := newTokenCache(4)
		c.put("first", vt, setA, setA.Keys[0], now.Add(time.Minute), true, now)
		for i := 0; i < 3; i++ {
			c.put("tok"+strconv.Itoa(i), vt, setA, setA.Keys[0], now.Add(time.Hour), true, now)
		}
		later := now.Add(2 * time.Minute)
		if _, ok := c.get("first", later, lookup); ok {
			t.Fatal("an expired entry was served")
		}
		c.put("first", vt, setA, setA.Keys[0], later.Add(time.Hour), true, later)
		if _, ok := c.get("first", later, lookup); !ok {
			t.Fatal("the token stored again was dropped at once")
		}
	})
	t.Run("the bound holds while entries expire, come back and are replaced", func(t *testing.T) {
		c := newTokenCache(8)
		r := rand.New(rand.NewPCG(5, 6))
		at := now
		for i := 0; i < 5000; i++ {
			at = at.Add(time.Duration(r.IntN(1000)) * time.Millisecond)
			raw := "tok" + strconv.Itoa(r.IntN(24))
			if r.IntN(2) == 0 {
				c.put(raw, vt, setA, setA.Keys[0], at.Add(time.Duration(r.IntN(20))*time.Second), true, at)
			} else if _, ok := c.get(raw, at, lookup); ok && c.entries[c.hash(raw)].expires.Before(at) {
				t.Fatal("an expired entry was served")
			}
			if c.len() > 8 || len(c.order) > 8 {
				t.Fatalf("after %d steps: %d entries, %d places", i, c.len(), len(c.order))
			}
		}
	})
	t.Run("only the exact token hits", func(t *testing.T) {
		c := newTokenCache(4)
		c.put("tok", vt, setA, setA.Keys[0], now.Add(time.Hour), true, now)
		if _, ok := c.get("tok2", now, lookup); ok {
			t.Fatal("hit for another token")
		}
	})
}

// Keys rotated at the provider evict cached tokens signed with the old key
// through the full request path.
func TestCachedTokensFollowTheKeySet(t *testing.T) {
	h := startFilter(t, localConfig("", ""))
	tok := h.token(rsKey(), "a")
	for i := 0; i < 3; i++ {
		if r := h.get("/x", tok); r.status() != 200 {
			t.Fatalf("request %d: %d", i, r.status())
		}
	}
	if h.counter(metricCacheHit) != 2 || h.counter(metricCacheMiss) != 1 {
		t.Errorf("hit %d miss %d, want 2 and 1", h.counter(metricCacheHit), h.counter(metricCacheMiss))
	}
}

// len is how many entries the cache holds.
func (c *tokenCache) len() int { return len(c.entries) }

func BenchmarkCachedRequest(b *testing.B) {
	h := startFilter(b, localConfig(`"claim_to_headers":[{"claim":"sub","header":"x-sub"}]`, `"rules":[{"match":{"prefix":"/"},"requires":{"scopes":["read"]}}]`))
	tok := h.token(rsKey(), "a", "read")
	hdr := [][2]string{{":method", "GET"}, {":path", "/x"}, {"authorization", "Bearer " + tok}}
	b.ReportAllocs()
	for b.Loop() {
		id := h.host.InitializeHttpContext()
		h.host.CallOnRequestHeaders(id, hdr, true)
		h.host.CompleteHttpContext(id)
	}
}
