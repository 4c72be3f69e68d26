package filter

// Sharing fetched key sets between the proxy's worker VMs. Envoy clones the
// VM per worker thread; without sharing, every worker would fetch every key
// set itself. Each remote source has a small shared-data record (when the
// set was last fetched, its generation, the failure/backoff state and a
// fetch lease), read on every tick, and the last good JWKS bytes under a
// second key, read only when the generation changes. A VM fetches only after
// taking the lease with a CAS write; the others read the result on their
// next tick and parse the bytes into their own KeySet once per generation.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/jwt"
)

// sharedKeyPrefix begins every shared-data key scopegate writes.
const sharedKeyPrefix = "scopegate.jwks."

// recordMagic starts an encoded record (format version 2: version 1 had no
// attempt numbers), bodyMagic the value holding the JWKS bytes.
const (
	recordMagic = "sgk2"
	bodyMagic   = "sgkb"
)

// bodyKeySuffix turns a record's key into the key of its JWKS bytes.
const bodyKeySuffix = ".jwks"

// record is the shared state of one remote source. Times are unix
// nanoseconds; 0 means never.
type record struct {
	gen          uint64 // bumped on every successful fetch; the bytes carry the same number
	fetchedAt    int64  // last successful fetch
	failedAt     int64  // last failed attempt
	failures     uint32 // consecutive failed attempts
	retryAt      int64  // no routine attempt before this (backoff)
	leaseOwner   uint64 // VM fetching now (0: none)
	leaseUntil   int64  // the lease is void after this
	kidRefetchAt int64  // last unknown-kid refetch by any VM (rate limit)
	attempts     uint64 // fetch attempts started by any VM; each lease numbers one
	settled      uint64 // the number of the last attempt that ended (ok or failed)
	jwksURI      string // discovery: the jwks_uri the set came from
}

// recordNumbers is the number of decimal fields an encoded record has.
const recordNumbers = 10

// encode writes the record as one line of decimal fields, then the jwks_uri.
func (r *record) encode() []byte {
	b := make([]byte, 0, 128+len(r.jwksURI))
	b = append(b, recordMagic...)
	for _, v := range [recordNumbers]uint64{r.gen, uint64(r.fetchedAt), uint64(r.failedAt), uint64(r.failures),
		uint64(r.retryAt), r.leaseOwner, uint64(r.leaseUntil), uint64(r.kidRefetchAt), r.attempts, r.settled} {
		b = append(b, ' ')
		b = strconv.AppendUint(b, v, 10)
	}
	b = append(b, '\n')
	// The URI is for logs only; control bytes and spaces are escaped so the
	// record always decodes.
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(r.jwksURI); i++ {
		if c := r.jwksURI[i]; c < 0x21 || c == 0x7f {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		} else {
			b = append(b, c)
		}
	}
	return b
}

// decodeRecord parses an encoded record; ok is false for anything else (a
// record from another format version, or garbage), which the next write
// replaces.
func decodeRecord(data []byte) (r record, ok bool) {
	line, uri, found := bytes.Cut(data, []byte{'\n'})
	if !found {
		return record{}, false
	}
	fields := strings.Split(string(line), " ")
	if len(fields) != 1+recordNumbers || fields[0] != recordMagic {
		return record{}, false
	}
	var v [recordNumbers]uint64
	for i, f := range fields[1:] {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return record{}, false
		}
		v[i] = n
	}
	if v[3] > 1<<16 {
		return record{}, false
	}
	for _, c := range uri {
		if c < 0x21 || c == 0x7f {
			return record{}, false
		}
	}
	return record{
		gen: v[0], fetchedAt: int64(v[1]), failedAt: int64(v[2]), failures: uint32(v[3]),
		retryAt: int64(v[4]), leaseOwner: v[5], leaseUntil: int64(v[6]), kidRefetchAt: int64(v[7]),
		attempts: v[8], settled: v[9], jwksURI: string(uri),
	}, true
}

