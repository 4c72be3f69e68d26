//go:build wasip1

package abi

import "time"

//go:wasmimport wasi_snapshot_preview1 clock_time_get
func clockTimeGet(clockID uint32, precision uint64, ts *uint64) uint32

// nowNanos is the return slot of clockTimeGet (a package variable, so
// taking its address does not allocate).
var nowNanos uint64

// Now returns the wall-clock time with one host call. time.Now makes two on
// wasip1 (the wall clock, then the monotonic one), each a trip out of the
// VM; the filter only compares wall times (token exp/nbf/iat, cache
// expiry), so the monotonic reading is not needed. The Go runtime imports
// clock_time_get already, so the module's imports do not change.
func Now() time.Time {
	const realtime = 0
	if clockTimeGet(realtime, 1, &nowNanos) != 0 {
		return time.Now()
	}
	return time.Unix(0, int64(nowNanos))
}
