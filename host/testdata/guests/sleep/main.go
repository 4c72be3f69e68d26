//go:build wasip1

// Command sleep sleeps in on_request_headers: the Go runtime needs
// poll_oneoff, which Envoy 1.33-1.38 answer with ENOSYS, so the VM dies.
package main

import (
	"time"

	g "github.com/scopegate/scopegate/host/testdata/guests/guestabi"
)

func main() {}

func init() {
	g.OnRequestHeaders = func(uint32) uint32 {
		time.Sleep(time.Millisecond)
		return 0
	}
}