// encodeBody prefixes JWKS bytes with the generation they belong to.
func encodeBody(gen uint64, jwks []byte) []byte {
	b := make([]byte, 0, 32+len(jwks))
	b = append(b, bodyMagic...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, gen, 10)
	b = append(b, '\n')
	return append(b, jwks...)
}

// decodeBody splits a value written by encodeBody.
func decodeBody(data []byte) (gen uint64, jwks []byte, ok bool) {
	line, jwks, found := bytes.Cut(data, []byte{'\n'})
	if !found {
		return 0, nil, false
	}
	magic, num, found := bytes.Cut(line, []byte{' '})
	if !found || string(magic) != bodyMagic {
		return 0, nil, false
	}
	gen, err := strconv.ParseUint(string(num), 10, 64)
	if err != nil || gen == 0 {
		return 0, nil, false
	}
	return gen, jwks, true
}

// sharedKey names a source's record: the same source configured twice (in
// one plugin or in several sharing the VM id) shares one record.
func sharedKey(src *source) string {
	h := sha256.New()
	kind := "jwks"
	if src.discovery {
		kind = "discovery"
	}
	for _, part := range []string{kind, src.fetch.Cluster, src.fetch.URI, src.jwksCluster, src.issuer} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return sharedKeyPrefix + hex.EncodeToString(h.Sum(nil)[:16])
}

// newVMID names this VM in fetch leases. The Go runtime seeds math/rand/v2
// from the host's random_get, so cloned VMs get different ids.
func newVMID() uint64 {
	for {
		if id := rand.Uint64(); id != 0 {
			return id
		}
	}
}

// createRecord writes an empty record for src unless one exists. It runs at
// configure time, before any tick, so that every later lease is a CAS write
// on an existing record: Envoy creates a missing key whatever CAS is given,
// which would let two VMs both take the first lease.
func createRecord(src *source) {
	if _, _, err := abi.GetSharedData(src.key); !errors.Is(err, types.ErrorStatusNotFound) {
		return
	}
	empty := record{}
	if err := abi.SetSharedData(src.key, empty.encode(), 0); err != nil {
		abi.LogWarn("provider " + src.names + ": creating shared key data failed: " + err.Error())
	}
}

// sync reads the shared record and adopts what other VMs fetched: a newer
// set, or a failure while this VM has no set.
func (s *keyStore) sync(src *source, now time.Time) {
	data, cas, err := abi.GetSharedData(src.key)
	if err != nil {
		if !errors.Is(err, types.ErrorStatusNotFound) {
			abi.LogWarn("provider " + src.names + ": reading shared key data failed: " + err.Error())
		}
		src.cas = 0
		return // keep working from the local copy of the record
	}
	rec, ok := decodeRecord(data)
	src.cas = cas
	if !ok {
		return // unreadable: the next write replaces it
	}
	src.rec = rec
	if rec.gen != 0 && rec.gen != src.gen {
		s.adoptBody(src)
	}
	if rec.failedAt != 0 && rec.failedAt != src.seenFailedAt && rec.failedAt > rec.fetchedAt {
		src.seenFailedAt = rec.failedAt
		if src.set == nil {
			src.failed = true
		}
	}
}

// adoptBody reads the shared JWKS bytes and, when they differ from this
// VM's, parses them into a new set. src.gen becomes the bytes' generation
// even when they are unusable, so a bad value is not parsed on every tick.
func (s *keyStore) adoptBody(src *source) {
	data, _, err := abi.GetSharedData(src.key + bodyKeySuffix)
	if err != nil {
		return
	}
	gen, jwks, ok := decodeBody(data)
	if !ok || gen == src.gen {
		return
	}
	src.gen = gen
	if src.set != nil && bytes.Equal(jwks, src.body) {
		return
	}
	set, _, err := jwt.ParseJWKS(jwks, jwt.JWKSOptions{MaxBytes: maxJWKSBodyBytes})
	if err != nil {
		abi.LogWarn("provider " + src.names + ": the shared key set is unusable: " + err.Error())
		return
	}
	src.set, src.body = set, bytes.Clone(jwks)
	src.failed = false
	if abi.LogEnabled(abi.LogLevelDebug) {
		abi.LogDebug("provider " + src.names + ": adopted key set generation " + strconv.FormatUint(gen, 10) + " from another worker")
	}
}

