package filter

import (
	"bytes"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// twoVMs is two key stores over the same shared data, as two worker VMs of
// one proxy would have. The emulator is a single VM, so both stores live in
// it; their callouts are dispatched from the (local-only) plugin's root
// context.
type twoVMs struct {
	*keysHarness
	cfg  *Config
	a, b *keyStore
}

func startTwoVMs(t testing.TB, cfg string) *twoVMs {
	t.Helper()
	k := startKeys(t, localConfig("", ""))
	c, err := ParseConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	m := defineMetrics()
	v := &twoVMs{keysHarness: k, cfg: c, a: newKeyStore(c, m, k.clock.Now), b: newKeyStore(c, m, k.clock.Now)}
	if v.a.vmID == v.b.vmID {
		t.Fatal("two VMs drew the same id")
	}
	return v
}

// tickOn runs one tick on a store (as its VM's root context) and returns
// the callouts it made.
func (v *twoVMs) tickOn(s *keyStore) []proxytest.HttpCalloutAttribute {
	asRoot()
	s.onTick()
	asRoot()
	return v.newCallouts()
}

func (v *twoVMs) provider() *Provider { return v.cfg.Providers[0] }

func (v *twoVMs) status(s *keyStore) keyStatus {
	_, st := s.keys(v.provider())
	return st
}

func TestTwoVMsFetchOncePerIntervalAndEachParsesItsOwnSet(t *testing.T) {
	v := startTwoVMs(t, remoteConfig(`"cache_duration_s":60`))
	v.answer(v.one(v.tickOn(v.a)), "200", testjwt.JWKS(rsKey()))
	if n := len(v.tickOn(v.b)); n != 0 {
		t.Fatalf("the second VM fetched (%d callouts) although the first just did", n)
	}
	setA, stA := v.a.keys(v.provider())
	setB, stB := v.b.keys(v.provider())
	if stA != keysReady || stB != keysReady {
		t.Fatalf("status a=%d b=%d, want both ready", stA, stB)
	}
	if setA == setB || !setB.HasKid("rs-1") {
		t.Error("the second VM must parse the shared bytes into its own set")
	}
	// Ten more intervals, the VMs ticking in turns: one fetch per interval.
	callouts := 1
	for i := 0; i < 10; i++ {
		v.advance(time.Minute)
		first, second := v.a, v.b
		if i%2 == 1 {
			first, second = v.b, v.a
		}
		calls := v.tickOn(first)
		calls = append(calls, v.tickOn(second)...)
		callouts += len(calls)
		for _, c := range calls {
			v.answer(c, "200", testjwt.JWKS(rsKey()))
		}
		v.tickOn(second)
	}
	if callouts != 11 {
		t.Errorf("%d fetches over 11 intervals, want 11", callouts)
	}
	if st := v.status(v.b); st != keysReady {
		t.Errorf("b status %d", st)
	}
}

func TestAStreamWaitingInOneVMIsResumedByAnotherVMsFetch(t *testing.T) {
	v := startTwoVMs(t, remoteConfig(""))
	c := v.one(v.tickOn(v.a))
	if v.status(v.b) != keysPending {
		t.Fatalf("b status %d before any key, want pending", v.status(v.b))
	}
	stream := v.host.InitializeHttpContext()
	resumed := 0
	if !v.b.waitForKeys(v.provider(), stream, func() { resumed++ }) {
		t.Fatal("waitForKeys refused")
	}
	if n := len(v.tickOn(v.b)); n != 0 {
		t.Fatalf("b fetched while a holds the lease (%d callouts)", n)
	}
	v.answer(c, "200", testjwt.JWKS(rsKey()))
	if resumed != 0 {
		t.Fatal("b's stream resumed before b saw the result")
	}
	v.tickOn(v.b)
	if resumed != 1 || v.status(v.b) != keysReady {
		t.Errorf("resumed %d times, b status %d", resumed, v.status(v.b))
	}
}

func TestAFailureSeenInSharedDataAnswersTheOtherVMsWaiters(t *testing.T) {
	v := startTwoVMs(t, remoteConfig(""))
	c := v.one(v.tickOn(v.a))
	stream := v.host.InitializeHttpContext()
	resumed := 0
	v.b.waitForKeys(v.provider(), stream, func() { resumed++ })
	v.failCall(c)
	v.tickOn(v.b)
	if resumed != 1 || v.status(v.b) != keysUnavailable {
		t.Errorf("resumed %d, b status %d, want the waiter released and 503 (unavailable)", resumed, v.status(v.b))
	}
	// The backoff is shared too: b does not retry before the delay.
	if n := len(v.tickOn(v.b)); n != 0 {
		t.Errorf("b retried at once (%d callouts)", n)
	}
	v.advance(time.Second)
	if n := len(v.tickOn(v.b)); n != 1 {
		t.Errorf("b did not retry after the backoff delay (%d callouts)", n)
	}
}

func TestAnExpiredFetchLeaseIsTakenOverByAnotherVM(t *testing.T) {
	v := startTwoVMs(t, remoteConfig(`"timeout_ms":1000`))
	v.one(v.tickOn(v.a)) // never answered: the VM died, say
	v.advance(1500 * time.Millisecond)
	if n := len(v.tickOn(v.b)); n != 0 {
		t.Fatalf("b fetched before the lease expired (%d callouts)", n)
	}
	v.advance(time.Second)
	c := v.one(v.tickOn(v.b))
	v.answer(c, "200", testjwt.JWKS(rsKey()))
	if v.status(v.b) != keysReady {
		t.Errorf("b status %d", v.status(v.b))
	}
}

func TestAnUnreadableSharedRecordIsReplaced(t *testing.T) {
	v := startTwoVMs(t, remoteConfig(""))
	key := v.a.remote[0].key
	if err := abi.SetSharedData(key, []byte("garbage"), 0); err != nil {
		t.Fatal(err)
	}
	v.answer(v.one(v.tickOn(v.a)), "200", testjwt.JWKS(rsKey()))
	data, _, err := abi.GetSharedData(key)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := decodeRecord(data); !ok || r.gen != 1 {
		t.Errorf("record after the fetch: %+v ok=%v", r, ok)
	}
	body, _, err := abi.GetSharedData(key + bodyKeySuffix)
	if gen, jwks, ok := decodeBody(body); err != nil || !ok || gen != 1 || !bytes.Equal(jwks, testjwt.JWKS(rsKey())) {
		t.Errorf("shared bytes after the fetch: gen %d ok %v err %v", gen, ok, err)
	}
}

func TestProvidersWithTheSameSourceShareOneFetch(t *testing.T) {
	cfg := `{"providers":[
	  {"name":"a","issuer":"https://a","remote_jwks":{"cluster":"idp","uri":"` + jwksURI + `"}},
	  {"name":"b","issuer":"https://b","remote_jwks":{"cluster":"idp","uri":"` + jwksURI + `"}},
	  {"name":"c","issuer":"https://c","remote_jwks":{"cluster":"idp","uri":"https://idp.example.com/other"}}]}`
	v := startTwoVMs(t, cfg)
	calls := v.tickOn(v.a)
	if len(calls) != 2 {
		t.Fatalf("%d callouts for two distinct sources", len(calls))
	}
	// Answer the newest first: the emulator reuses the ids of answered callouts.
	v.answer(calls[1], "200", testjwt.JWKS(esKey()))
	v.answer(calls[0], "200", testjwt.JWKS(rsKey()))
	sa, _ := v.a.keys(v.cfg.Providers[0])
	sb, _ := v.a.keys(v.cfg.Providers[1])
	sc, _ := v.a.keys(v.cfg.Providers[2])
	if sa == nil || sa != sb || sc == sa {
		t.Errorf("sets a=%p b=%p c=%p: a and b share one source, c has its own", sa, sb, sc)
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	r := record{gen: 3, fetchedAt: 1_800_000_000_000_000_000, failedAt: 5, failures: 2, retryAt: 7,
		leaseOwner: 1<<63 + 9, leaseUntil: 11, kidRefetchAt: 13, attempts: 17, settled: 16, jwksURI: "https://idp/certs"}
	if got, ok := decodeRecord(r.encode()); !ok || got != r {
		t.Errorf("round trip: %+v ok=%v", got, ok)
	}
	for _, bad := range []string{"", "sgk2 1 2 3 4 5 6 7 8 9 10", "sgk3 1 2 3 4 5 6 7 8 9 10\n", "sgk2 1 2 3 4 5 6 7 8 9\n",
		"sgk2 1 2 3 x 5 6 7 8 9 10\n", "sgk2 1 2 3 4 5 6 7 8 9 10 11\n", "sgk2 1 2 3 99999999 5 6 7 8 9 10\n",
		"sgk2 1 2 3 4 5 6 7 8 9 10\nhas space", "sgk2 1 2 3 4 5 6 7 8 9 10\nline\nbreak",
		"sgk1 1 2 3 4 5 6 7 8\n"} { // format version 1 (no attempt numbers) is replaced, not misread
		if _, ok := decodeRecord([]byte(bad)); ok {
			t.Errorf("decodeRecord(%q) accepted", bad)
		}
	}
}

func TestARecordWithAnOddJWKSURIStillDecodes(t *testing.T) {
	r := record{gen: 1, jwksURI: "http://idp/a b\n\x7f"}
	got, ok := decodeRecord(r.encode())
	if !ok || got.jwksURI != "http://idp/a%20b%0A%7F" {
		t.Errorf("decoded %+v ok=%v", got, ok)
	}
}

func TestSharedBytesRoundTrip(t *testing.T) {
	jwks := []byte("{\"keys\":[]}\n\n")
	gen, got, ok := decodeBody(encodeBody(7, jwks))
	if !ok || gen != 7 || !bytes.Equal(got, jwks) {
		t.Errorf("round trip: %d %q %v", gen, got, ok)
	}
	for _, bad := range []string{"", "sgkb 7", "sgkb 0\n{}", "sgkb x\n{}", "sgk1 7\n{}", "sgkb7\n{}"} {
		if _, _, ok := decodeBody([]byte(bad)); ok {
			t.Errorf("decodeBody(%q) accepted", bad)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add((&record{gen: 1, fetchedAt: 2, jwksURI: "https://x/y"}).encode())
	f.Add((&record{failures: 3, leaseOwner: 42, leaseUntil: 9, attempts: 4, settled: 3}).encode())
	f.Add([]byte("sgk2 1 2 3 4 5 6 7 8 9 10\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, ok := decodeRecord(data)
		if !ok {
			return
		}
		again, ok := decodeRecord(r.encode())
		if !ok || again != r {
			t.Fatalf("re-encoding changed the record: %+v -> %+v", r, again)
		}
	})
}

func TestConfigureCreatesAnEmptySharedRecordAndFetchesNothing(t *testing.T) {
	k := startKeys(t, remoteConfig(""))
	src := k.plugin().keys.remote[0]
	data, cas, err := abi.GetSharedData(src.key)
	if err != nil || cas == 0 {
		t.Fatalf("no shared record after configure: cas %d err %v", cas, err)
	}
	if r, ok := decodeRecord(data); !ok || r != (record{}) {
		t.Errorf("record after configure: %+v ok=%v, want an empty one", r, ok)
	}
	if n := len(k.newCallouts()); n != 0 {
		t.Errorf("%d callouts during configure", n)
	}
	// The first lease is then a CAS write on that record.
	k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
	if _, cas2, _ := abi.GetSharedData(src.key); cas2 == cas {
		t.Error("the fetch did not update the shared record")
	}
}

// BenchmarkSteadyTick is the cost of one on_tick of a VM whose key set is
// current: one small shared-data read per remote source.
func BenchmarkSteadyTick(b *testing.B) {
	v := startTwoVMs(b, remoteConfig(""))
	v.answer(v.one(v.tickOn(v.a)), "200", testjwt.JWKS(rsKey(), esKey()))
	v.tickOn(v.b)
	asRoot()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v.b.onTick()
	}
}
