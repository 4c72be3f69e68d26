package e2e

// Identity-provider faults through the host over real HTTP: the JWKS (or
// discovery) server misbehaves in every way issue #8 lists. For each: the
// answers clients get, that no request waits past its deadline, that the
// last good keys keep serving, that backoff bounds the callouts, and the
// metrics and logs.

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
)

const (
	faultIssuer    = "https://idp.fault.example/realms/demo"
	faultAuthority = "idp.internal" // the host the configuration names for the idp cluster
)

// newFaultyIdP is the fake identity provider answering in mode.
func newFaultyIdP(t *testing.T, mode idpMode, keys ...*testjwt.Key) *fakeIdP {
	f := newFakeIdP(t, faultAuthority, faultIssuer, keys...)
	f.setMode(mode)
	return f
}

// faultConfig is one provider whose keys come from the "idp" cluster, with
// a short callout timeout and a one-second cache so refreshes happen during
// the test; every route needs the scope.
func faultConfig(source string, cacheSeconds int) string {
	fetch := `"cluster":"idp","timeout_ms":300,"cache_duration_s":` + strconv.Itoa(cacheSeconds) + `,"refetch_min_interval_s":0`
	var keys string
	switch source {
	case "discovery":
		keys = `"discovery":{` + fetch + `,"uri":"http://` + faultAuthority + discoveryPath + `"}`
	default:
		keys = `"remote_jwks":{` + fetch + `,"uri":"http://` + faultAuthority + jwksPath + `"}`
	}
	return `{"providers":[{"name":"idp","issuer":"` + faultIssuer + `",` + keys + `}],` +
		`"rules":[{"match":{"prefix":"/"},"requires":{"scopes":["orders.read"]}}]}`
}

// faultHost is the filter in the host with the idp cluster pointing at f.
type faultHost struct {
	h *host.Host
}

