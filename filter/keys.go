package filter

// The key store: every provider's current key set. local_jwks sets are parsed
// at configure time; remote_jwks and discovery sets are fetched with
// proxy_http_call from on_tick (never during on_configure: Envoy discards the
// canary VM that runs it), refreshed every cache_duration_s, retried with
// exponential backoff, and shared between the proxy's worker VMs through
// shared data (shared.go) so one proxy fetches once per interval. Requests that
// arrive before a set exists are parked and resumed when the fetch settles;
// so are requests whose kid the set lacks, which get one refetch per proxy
// (unknownKid, kidState). docs/keys.md explains the numbers below.

import (
	"time"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/jwt"
)

const (
	// keysTickPeriod is the on_tick period while remote key sources exist:
	// the first fetch starts at most this long after configure, and a parked
	// request sees at most this much extra latency before its fetch starts,
	// and again before its VM sees another VM's result.
	keysTickPeriod = 200 * time.Millisecond
	// maxWaitingStreams bounds the streams one VM parks waiting for keys;
	// beyond it a request waiting for keys is answered 503 at once.
	maxWaitingStreams = 256
	// maxJWKSBodyBytes bounds a fetched JWKS or discovery document; a larger
	// answer is a failed fetch and is not read.
	maxJWKSBodyBytes = 1 << 20
	// backoffInitial is the first retry delay after a failed fetch; it doubles
	// per consecutive failure up to min(cache_duration_s, backoffCeiling).
	backoffInitial = time.Second
	backoffCeiling = 5 * time.Minute
	// fetchGrace is added to the callout timeout(s) to bound a fetch attempt:
	// the host answers a timed-out callout with (0,0,0), so an attempt still
	// unanswered after timeout+grace is given up, and another VM's lease on
	// the fetch expires after the same bound.
	fetchGrace = time.Second
)

type keyStatus uint8

const (
	keysReady       keyStatus = iota // a usable key set is present (possibly stale while refreshing)
	keysPending                      // no key set yet; a fetch is scheduled or in flight
	keysUnavailable                  // no key set, and the last fetch failed: answer 503
)

// keyStore holds the key sets of one plugin instance in one VM.
type keyStore struct {
	cfg  *Config
	m    *metrics
	now  func() time.Time
	vmID uint64 // names this VM in shared-data fetch leases

	sources []*source // by Provider.Index; nil for local_jwks providers
	remote  []*source // distinct remote sources, in configuration order

	waiting int      // streams parked across all sources
	wakes   []waiter // streams to resume once the current callback's own work is done
}

// waiter is one parked stream.
type waiter struct {
	stream   uint32
	resume   func()
	deadline time.Time    // never wait longer than this, whatever happens to the fetch
	kid      *kidSighting // nil: waits for a first key set; else for a fetch that decides an unknown kid
}

// kidSighting is what a stream remembers of the moment it first met a kid
// missing from its provider's key set, so that every later look at the kid
// is judged against that same moment (see kidState).
type kidSighting struct {
	src      *source // nil until the stream meets an unknown kid
	kid      string
	attempts uint64    // fetch attempts the proxy had started by then (record.attempts)
	deadline time.Time // the stream waits for the kid no longer than this
}

// source is one remote key source. Providers naming the same cluster, URI
// (and, for discovery, issuer and JWKS cluster) share one source and one
// fetched set.
type source struct {
	names       string // provider name(s), for logs
	issuer      string // discovery: the issuer the document must name
	fetch       Fetch  // the first request: the JWKS itself, or the discovery document
	discovery   bool
	jwksCluster string
	key         string // shared-data key

	set  *jwt.KeySet // current set; replaced (new pointer) only when the bytes change
	body []byte      // the JWKS bytes set was parsed from
	gen  uint64      // shared-data generation of body
	// failed: there is no set and the last fetch (by any VM) failed.
	failed       bool
	seenFailedAt int64

	rec record // last record read from or written to shared data
	cas uint32 // CAS of rec as read; 0 when not found

	inFlight      bool
	attempt       uint64 // numbers this VM's attempts; stale callbacks are ignored
	attemptNo     uint64 // the proxy-wide number (record.attempts) of this VM's current attempt
	attemptStart  time.Time
	inFlightUntil time.Time

	waiters []waiter
}

