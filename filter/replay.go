package filter

// The DPoP replay store: every accepted proof's jti, remembered until the
// proof could no longer pass the iat check, across all the proxy's worker
// VMs through shared data. Envoy's shared data never deletes a key, so the
// store is a fixed set of buckets (keys) chosen by a hash of the key
// thumbprint and jti; each bucket is a bounded list of (id, expiry) entries
// rewritten with a CAS write on every insert, expired entries dropped on the
// way. The buckets are created at configure time, before any request:
// Envoy writes a missing key whatever CAS is given, so creating one lazily
// could wipe another worker's fresh entry.

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strconv"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/filter/abi"
)

// Replay store bounds: replayBuckets × replayBucketEntries proofs may be
// remembered at once (131,072: a jti lives about window + skew, 121 s by
// default, so about 1,000 DPoP requests a second), each bucket at most 8 KiB.
const (
	replayBuckets       = 256
	replayBucketEntries = 512
	replayIDLen         = 12 // bytes of SHA-256(thumbprint, jti) kept per entry
	replayEntryLen      = replayIDLen + 4
	replayCASRetries    = 8
	replayKeyPrefix     = "scopegate.dpop.jti."
	replayMagic         = "sgr1"
)

// replayResult is what remembering a proof found.
type replayResult uint8

const (
	replayFresh replayResult = iota // first use: recorded
	replaySeen                      // the jti was used before with the same key
	replayFull                      // its bucket is full of live entries, or shared data failed
)

// replayStore is one VM's handle on the shared buckets.
type replayStore struct {
	keys [replayBuckets]string
}

func newReplayStore() *replayStore {
	s := &replayStore{}
	for i := range s.keys {
		s.keys[i] = replayKeyPrefix + strconv.Itoa(i)
	}
	return s
}

// create writes an empty bucket for every bucket that does not exist yet
// (on_configure: the canary, then each worker, before any request).
func (s *replayStore) create() {
	for _, key := range s.keys {
		if _, _, err := abi.GetSharedData(key); errors.Is(err, types.ErrorStatusNotFound) {
			if err := abi.SetSharedData(key, []byte(replayMagic), 0); err != nil {
				abi.LogWarn("creating the DPoP replay store failed: " + err.Error())
				return
			}
		}
	}
}

// replayID names a proof: the key it was made with and its jti, so one
// client cannot use up another's jti values.
func replayID(thumbprint, jti string) [replayIDLen]byte {
	h := sha256.New()
	h.Write([]byte(thumbprint))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	var sum [sha256.Size]byte
	var id [replayIDLen]byte
	copy(id[:], h.Sum(sum[:0]))
	return id
}

// remember records (thumbprint, jti) until expires, unless it is already
// there. now prunes expired entries.
func (s *replayStore) remember(thumbprint, jti string, expires, now time.Time) replayResult {
	id := replayID(thumbprint, jti)
	key := s.keys[binary.BigEndian.Uint16(id[:2])%replayBuckets]
	nowS := now.Unix()
	exp := uint32(max(0, min(expires.Unix()+1, int64(^uint32(0)))))
	for try := 0; try < replayCASRetries; try++ {
		data, cas, err := abi.GetSharedData(key)
		if errors.Is(err, types.ErrorStatusNotFound) {
			data, cas = []byte(replayMagic), 0 // configure could not create it
		} else if err != nil {
			abi.LogWarn("reading the DPoP replay store failed: " + err.Error())
			return replayFull
		}
		next, res := insertReplay(data, id, exp, nowS)
		if res != replayFresh {
			return res
		}
		err = abi.SetSharedData(key, next, cas)
		switch {
		case err == nil:
			return replayFresh
		case !errors.Is(err, types.ErrorStatusCasMismatch):
			abi.LogWarn("writing the DPoP replay store failed: " + err.Error())
			return replayFull
		}
	}
	abi.LogWarn("the DPoP replay store stayed contended for " + strconv.Itoa(replayCASRetries) + " writes")
	return replayFull
}

// insertReplay returns bucket data with the expired entries dropped and id
// added, or replaySeen / replayFull. Unreadable data counts as empty (it is
// rewritten); an entry expires once now passes its expiry.
func insertReplay(data []byte, id [replayIDLen]byte, exp uint32, now int64) ([]byte, replayResult) {
	var entries []byte
	if len(data) >= len(replayMagic) && string(data[:len(replayMagic)]) == replayMagic && (len(data)-len(replayMagic))%replayEntryLen == 0 {
		entries = data[len(replayMagic):]
	}
	out := make([]byte, 0, len(replayMagic)+len(entries)+replayEntryLen)
	out = append(out, replayMagic...)
	live := 0
	for i := 0; i+replayEntryLen <= len(entries); i += replayEntryLen {
		e := entries[i : i+replayEntryLen]
		if int64(binary.BigEndian.Uint32(e[replayIDLen:])) < now {
			continue
		}
		if [replayIDLen]byte(e[:replayIDLen]) == id {
			return nil, replaySeen
		}
		out = append(out, e...)
		live++
	}
	if live >= replayBucketEntries {
		return nil, replayFull
	}
	out = append(out, id[:]...)
	return binary.BigEndian.AppendUint32(out, exp), replayFresh
}