// nextGen is the generation a newly fetched set gets: one past the
// shared record's (or this VM's view of it).
func (s *keyStore) nextGen(src *source) uint64 {
	gen := max(src.rec.gen, src.gen)
	if data, _, err := abi.GetSharedData(src.key); err == nil {
		if r, ok := decodeRecord(data); ok {
			gen = max(gen, r.gen)
		}
	}
	return gen + 1
}

// storeBody writes the JWKS bytes of generation gen for the other VMs,
// before the record announcing gen is written.
func (s *keyStore) storeBody(src *source, gen uint64, jwks []byte) {
	key := src.key + bodyKeySuffix
	value := encodeBody(gen, jwks)
	for try := 0; try < 4; try++ {
		_, cas, err := abi.GetSharedData(key)
		if err != nil && !errors.Is(err, types.ErrorStatusNotFound) {
			break
		}
		err = abi.SetSharedData(key, value, cas)
		if err == nil {
			return
		}
		if !errors.Is(err, types.ErrorStatusCasMismatch) {
			break
		}
	}
	abi.LogWarn("provider " + src.names + ": sharing the fetched key set failed; other VMs fetch their own")
}

// takeLease claims the right to fetch src with a CAS write of the record,
// so only one VM fetches at a time, and numbers the attempt; forKid marks
// it as an unknown-kid refetch (the rate limit). A fresh record (no CAS
// yet) is re-read after the write: Envoy creates a missing key
// unconditionally, so two VMs may both write it and the one whose marker
// survived fetches.
func (s *keyStore) takeLease(src *source, now time.Time, forKid bool) bool {
	r := src.rec
	ns := now.UnixNano()
	r.leaseOwner, r.leaseUntil = s.vmID, ns+src.bound().Nanoseconds()
	r.attempts++
	if forKid {
		r.kidRefetchAt = ns
	}
	err := abi.SetSharedData(src.key, r.encode(), src.cas)
	switch {
	case err == nil:
	case errors.Is(err, types.ErrorStatusCasMismatch):
		return false // another VM wrote first; its lease or result shows on the next look
	default:
		abi.LogWarn("provider " + src.names + ": writing shared key data failed: " + err.Error())
		src.rec, src.attemptNo = r, r.attempts
		return true // no sharing: fetch for this VM alone
	}
	if src.cas == 0 {
		if data, _, err := abi.GetSharedData(src.key); err == nil {
			if got, ok := decodeRecord(data); ok && got.leaseOwner != s.vmID {
				return false
			}
		}
	}
	src.rec, src.attemptNo = r, r.attempts
	return true
}

// publish records the end of this VM's current attempt: it applies change
// to the current shared record, marks the attempt settled and writes the
// record back, releasing this VM's lease; it retries a few times if another
// VM writes in between. src.rec ends as the written (or, failing that,
// local) record.
func (s *keyStore) publish(src *source, change func(*record)) {
	for try := 0; try < 4; try++ {
		r, cas := src.rec, uint32(0)
		data, c, err := abi.GetSharedData(src.key)
		if err == nil {
			if got, ok := decodeRecord(data); ok {
				r = got
			}
			cas = c
		}
		change(&r)
		r.settled = max(r.settled, src.attemptNo)
		if r.leaseOwner == s.vmID {
			r.leaseOwner, r.leaseUntil = 0, 0
		}
		src.rec = r
		err = abi.SetSharedData(src.key, r.encode(), cas)
		if err == nil || !errors.Is(err, types.ErrorStatusCasMismatch) {
			return
		}
	}
}
