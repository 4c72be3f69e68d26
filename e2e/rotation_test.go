package e2e

// Key rotation across worker VMs (issue #13), through the compiled module
// in the host with 2 and 4 workers. The workers tick only when the test
// says so (host.Config.ManualTicks), and the fake identity provider holds
// its answers when the test needs a fetch in flight, so every interleaving
// below happens the same way on every run, however loaded the machine.
// After the identity provider publishes a new key, every request carrying
// its kid must be allowed on every worker, and the provider must see
// exactly one more discovery + JWKS fetch.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// rotationConfig is one discovery provider behind the "idp" cluster, with the
// default refetch_min_interval_s (30 s, longer than any of these tests).
func rotationConfig() string {
	return `{"providers":[{"name":"idp","issuer":"` + filterIssuer + `","discovery":{"cluster":"idp","uri":"http://` +
		keysAuthority + discoveryPath + `"}}]}`
}

// rotationRig is the filter on n manually ticked workers in front of the
// fake identity provider, with requests sent in the background.
type rotationRig struct {
	t   *testing.T
	p   *filterProxy
	idp *fakeIdP
	n   int

	mu       sync.Mutex
	sent     int
	answered []rotationAnswer
}

type rotationAnswer struct {
	worker int
	status int
	body   string
}

// newRotationRig starts the rig with the old key published, fetches it once
// and has every worker read it, so the test starts from a proxy where every
// worker holds the same key set and no fetch is due.
func newRotationRig(t *testing.T, workers int, old *testjwt.Key) *rotationRig {
	t.Helper()
	idp := newFakeIdP(t, keysAuthority, filterIssuer, old)
	p := startFilterProxy(t, rotationConfig(), map[string]string{"idp": idp.URL}, func(c *host.Config) {
		c.Workers = workers
		c.ManualTicks = true
	})
	r := &rotationRig{t: t, p: p, idp: idp, n: workers}
	r.tick(0)
	r.waitFetchesSettled(1)
	r.tickAll()
	for w := range workers {
		if got := statusOf(decide(t, p.Host, w, keysToken(old))); got != 200 {
			t.Fatalf("before the rotation, worker %d answered the old key's token %d", w, got)
		}
	}
	r.requireFetches(1)
	return r
}

func (r *rotationRig) tick(worker int) {
	r.t.Helper()
	if err := r.p.Host.TickOn(worker); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rotationRig) tickAll() {
	for w := range r.n {
		r.tick(w)
	}
}

// waitFetchesSettled waits until n fetch attempts (by any worker) have
// ended and no callout is left unanswered.
func (r *rotationRig) waitFetchesSettled(n int) {
	r.t.Helper()
	waitUntil(r.t, fmt.Sprintf("%d settled fetches", n), func() bool {
		settled := metric(r.p.Host, "scopegate.jwks.fetch_ok") + metric(r.p.Host, "scopegate.jwks.fetch_failed")
		return r.p.Host.CalloutsPending() == 0 && settled >= uint64(n)
	})
}

// send sends the token to worker in the background.
func (r *rotationRig) send(worker int, token string) {
	r.mu.Lock()
	r.sent++
	r.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		d, err := r.p.Host.DoOn(ctx, worker, host.Request{Method: "GET", Path: "/orders/1", Authority: "api.example.com",
			Headers: [][2]string{{"authorization", "Bearer " + token}}})
		a := rotationAnswer{worker: worker, status: statusOf(d), body: string(d.Body)}
		if err != nil {
			a.status, a.body = -1, err.Error()
		}
		r.mu.Lock()
		r.answered = append(r.answered, a)
		r.mu.Unlock()
	}()
}

// burst sends the token perWorker times to every worker, round-robin.
func (r *rotationRig) burst(token string, perWorker int) {
	for i := range perWorker * r.n {
		r.send(i%r.n, token)
	}
}

// waitStill waits until every request sent so far is either answered or
// paused by the filter, and returns how many are paused.
func (r *rotationRig) waitStill() int {
	r.t.Helper()
	paused := 0
	waitUntil(r.t, "every request answered or paused", func() bool {
		r.mu.Lock()
		sent, answered := r.sent, len(r.answered)
		r.mu.Unlock()
		paused = r.p.Host.Paused()
		return answered+paused == sent
	})
	return paused
}