// newKeyStore is called at OnPluginStart after the config is parsed;
// local_jwks providers are ready at once.
func newKeyStore(cfg *Config, m *metrics, now func() time.Time) *keyStore {
	s := &keyStore{cfg: cfg, m: m, now: now, vmID: newVMID(), sources: make([]*source, len(cfg.Providers))}
	byKey := map[string]*source{}
	for _, p := range cfg.Providers {
		var src *source
		switch {
		case p.RemoteJWKS != nil:
			src = &source{fetch: p.RemoteJWKS.Fetch}
		case p.Discovery != nil:
			src = &source{fetch: p.Discovery.Fetch, discovery: true, jwksCluster: p.Discovery.JWKSCluster, issuer: p.Issuer}
		default:
			continue
		}
		src.key = sharedKey(src)
		if prev, ok := byKey[src.key]; ok {
			prev.names += ", " + p.Name
			s.sources[p.Index] = prev
			continue
		}
		src.names = p.Name
		byKey[src.key] = src
		s.sources[p.Index] = src
		s.remote = append(s.remote, src)
	}
	return s
}

// start sets the tick period when there is something to fetch; the first
// fetch happens on the first tick (called from OnPluginStart).
func (s *keyStore) start() {
	if len(s.remote) == 0 {
		return
	}
	if err := abi.SetTickPeriodMilliSeconds(uint32(keysTickPeriod / time.Millisecond)); err != nil {
		abi.LogError("setting the tick period for key fetching failed: " + err.Error())
	}
	for _, src := range s.remote {
		createRecord(src)
	}
}

// onTick drives fetches, refreshes, backoff and shared-data reads (called
// from OnTick). Parked streams are resumed only after every source's host
// calls are done, because resuming changes the effective context.
func (s *keyStore) onTick() {
	defer s.flushWakes()
	now := s.now()
	for _, src := range s.remote {
		s.step(src, now)
	}
}

// step advances one source by one tick.
func (s *keyStore) step(src *source, now time.Time) {
	if src.inFlight && now.After(src.inFlightUntil) {
		s.fetchFailed(src, now, "no answer within "+src.bound().String())
	}
	if !src.inFlight {
		s.sync(src, now)
		if s.due(src, now) && s.takeLease(src, now, false) {
			s.startFetch(src, now)
		}
	}
	s.expireWaiters(src, now)
	s.settle(src, now)
}

// due reports whether this VM should refresh src now, judging by the
// shared record: nobody else holds an unexpired lease, the set is missing
// or older than cache_duration_s, and any backoff delay has passed.
// (Fetches for unknown kids are decided by settle.)
func (s *keyStore) due(src *source, now time.Time) bool {
	r, ns := &src.rec, now.UnixNano()
	if r.leaseOwner != 0 && r.leaseOwner != s.vmID && r.leaseUntil > ns {
		return false
	}
	if ns < r.retryAt {
		return false
	}
	return r.gen == 0 || ns >= r.fetchedAt+src.fetch.CacheDuration.Nanoseconds()
}

// bound is the longest a fetch attempt may take.
func (src *source) bound() time.Duration {
	d := src.fetch.Timeout
	if src.discovery {
		d *= 2
	}
	return d + fetchGrace
}

// waitBound is the longest a parked stream waits.
func (src *source) waitBound() time.Duration {
	return src.bound() + fetchGrace + 2*keysTickPeriod
}

// kidState is where an unknown kid stands.
type kidState uint8

const (
	kidFound   kidState = iota // the key set now holds the kid: verify again
	kidMissing                 // the kid stays unknown: 401
	kidPending                 // a fetch is in flight (in any VM): wait for its result
	kidDue                     // nobody is fetching and the refetch budget allows a fetch
)

