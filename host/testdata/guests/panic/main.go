//go:build wasip1

// Command panic panics in on_request_headers without recovering: a trap.
package main

import g "github.com/scopegate/scopegate/host/testdata/guests/guestabi"

func main() {}

func init() {
	g.OnRequestHeaders = func(uint32) uint32 {
		if _, ok := g.Header(0, "x-panic"); ok {
			panic("guest panics on purpose")
		}
		return 0
	}
}