// finish ticks every worker, round after round, until no request is left
// waiting, and returns every answer. Each round first lets the fetches in
// flight end, so the rounds (not the machine's speed) decide what happens.
func (r *rotationRig) finish() []rotationAnswer {
	r.t.Helper()
	for round := 0; ; round++ {
		waitUntil(r.t, "no fetch in flight", func() bool { return r.p.Host.CalloutsPending() == 0 })
		if r.waitStill() == 0 {
			break
		}
		if round == 10 {
			r.t.Fatalf("requests still waiting after %d rounds of ticks", round)
		}
		r.tickAll()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rotationAnswer(nil), r.answered...)
}

// requireAllAllowed fails unless every answer allowed the request.
func (r *rotationRig) requireAllAllowed(answers []rotationAnswer) {
	r.t.Helper()
	var denied []string
	for _, a := range answers {
		if a.status != 200 {
			denied = append(denied, fmt.Sprintf("worker %d: %d %s", a.worker, a.status, strings.TrimSpace(a.body)))
		}
	}
	sort.Strings(denied)
	r.t.Logf("%d requests with the new kid, %d denied; identity provider: %d discovery, %d JWKS requests",
		len(answers), len(denied), r.idp.count(discoveryPath), r.idp.count(jwksPath))
	if len(denied) > 0 {
		r.t.Errorf("%d of %d requests with the new kid were denied:\n%s", len(denied), len(answers), strings.Join(denied, "\n"))
	}
}

// requireFetches fails unless the identity provider saw exactly n discovery
// and n JWKS requests.
func (r *rotationRig) requireFetches(n int) {
	r.t.Helper()
	if d, j := r.idp.count(discoveryPath), r.idp.count(jwksPath); d != n || j != n {
		r.t.Errorf("the identity provider saw %d discovery and %d JWKS requests, want %d of each", d, j, n)
	}
}

func TestAKeyRotationIsOneFetchPerProxyAndNoDenialOnAnyWorker(t *testing.T) {
	type order struct {
		name string
		run  func(r *rotationRig, token string)
	}
	orders := []order{
		{"the new kid reaches one worker, whose refetch ends before the others see it", func(r *rotationRig, token string) {
			r.send(0, token)
			if r.waitStill() != 1 {
				r.t.Fatal("the first request with the new kid was not held for a refetch")
			}
			r.tick(0)
			r.waitFetchesSettled(2)
			if r.waitStill() != 0 {
				r.t.Fatal("the refetch ended but the request that caused it still waits")
			}
			// The other workers have not ticked: the new set is only in
			// shared data. They must use it at once, without a tick.
			r.burst(token, 2)
			if paused := r.waitStill(); paused != 0 {
				r.t.Errorf("%d requests wait although the key set with their kid is in shared data", paused)
			}
		}},
		{"the new kid reaches one worker, and the others see it while its refetch is in flight", func(r *rotationRig, token string) {
			r.send(0, token)
			r.waitStill()
			r.idp.hold()
			r.tick(0)
			waitUntil(r.t, "worker 0's refetch at the identity provider", func() bool { return r.idp.count(discoveryPath) == 2 })
			r.burst(token, 2)
			r.waitStill()
			// Ticks while the refetch is in flight start no other fetch.
			r.tickAll()
			r.waitStill()
			r.idp.release()
			r.waitFetchesSettled(2)
		}},
		{"the new kid reaches every worker before any of them ticks", func(r *rotationRig, token string) {
			r.burst(token, 2)
			if paused := r.waitStill(); paused != 2*r.n {
				r.t.Fatalf("%d of %d requests held for the refetch", paused, 2*r.n)
			}
		}},
	}
	for _, alg := range []string{"RS256", "ES256"} {
		for _, workers := range []int{2, 4} {
			for _, o := range orders {
				t.Run(fmt.Sprintf("%s with %d workers: %s", alg, workers, o.name), func(t *testing.T) {
					old := testjwt.CachedKey(alg, "e2e-rotation-old")
					next := testjwt.CachedKey(alg, "e2e-rotation-new")
					r := newRotationRig(t, workers, old)
					r.idp.setKeys(old, next)
					o.run(r, keysToken(next))
					r.requireAllAllowed(r.finish())
					r.requireFetches(2)
					if n := len(r.p.logsContaining("refetching the key set")); n != 1 {
						t.Errorf("%d log lines announce a refetch, want 1", n)
					}
					// Every worker now holds the new set: the old key's tokens
					// still pass (both keys are published), with no fetch.
					for w := range workers {
						if got := statusOf(decide(t, r.p.Host, w, keysToken(old))); got != 200 {
							t.Errorf("worker %d: the old key's token after the rotation: %d", w, got)
						}
					}
					r.requireFetches(2)
					r.p.requireClean(t)
				})
			}
		}
	}
}