// kidState judges a sighting against src as this VM sees it now (callers
// read the shared record first). DESIGN §5: a kid missing from the set gets
// one refetch, rate-limited per proxy; it is never tried against other keys.
// A fetch that began after the kid was first seen is that refetch, whichever
// VM made it and whatever made it start: once it has settled without the
// kid, the answer is 401. A fetch begun before the sighting may predate the
// key's publication, so its result only counts if it has the kid.
func (s *keyStore) kidState(src *source, k *kidSighting, now time.Time) kidState {
	r, ns := &src.rec, now.UnixNano()
	switch {
	case src.set.HasKid(k.kid):
		return kidFound
	case r.settled > k.attempts || now.After(k.deadline):
		return kidMissing
	case src.inFlight || (r.leaseOwner != 0 && r.leaseUntil > ns):
		return kidPending
	case r.kidRefetchAt == 0 || ns-r.kidRefetchAt >= src.fetch.RefetchMinInterval.Nanoseconds():
		return kidDue
	case r.settled < r.attempts:
		// The last attempt's lease expired before it settled (its VM is
		// gone): whatever it was, it decided nothing.
		return kidDue
	}
	return kidMissing // refetch_min_interval_s has not passed since the proxy's last unknown-kid refetch
}

// settle resolves the streams parked on src: those waiting for a first set
// once there is one or fetching failed, those waiting on an unknown kid once
// their kid is found or stays unknown. When a kid needs a fetch that no VM
// is making, this VM takes the lease (a CAS write, so of several VMs that
// decide at once only one fetches) and fetches now; the others see its lease
// or its result on their next look. Runs on every tick and after every
// fetch, so no parked stream is missed for longer than a tick.
func (s *keyStore) settle(src *source, now time.Time) {
	keysDecided := src.set != nil || src.failed
	var due *kidSighting
	kept := src.waiters[:0]
	for _, w := range src.waiters {
		wake := keysDecided
		if w.kid != nil {
			st := s.kidState(src, w.kid, now)
			wake = st == kidFound || st == kidMissing
			if st == kidDue && due == nil {
				due = w.kid
			}
		}
		if wake {
			s.queueWake(w)
		} else {
			kept = append(kept, w)
		}
	}
	clear(src.waiters[len(kept):])
	src.waiters = kept
	if due != nil && !src.inFlight && s.takeLease(src, now, true) {
		abi.LogInfo("provider " + src.names + ": token signed with unknown kid " + quoteShort(due.kid) + "; refetching the key set")
		s.startFetch(src, now)
	}
}

// expireWaiters gives up on a first key set once a stream waiting for it
// has waited past its deadline: the source counts as failed, so those
// streams (and new ones) get 503. (Streams waiting on an unknown kid only
// exist once there is a set; kidState applies their deadline.)
func (s *keyStore) expireWaiters(src *source, now time.Time) {
	if src.set != nil || src.failed {
		return
	}
	for _, w := range src.waiters {
		if now.After(w.deadline) {
			abi.LogWarn("provider " + src.names + ": no signing keys within " + src.bound().String() + "; waiting requests are answered 503")
			src.failed = true
			return
		}
	}
}

// keys returns the provider's current key set and status; the set changes
// pointer identity on every replacement.
func (s *keyStore) keys(p *Provider) (*jwt.KeySet, keyStatus) {
	if p.LocalJWKS != nil {
		return p.LocalJWKS, keysReady
	}
	src := s.source(p)
	switch {
	case src == nil:
		return nil, keysUnavailable
	case src.set != nil:
		return src.set, keysReady
	case src.failed:
		return nil, keysUnavailable
	}
	return nil, keysPending
}

func (s *keyStore) source(p *Provider) *source {
	if p == nil || p.Index < 0 || p.Index >= len(s.sources) {
		return nil
	}
	return s.sources[p.Index]
}

