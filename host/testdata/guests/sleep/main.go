//go:build wasip1

// Command sleep sleeps in on_request_headers: the Go runtime needs
// poll_oneoff, which Envoy 1.33-1.38 answer with ENOSYS, so the VM dies.
package main

import (
	"time"

	g "github.com/scopegate/scopegate/host/testdata/guests/guestabi"
)

func main() {}

// sleepFor is long enough that the timer cannot expire before the
// scheduler goes idle and polls, even on a loaded machine (1 ms did: the
// runtime then never called poll_oneoff and the VM lived), and short
// enough for a host whose poll_oneoff answers "no events" at once, where
// the runtime polls in a loop until the timer expires.
const sleepFor = 100 * time.Millisecond

func init() {
	g.OnRequestHeaders = func(uint32) uint32 {
		time.Sleep(sleepFor)
		return 0
	}
}
