//go:build wasip1

// Command initcall calls a proxy function other than proxy_log from init(),
// which Envoy forbids during _initialize.
package main

import g "github.com/scopegate/scopegate/host/testdata/guests/guestabi"

func main() {}

func init() {
	g.Log("init may log")
	g.Counter("initcall.defined-too-early")
}