// waitForKeys parks a paused stream until p's keys arrive or the fetch fails;
// false: too many waiting streams (answer 503 now). When done it calls
// abi.SetEffectiveContext(streamID) and, if that succeeds, resume().
func (s *keyStore) waitForKeys(p *Provider, streamID uint32, resume func()) bool {
	src := s.source(p)
	if src == nil || s.waiting >= maxWaitingStreams {
		return false
	}
	s.park(src, streamID, resume)
	return true
}

// kidVerdict is what authorize does about a kid missing from the key set.
type kidVerdict uint8

const (
	kidDenied  kidVerdict = iota // the kid stays unknown: 401
	kidAdopted                   // a newer key set (fetched by any VM) has the kid: verify again
	kidWaiting                   // the stream is parked until a fetch decides
)

// unknownKid handles a token whose kid p's key set lacks. It first reads the
// newest key set in shared data and, if that has the kid, adopts it at once.
// Otherwise the stream waits for the fetch some VM has in flight or, if the
// proxy's refetch budget (refetch_min_interval_s) allows, for the refetch
// that the first of the proxy's VMs to look (settle, on its tick) starts;
// else the answer is 401. seen is the stream's own record of its sighting:
// a stream waits on one source at most, and later looks are judged against
// its first. When the wait ends the store calls
// abi.SetEffectiveContext(streamID) and resume().
func (s *keyStore) unknownKid(p *Provider, kid string, seen *kidSighting, streamID uint32, resume func()) kidVerdict {
	src := s.source(p)
	if src == nil || (seen.src != nil && seen.src != src) {
		return kidDenied
	}
	now := s.now()
	s.sync(src, now)
	if seen.src == nil {
		*seen = kidSighting{src: src, kid: kid, attempts: src.rec.attempts, deadline: now.Add(src.waitBound())}
	}
	switch s.kidState(src, seen, now) {
	case kidFound:
		return kidAdopted
	case kidMissing:
		return kidDenied
	}
	if s.waiting >= maxWaitingStreams {
		return kidDenied
	}
	src.waiters = append(src.waiters, waiter{stream: streamID, resume: resume, deadline: seen.deadline, kid: seen})
	s.waiting++
	return kidWaiting
}

// quoteShort quotes an attacker-chosen kid for a log line, cut to 64 bytes.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			c = '?'
		}
		b = append(b, c)
	}
	return string(append(b, '"'))
}

func (s *keyStore) park(src *source, streamID uint32, resume func()) {
	deadline := s.now().Add(src.waitBound())
	src.waiters = append(src.waiters, waiter{stream: streamID, resume: resume, deadline: deadline})
	s.waiting++
}

// cancel forgets a parked stream (stream deleted before its keys arrived).
func (s *keyStore) cancel(streamID uint32) {
	for _, src := range s.remote {
		for i, w := range src.waiters {
			if w.stream == streamID {
				src.waiters = append(src.waiters[:i], src.waiters[i+1:]...)
				s.waiting--
				break
			}
		}
	}
	for i, w := range s.wakes {
		if w.stream == streamID {
			s.wakes = append(s.wakes[:i], s.wakes[i+1:]...)
			break
		}
	}
}

func (s *keyStore) queueWake(w waiter) {
	s.waiting--
	s.wakes = append(s.wakes, w)
}

// flushWakes resumes the queued streams. It runs last in a callback: each
// resume makes its stream the effective context, after which no host call
// may be meant for the root context.
func (s *keyStore) flushWakes() {
	batch := s.wakes
	s.wakes = nil
	for _, w := range batch {
		if abi.SetEffectiveContext(w.stream) != nil {
			continue // the stream is gone
		}
		s.resumeSafely(w)
	}
}

// resumeSafely runs one resume so that a panic in it cannot strand the
// other streams of the batch.
func (s *keyStore) resumeSafely(w waiter) {
	defer func() {
		if r := recover(); r != nil {
			abi.LogError("resuming a request after key fetching panicked")
		}
	}()
	w.resume()
}