func newFaultHost(t *testing.T, cfg string, f *fakeIdP) *faultHost {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := host.New(ctx, host.Config{Module: filterModule(t), PluginConfig: []byte(cfg), Workers: 2,
		Clusters: map[string]string{"idp": f.URL}, Log: io.Discard})
	if err != nil {
		t.Fatalf("host.New: %v", err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return &faultHost{h: h}
}

// do sends one request with the token; a request still unanswered after
// 10 s fails the test (nothing may wait forever).
func (fh *faultHost) do(t *testing.T, token string) host.Decision {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := fh.h.Do(ctx, host.Request{Method: "GET", Path: "/orders", Authority: "api", Headers: bearer(token)})
	if err != nil {
		t.Fatalf("the request was not answered: %v", err)
	}
	return d
}

// doOn is do on one worker VM.
func (fh *faultHost) doOn(t *testing.T, worker int, token string) host.Decision {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := fh.h.DoOn(ctx, worker, host.Request{Method: "GET", Path: "/orders", Authority: "api", Headers: bearer(token)})
	if err != nil {
		t.Fatalf("the request was not answered: %v", err)
	}
	return d
}

// everyWorker runs check on each worker VM (a key set fetched by one VM
// reaches the others through shared data on their next tick).
func (fh *faultHost) everyWorker(check func(worker int) bool) bool {
	all := true
	for w := range fh.h.Workers() {
		all = check(w) && all
	}
	return all
}

// recovered waits until every worker allows token; every answer on the way
// must be 503 or allowed.
func (fh *faultHost) recovered(t *testing.T, token string) {
	t.Helper()
	waitUntil(t, "every worker allows the token", func() bool {
		return fh.everyWorker(func(w int) bool { return allowedOrUnavailable(t, fh.doOn(t, w, token)) })
	})
}

func (fh *faultHost) metric(name string) uint64 {
	n, _ := fh.h.Metric(name)
	return n
}

func (fh *faultHost) logged(substr string) bool {
	for _, e := range fh.h.Logs() {
		if strings.Contains(e.Message, substr) {
			return true
		}
	}
	return false
}

func (fh *faultHost) requireClean(t *testing.T) {
	t.Helper()
	if n := fh.h.Traps(); n != 0 {
		t.Errorf("the filter trapped %d times", n)
	}
	if v := fh.h.Violations(); len(v) != 0 {
		t.Errorf("Envoy rule violations: %v", v)
	}
}

// allowedOrUnavailable fails unless d is one of the two answers a client
// may see while the keys come and go.
func allowedOrUnavailable(t *testing.T, d host.Decision) bool {
	t.Helper()
	if d.Continue {
		return true
	}
	requireOutcome(t, d, deniedUnavail)
	return false
}

func TestIdPFaultAtStartupThenRecoveryThenFaultAgain(t *testing.T) {
	key := testjwt.CachedKey("RS256", "fault-1")
	token := key.Sign(testjwt.Claims(faultIssuer, "alice", time.Now(), "orders.read"), nil)
	for _, mode := range []idpMode{idpReset, idp500, idpHTML, idpTruncated, idpEmpty, idpHuge, idpSlow} {
		t.Run("an IdP answering "+string(mode), func(t *testing.T) {
			t.Parallel()
			f := newFaultyIdP(t, mode, key)
			fh := newFaultHost(t, faultConfig("remote_jwks", 1), f)

			t.Run("makes requests 503 without a challenge, never a wait", func(t *testing.T) {
				requireOutcome(t, fh.do(t, token), deniedUnavail)
				if fh.metric("scopegate.jwks.fetch_failed") == 0 || fh.metric("scopegate.denied.unavailable") == 0 {
					t.Errorf("fetch_failed %d, denied.unavailable %d", fh.metric("scopegate.jwks.fetch_failed"), fh.metric("scopegate.denied.unavailable"))
				}
				// The fetching worker logs just after it publishes the
				// failure, which the worker answering may read first.
				waitUntil(t, "a log line saying the fetch failed", func() bool { return fh.logged("fetching signing keys failed") })
				if fh.metric("scopegate.allowed") != 0 {
					t.Error("a request was allowed without keys")
				}
			})
			t.Run("recovers when the IdP does", func(t *testing.T) {
				f.setMode(idpOK)
				fh.recovered(t, token)
				if fh.metric("scopegate.jwks.fetch_ok") == 0 {
					t.Error("fetch_ok is 0")
				}
			})
			t.Run("keeps serving the last good keys when the IdP fails again", func(t *testing.T) {
				failed := fh.metric("scopegate.jwks.fetch_failed")
				f.setMode(mode)
				waitUntil(t, "a failed refresh", func() bool {
					requireOutcome(t, fh.do(t, token), allowed)
					return fh.metric("scopegate.jwks.fetch_failed") > failed
				})
				requireOutcome(t, fh.do(t, token), allowed)
				requireOutcome(t, fh.do(t, token[:len(token)-4]+"AAAA"), deniedInvalid)
				if !fh.logged("keeping the last good key set") {
					t.Error("no log line says the last good key set is kept")
				}
			})
			fh.requireClean(t)
		})
	}
}

func TestIdPFaultBackoffBoundsTheCalloutRate(t *testing.T) {
	key := testjwt.CachedKey("RS256", "fault-1")
	token := key.Sign(testjwt.Claims(faultIssuer, "alice", time.Now(), "orders.read"), nil)
	f := newFaultyIdP(t, idp500, key)
	fh := newFaultHost(t, faultConfig("remote_jwks", 600), f)
	waitUntil(t, "the first failed fetch", func() bool { return fh.metric("scopegate.jwks.fetch_failed") > 0 })

	hits, callouts := f.hits(), fh.h.CalloutCount()
	// 40 extra ticks on every VM, plus the host's own: without backoff each
	// tick would start a fetch; with it (1 s, 2 s, 4 s ... after each
	// failure) only a few attempts fit in the window, however long a loaded
	// machine makes it.
	const ticks = 40
	start := time.Now()
	for range ticks {
		fh.h.Tick(context.Background())
		requireOutcome(t, fh.do(t, token), deniedUnavail)
		time.Sleep(25 * time.Millisecond)
	}
	window := time.Since(start)
	allowed := 2 // one attempt may already be due or in flight
	for d := time.Second; d <= window; d *= 2 {
		allowed++
	}
	gotHits, gotCallouts := f.hits()-hits, fh.h.CalloutCount()-callouts
	t.Logf("%d ticks on 2 VMs over %v: %d requests at the IdP, %d callouts (backoff allows %d)", ticks, window.Round(time.Millisecond), gotHits, gotCallouts, allowed)
	if gotHits > allowed || gotCallouts > allowed {
		t.Errorf("%d IdP requests and %d callouts during %d ticks; backoff allows at most %d", gotHits, gotCallouts, ticks, allowed)
	}
	if fh.h.CalloutCount() != f.hits() {
		t.Errorf("%d callouts but %d requests reached the IdP", fh.h.CalloutCount(), f.hits())
	}
	// Backoff is not give-up: the fetch is retried.
	waitUntil(t, "a retry", func() bool { return f.hits() > hits+gotHits })
	f.setMode(idpOK)
	fh.recovered(t, token)
	fh.requireClean(t)
}

func TestIdPFaultFlappingNeverDeniesAValidToken(t *testing.T) {
	key := testjwt.CachedKey("RS256", "fault-1")
	token := key.Sign(testjwt.Claims(faultIssuer, "alice", time.Now(), "orders.read"), nil)
	f := newFaultyIdP(t, idpOK, key)
	fh := newFaultHost(t, faultConfig("remote_jwks", 1), f)
	fh.recovered(t, token)
	f.setMode(idpFlapping)
	ok, failed := fh.metric("scopegate.jwks.fetch_ok"), fh.metric("scopegate.jwks.fetch_failed")
	served := 0
	waitUntil(t, "refreshes that both failed and succeeded", func() bool {
		requireOutcome(t, fh.do(t, token), allowed)
		served++
		return fh.metric("scopegate.jwks.fetch_ok") > ok && fh.metric("scopegate.jwks.fetch_failed") > failed
	})
	t.Logf("%d requests allowed while the IdP flapped (%d fetches ok, %d failed)", served,
		fh.metric("scopegate.jwks.fetch_ok")-ok, fh.metric("scopegate.jwks.fetch_failed")-failed)
	fh.requireClean(t)
}

func TestIdPFaultKeyRotationWithOldTokensInFlight(t *testing.T) {
	oldKey := testjwt.NewKey("RS256", "rot-old")
	newKey := testjwt.NewKey("RS256", "rot-new")
	stranger := testjwt.CachedKey("RS256", "rot-unknown")
	now := time.Now()
	oldToken := oldKey.Sign(testjwt.Claims(faultIssuer, "old", now, "orders.read"), nil)
	newToken := newKey.Sign(testjwt.Claims(faultIssuer, "new", now, "orders.read"), nil)
	f := newFaultyIdP(t, idpOK, oldKey)
	fh := newFaultHost(t, faultConfig("remote_jwks", 600), f)

	t.Run("before the rotation the old key's tokens pass", func(t *testing.T) {
		requireOutcome(t, fh.do(t, oldToken), allowed)
	})
	t.Run("while both keys are published, old and new tokens in flight together pass", func(t *testing.T) {
		f.setKeys(oldKey, newKey)
		var wg sync.WaitGroup
		results := make([]host.Decision, 16)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok := oldToken
				if i%2 == 1 {
					tok = newToken // unknown kid at first: parked until the refetch
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				results[i], _ = fh.h.Do(ctx, host.Request{Method: "GET", Path: "/orders", Authority: "api", Headers: bearer(tok)})
			}()
		}
		wg.Wait()
		for i, d := range results {
			if !d.Continue {
				t.Errorf("request %d (new key: %v) got %d %s", i, i%2 == 1, d.Status, d.Body)
			}
		}
		if !fh.logged("unknown kid") {
			t.Error("no log line tells of the unknown-kid refetch")
		}
	})
	t.Run("once the old key is withdrawn its tokens are refused, even cached ones", func(t *testing.T) {
		f.setKeys(newKey)
		// An unknown kid makes the filter refetch and see the withdrawal.
		requireOutcome(t, fh.doOn(t, 0, stranger.Sign(testjwt.Claims(faultIssuer, "x", now, "orders.read"), nil)), deniedInvalid)
		fh.h.Tick(context.Background()) // the other VM reads the new set from shared data
		for w := range fh.h.Workers() {
			requireOutcome(t, fh.doOn(t, w, oldToken), deniedInvalid)
			requireOutcome(t, fh.doOn(t, w, newToken), allowed)
		}
	})
	fh.requireClean(t)
}

func TestIdPFaultDiscoveryIssuerMismatch(t *testing.T) {
	key := testjwt.CachedKey("RS256", "fault-1")
	token := key.Sign(testjwt.Claims(faultIssuer, "alice", time.Now(), "orders.read"), nil)
	const evil = "https://evil.example/realms/demo"
	f := newFaultyIdP(t, idpOK, key)
	f.setIssuer(evil)
	fh := newFaultHost(t, faultConfig("discovery", 1), f)

	t.Run("a discovery document naming another issuer is a failed fetch: 503 and an error log naming both", func(t *testing.T) {
		requireOutcome(t, fh.do(t, token), deniedUnavail)
		found := false
		for _, e := range fh.h.Logs() {
			if e.Level == host.LogError && strings.Contains(e.Message, evil) && strings.Contains(e.Message, faultIssuer) {
				found = true
			}
		}
		if !found {
			t.Error("no error log names both issuers")
		}
		if fh.metric("scopegate.jwks.fetch_failed") == 0 {
			t.Error("fetch_failed is 0")
		}
	})
	t.Run("the matching issuer recovers", func(t *testing.T) {
		f.setIssuer(faultIssuer)
		fh.recovered(t, token)
	})
	t.Run("a later mismatch keeps the last good keys", func(t *testing.T) {
		failed := fh.metric("scopegate.jwks.fetch_failed")
		f.setIssuer(evil)
		waitUntil(t, "a failed refresh", func() bool {
			requireOutcome(t, fh.do(t, token), allowed)
			return fh.metric("scopegate.jwks.fetch_failed") > failed
		})
	})
	fh.requireClean(t)
}

// A kid first seen just after another VM finished a fetch must still get a
// fetch of its own: the other VM's key set was fetched before the kid
// existed, so it cannot be the "one refetch" DESIGN §5 promises. (Before the
// fix, the VM compared against its own stale view of the shared record and
// took the other VM's earlier fetch for its refetch, answering 401 to a
// token whose key the IdP already published.)
func TestIdPFaultNewKidAfterAnotherVMsFetchGetsItsOwnRefetch(t *testing.T) {
	base := testjwt.CachedKey("RS256", "kid-race-base")
	now := time.Now()
	f := newFaultyIdP(t, idpOK, base)
	fh := newFaultHost(t, faultConfig("remote_jwks", 600), f)
	fh.recovered(t, base.Sign(testjwt.Claims(faultIssuer, "alice", now, "orders.read"), nil))
	published := []*testjwt.Key{base}
	for i := range 5 {
		// Worker 1 refetches for a kid nobody publishes ...
		ghost := base.WithKid("ghost-"+strconv.Itoa(i)).Sign(testjwt.Claims(faultIssuer, "g", now, "orders.read"), nil)
		requireOutcome(t, fh.doOn(t, 1, ghost), deniedInvalid)
		// ... then the IdP publishes a new key, and worker 0 sees its kid
		// before its next tick.
		fresh := base.WithKid("fresh-" + strconv.Itoa(i))
		published = append(published, fresh)
		f.setKeys(published...)
		if d := fh.doOn(t, 0, fresh.Sign(testjwt.Claims(faultIssuer, "alice", now, "orders.read"), nil)); !d.Continue {
			t.Fatalf("round %d: a token under the newly published kid got %d %s", i, d.Status, d.Body)
		}
	}
	fh.requireClean(t)
}

// A kid first seen while another VM's fetch is in flight must wait for a
// fetch that starts after it: the one in flight was answered from the key
// set as it was before the kid was published.
func TestIdPFaultNewKidDuringAnotherVMsFetchGetsItsOwnRefetch(t *testing.T) {
	base := testjwt.CachedKey("RS256", "kid-race-base")
	now := time.Now()
	f := newFaultyIdP(t, idpOK, base)
	// The delay keeps worker 1's refetch in flight while the key is
	// published; a callout timeout far above it keeps a busy machine from
	// turning that delay into failed fetches, which would be another test.
	cfg := strings.Replace(faultConfig("remote_jwks", 600), `"timeout_ms":300`, `"timeout_ms":3000`, 1)
	fh := newFaultHost(t, cfg, f)
	fh.recovered(t, base.Sign(testjwt.Claims(faultIssuer, "alice", now, "orders.read"), nil))
	f.setDelay(150 * time.Millisecond)
	published := []*testjwt.Key{base}
	for i := range 3 {
		hits := f.hits()
		ghost := base.WithKid("ghost-"+strconv.Itoa(i)).Sign(testjwt.Claims(faultIssuer, "g", now, "orders.read"), nil)
		done := make(chan host.Decision, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d, _ := fh.h.DoOn(ctx, 1, host.Request{Method: "GET", Path: "/orders", Authority: "api", Headers: bearer(ghost)})
			done <- d
		}()
		// Worker 1's refetch has reached the IdP and is being answered from
		// the old key set; now the IdP publishes a key and worker 0 sees it.
		waitUntil(t, "worker 1's refetch at the IdP", func() bool { return f.hits() > hits })
		fresh := base.WithKid("inflight-" + strconv.Itoa(i))
		published = append(published, fresh)
		f.setKeys(published...)
		if d := fh.doOn(t, 0, fresh.Sign(testjwt.Claims(faultIssuer, "alice", now, "orders.read"), nil)); !d.Continue {
			t.Fatalf("round %d: a token under the newly published kid got %d %s", i, d.Status, d.Body)
		}
		requireOutcome(t, <-done, deniedInvalid)
	}
	fh.requireClean(t)
}
