package filter

// Unknown kids across worker VMs (issue #13): two key stores over the same
// shared data, each stepped by hand, in every order the issue names. The
// rule under test: a worker that meets an unknown kid adopts a newer shared
// set that has it, else waits for a fetch in flight, else fetches if the
// proxy's budget allows, else answers 401; and a proxy refetches once per
// unknown-kid burst.

import (
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/testjwt"
)

// kidStream is a stream that met an unknown kid in one VM.
type kidStream struct {
	id      uint32
	seen    kidSighting
	resumed int
}

// meetKid has store s meet kid on a new stream, as authorize does.
func (v *twoVMs) meetKid(s *keyStore, kid string) (*kidStream, kidVerdict) {
	ks := &kidStream{id: v.host.InitializeHttpContext()}
	return ks, v.again(s, ks, kid)
}

// again is what authorize asks the store when the stream is resumed.
func (v *twoVMs) again(s *keyStore, ks *kidStream, kid string) kidVerdict {
	asRoot()
	return s.unknownKid(v.provider(), kid, &ks.seen, ks.id, func() { ks.resumed++ })
}

// ready is two VMs that both hold the set {rs-1} and have nothing due.
func readyTwoVMs(t *testing.T, fetchExtra string) *twoVMs {
	v := startTwoVMs(t, remoteConfig(fetchExtra))
	v.answer(v.one(v.tickOn(v.a)), "200", testjwt.JWKS(rsKey()))
	v.tickOn(v.b)
	return v
}

func requireVerdict(t *testing.T, what string, got, want kidVerdict) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: verdict %d, want %d (denied 0, adopted 1, waiting 2)", what, got, want)
	}
}

func TestAKidAnotherVMAlreadyFetchedIsAdoptedAtOnce(t *testing.T) {
	v := readyTwoVMs(t, "")
	rotated := rsKey().WithKid("rs-2")
	first, verdict := v.meetKid(v.a, "rs-2")
	requireVerdict(t, "a meets the new kid", verdict, kidWaiting)
	v.answer(v.one(v.tickOn(v.a)), "200", testjwt.JWKS(rsKey(), rotated))
	if first.resumed != 1 {
		t.Fatalf("a's stream resumed %d times after a's refetch", first.resumed)
	}
	requireVerdict(t, "a's stream on resume", v.again(v.a, first, "rs-2"), kidAdopted)
	// b has not ticked since a's refetch: the set is only in shared data.
	_, verdict = v.meetKid(v.b, "rs-2")
	requireVerdict(t, "b meets the kid a just fetched", verdict, kidAdopted)
	if set, _ := v.b.keys(v.provider()); !set.HasKid("rs-2") {
		t.Error("b did not take the shared set")
	}
	if n := len(v.tickOn(v.b)) + len(v.tickOn(v.a)); n != 0 {
		t.Errorf("%d more callouts after the kid was adopted", n)
	}
	if !strings.Contains(strings.Join(v.host.GetDebugLogs(), "\n"), "adopted key set generation 2 from another worker") {
		t.Errorf("debug logs: %v", v.host.GetDebugLogs())
	}
}

func TestAKidSeenWhileAnotherVMFetchesWaitsForThatFetch(t *testing.T) {
	for _, look := range []string{"b ticks", "b meets the kid again"} {
		t.Run("and is decided when "+look, func(t *testing.T) {
			v := readyTwoVMs(t, "")
			v.meetKid(v.a, "rs-2")
			c := v.one(v.tickOn(v.a))
			waiting, verdict := v.meetKid(v.b, "rs-2")
			requireVerdict(t, "b meets the kid during a's refetch", verdict, kidWaiting)
			if n := len(v.tickOn(v.b)); n != 0 || waiting.resumed != 0 {
				t.Fatalf("while a fetches, b made %d callouts and resumed %d streams", n, waiting.resumed)
			}
			// a's fetch settles before b looks again (the no-lost-wake-up case:
			// b parked on a lease that is gone by its next look).
			v.answer(c, "200", testjwt.JWKS(rsKey(), rsKey().WithKid("rs-2")))
			if look == "b ticks" {
				if n := len(v.tickOn(v.b)); n != 0 {
					t.Errorf("b fetched again (%d callouts)", n)
				}
				if waiting.resumed != 1 {
					t.Fatalf("b's stream resumed %d times on b's next tick", waiting.resumed)
				}
				requireVerdict(t, "b's stream on resume", v.again(v.b, waiting, "rs-2"), kidAdopted)
				return
			}
			_, verdict = v.meetKid(v.b, "rs-2")
			requireVerdict(t, "another stream on b", verdict, kidAdopted)
			v.tickOn(v.b)
			if waiting.resumed != 1 {
				t.Errorf("the parked stream resumed %d times", waiting.resumed)
			}
		})
	}
}

