//go:build wasip1

// Command alloccall calls proxy_get_property from inside its allocator,
// which Envoy forbids (only proxy_log, fd_write and clock_time_get).
package main

import g "github.com/scopegate/scopegate/host/testdata/guests/guestabi"

var inside bool

func main() {}

func init() {
	g.OnAllocate = func() {
		if inside {
			return
		}
		inside = true
		g.Property("plugin_name")
		inside = false
	}
	g.OnRequestHeaders = func(uint32) uint32 {
		g.Header(0, ":path")
		return 0
	}
}
