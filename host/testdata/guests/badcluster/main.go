//go:build wasip1

// Command badcluster calls proxy_http_call to a cluster the proxy does not
// know, and without :authority when x-no-authority is present.
package main

import (
	"strconv"

	g "github.com/scopegate/scopegate/host/testdata/guests/guestabi"
)

func main() {}

func init() {
	g.OnRequestHeaders = func(uint32) uint32 {
		var st uint32
		if _, ok := g.Header(0, "x-no-authority"); ok {
			_, st = g.HTTPCall("backend", 1000, ":method", "GET", ":path", "/")
		} else if _, ok := g.Header(0, "x-no-timeout"); ok {
			_, st = g.HTTPCall("backend", 0, ":method", "GET", ":path", "/", ":authority", "backend")
		} else {
			_, st = g.HTTPCall("nowhere", 1000, ":method", "GET", ":path", "/", ":authority", "nowhere")
		}
		g.SendLocal(500, "http call status "+strconv.Itoa(int(st)))
		return 1
	}
}