func TestTwoVMsThatMeetAKidBeforeEitherTicksFetchOnce(t *testing.T) {
	for _, order := range []string{"a ticks first", "b ticks first"} {
		t.Run(order, func(t *testing.T) {
			v := readyTwoVMs(t, "")
			sa, _ := v.meetKid(v.a, "rs-2")
			sb, _ := v.meetKid(v.b, "rs-2")
			first, second := v.a, v.b
			if order == "b ticks first" {
				first, second = v.b, v.a
			}
			c := v.one(v.tickOn(first))
			if n := len(v.tickOn(second)); n != 0 {
				t.Fatalf("the second VM fetched too (%d callouts)", n)
			}
			v.answer(c, "200", testjwt.JWKS(rsKey(), rsKey().WithKid("rs-2")))
			for i := 0; i < 3; i++ {
				if n := len(v.tickOn(second)) + len(v.tickOn(first)); n != 0 {
					t.Fatalf("round %d after the refetch: %d more callouts", i, n)
				}
			}
			for name, s := range map[string]*kidStream{"a": sa, "b": sb} {
				store := map[string]*keyStore{"a": v.a, "b": v.b}[name]
				if s.resumed != 1 {
					t.Errorf("%s's stream resumed %d times", name, s.resumed)
				}
				requireVerdict(t, name+"'s stream on resume", v.again(store, s, "rs-2"), kidAdopted)
			}
		})
	}
}

func TestWhenTwoVMsDecideToFetchAtTheSameMomentTheCASPicksOne(t *testing.T) {
	v := readyTwoVMs(t, "")
	v.meetKid(v.a, "rs-2")
	v.meetKid(v.b, "rs-2")
	// Both read the shared record before either writes: each sees no lease
	// and the budget unspent, and both try to take the lease.
	asRoot()
	now := v.clock.Now()
	srcA, srcB := v.a.remote[0], v.b.remote[0]
	v.a.sync(srcA, now)
	v.b.sync(srcB, now)
	v.a.settle(srcA, now)
	v.b.settle(srcB, now)
	asRoot()
	c := v.one(v.newCallouts())
	if !srcA.inFlight || srcB.inFlight {
		t.Fatalf("a fetching %v, b fetching %v; want only a, whose CAS write came first", srcA.inFlight, srcB.inFlight)
	}
	v.answer(c, "200", testjwt.JWKS(rsKey(), rsKey().WithKid("rs-2")))
	if n := len(v.tickOn(v.b)); n != 0 {
		t.Errorf("b fetched after losing the CAS (%d callouts)", n)
	}
	if st, _ := v.b.keys(v.provider()); !st.HasKid("rs-2") {
		t.Error("b did not adopt a's result")
	}
	if n := strings.Count(strings.Join(v.host.GetInfoLogs(), "\n"), "refetching the key set"); n != 1 {
		t.Errorf("%d log lines announce a refetch, want 1", n)
	}
}

func TestTheUnknownKidRateLimitIsSharedAcrossVMs(t *testing.T) {
	v := readyTwoVMs(t, `"refetch_min_interval_s":30`)
	ghost, _ := v.meetKid(v.a, "new")
	v.answer(v.one(v.tickOn(v.a)), "200", testjwt.JWKS(rsKey()))
	requireVerdict(t, "a kid still unknown after the refetch", v.again(v.a, ghost, "new"), kidDenied)
	v.tickOn(v.b)
	v.advance(10 * time.Second)
	_, verdict := v.meetKid(v.b, "other")
	requireVerdict(t, "b meets another kid 10 s after a's refetch", verdict, kidDenied)
	if n := len(v.tickOn(v.b)); n != 0 {
		t.Errorf("a rate-limited kid caused %d callouts", n)
	}
	v.advance(20 * time.Second)
	_, verdict = v.meetKid(v.b, "other")
	requireVerdict(t, "b meets another kid 30 s after a's refetch", verdict, kidWaiting)
	v.one(v.tickOn(v.b))
}

func TestAKidSeenDuringAnotherVMsRefetchForAGhostKid(t *testing.T) {
	// a refetches for a kid nobody publishes; meanwhile the IdP publishes
	// rs-2 and b meets it. a's fetch was answered before the publication.
	cases := []struct {
		interval string
		want     kidVerdict
		fetches  int
	}{
		// The budget was spent on the ghost: b's kid is 401 until the interval passes.
		{`"refetch_min_interval_s":30`, kidDenied, 0},
		// No limit: b's kid gets a refetch of its own, after a's.
		{`"refetch_min_interval_s":0`, kidAdopted, 1},
	}
	for _, tc := range cases {
		t.Run(tc.interval, func(t *testing.T) {
			v := readyTwoVMs(t, tc.interval)
			v.meetKid(v.a, "ghost")
			c := v.one(v.tickOn(v.a))
			waiting, verdict := v.meetKid(v.b, "rs-2")
			requireVerdict(t, "b meets rs-2 during a's refetch", verdict, kidWaiting)
			v.answer(c, "200", testjwt.JWKS(rsKey()))
			calls := v.tickOn(v.b)
			if len(calls) != tc.fetches {
				t.Fatalf("b made %d callouts after a's refetch, want %d", len(calls), tc.fetches)
			}
			for _, c := range calls {
				v.answer(c, "200", testjwt.JWKS(rsKey(), rsKey().WithKid("rs-2")))
			}
			if waiting.resumed != 1 {
				t.Fatalf("b's stream resumed %d times", waiting.resumed)
			}
			requireVerdict(t, "b's stream on resume", v.again(v.b, waiting, "rs-2"), tc.want)
		})
	}
}

func TestAKidWaiterOutlivesAnotherVMsDeadFetch(t *testing.T) {
	v := readyTwoVMs(t, `"timeout_ms":1000,"cache_duration_s":60`)
	// a takes the lease for the routine refresh, and its VM dies.
	v.advance(time.Minute)
	v.one(v.tickOn(v.a))
	waiting, verdict := v.meetKid(v.b, "y")
	requireVerdict(t, "b meets a kid while a's lease holds", verdict, kidWaiting)
	if n := len(v.tickOn(v.b)); n != 0 || waiting.resumed != 0 {
		t.Fatalf("while a's lease holds: %d callouts, resumed %d; want b to wait", n, waiting.resumed)
	}
	v.advance(3 * time.Second)
	calls := v.tickOn(v.b) // a's lease expired: b fetches itself
	if len(calls) != 1 {
		t.Fatalf("%d callouts after a's lease expired", len(calls))
	}
	v.answer(calls[0], "200", testjwt.JWKS(rsKey()))
	if waiting.resumed != 1 {
		t.Fatalf("resumed %d times after b's own refetch", waiting.resumed)
	}
	requireVerdict(t, "a kid absent from b's refetch", v.again(v.b, waiting, "y"), kidDenied)
}

func TestAKidWaiterIsAnswered401AtItsDeadlineEvenWithAFetchInFlight(t *testing.T) {
	v := readyTwoVMs(t, `"timeout_ms":1000`)
	v.meetKid(v.a, "z")
	v.one(v.tickOn(v.a)) // never answered: a's VM is gone
	waiting, _ := v.meetKid(v.b, "z")
	start := v.clock.Now()
	// a's lease expires after its bound; b takes over (a refetch whose VM
	// vanished did not spend the budget), and b's own fetch hangs too.
	v.advance(v.b.remote[0].bound() + time.Millisecond)
	v.one(v.tickOn(v.b))
	deadline := start.Add(v.b.remote[0].waitBound())
	v.advance(deadline.Sub(v.clock.Now()))
	v.tickOn(v.b)
	if waiting.resumed != 0 {
		t.Fatal("b's stream was given up before its deadline")
	}
	v.advance(time.Millisecond)
	v.tickOn(v.b)
	if waiting.resumed != 1 {
		t.Fatalf("b's stream resumed %d times past its deadline", waiting.resumed)
	}
	requireVerdict(t, "b's stream past its deadline", v.again(v.b, waiting, "z"), kidDenied)
}

func TestAStreamWaitsOnOneSourceAtMost(t *testing.T) {
	cfg := `{"providers":[
	  {"name":"a","remote_jwks":{"cluster":"idp","uri":"` + jwksURI + `"}},
	  {"name":"b","remote_jwks":{"cluster":"idp","uri":"https://idp.example.com/other"}}]}`
	v := startTwoVMs(t, cfg)
	for _, c := range v.tickOn(v.a) {
		v.answer(c, "200", testjwt.JWKS(rsKey()))
	}
	var seen kidSighting
	asRoot()
	if got := v.a.unknownKid(v.cfg.Providers[0], "x", &seen, 1, func() {}); got != kidWaiting {
		t.Fatalf("the first provider: verdict %d, want waiting", got)
	}
	if got := v.a.unknownKid(v.cfg.Providers[1], "x", &seen, 1, func() {}); got != kidDenied {
		t.Errorf("the second provider's source after the first's wait: verdict %d, want denied", got)
	}
}
