//go:build wasip1

// Command pass is the host's general test guest: it passes requests through
// with an added header, denies requests carrying x-deny (local 403), pauses
// for a callout when x-callout names a cluster, counts requests, ticks and
// uses shared data.
package main

import (
	"strconv"

	g "github.com/scopegate/scopegate/host/testdata/guests/guestabi"
)

var (
	vmRequests int // per VM: globals exist once per VM
	requests   uint32
	ticks      uint32
	pending    = map[uint32]uint32{} // callout token -> stream id
)

func main() {}

func init() {
	g.OnConfigure = func(config []byte) bool {
		if string(config) == "reject" {
			return false
		}
		requests = g.Counter("pass.requests")
		ticks = g.Counter("pass.ticks")
		g.SetTickPeriod(50)
		g.Log("pass configured: " + string(config))
		return true
	}
	g.OnTick = func() { g.Inc(ticks) }
	// Stream ends are logged so tests can see the on_log/on_done order.
	g.OnLog = func(id uint32) {
		if id != g.RootID {
			g.Log("on_log " + strconv.Itoa(int(id)))
		}
	}
	g.OnDone = func(id uint32) {
		if id != g.RootID {
			g.Log("on_done " + strconv.Itoa(int(id)))
		} else {
			g.Log("on_done root")
		}
	}
	// x-hold: the headers stop (Pause) and nothing resumes them; the body
	// callback answers Continue, or Pause with x-hold-body. In Envoy a
	// Continue from the body resumes the stopped headers.
	g.OnRequestBody = func(id, size uint32) uint32 {
		if _, ok := g.Header(0, "x-hold-body"); ok {
			return 1
		}
		return 0
	}
	g.OnRequestHeaders = func(id uint32) uint32 {
		if _, ok := g.Header(0, "x-hold"); ok {
			return 1
		}
		g.Inc(requests)
		vmRequests++
		g.SetHeader(0, "x-vm-requests", strconv.Itoa(vmRequests))
		if _, ok := g.Header(0, "x-big-local"); ok {
			kv := make([]string, 0, 2*1025)
			for i := 0; i < 1025; i++ {
				kv = append(kv, "h"+strconv.Itoa(i), "v")
			}
			g.SendLocalPairs(418, "big", g.Pairs(kv...))
			return 1
		}
		if _, ok := g.Header(0, "x-deny"); ok {
			g.SendLocal(403, "denied by pass")
			return 1
		}
		if key, ok := g.Header(0, "x-shared-incr"); ok {
			for {
				val, cas, _ := g.GetShared(key)
				n, _ := strconv.Atoi(string(val))
				if g.SetShared(key, []byte(strconv.Itoa(n+1)), cas) == 0 {
					break
				}
			}
		}
		if _, ok := g.Header(0, "x-read-config"); ok {
			g.SetHeader(0, "x-config", "["+string(g.GetBuffer(7, 1024))+"]")
		}
		source, _ := g.Property("source", "address")
		plugin, _ := g.Property("plugin_name")
		method, _ := g.Property("request", "method")
		_, unknown := g.Property("no", "such", "property")
		g.SetHeader(0, "x-seen-properties", source+" "+plugin+" "+method+" "+strconv.Itoa(int(unknown)))
		cert, certStatus := g.Property("connection", "sha256_peer_certificate_digest")
		g.SetHeader(0, "x-seen-peer-cert", cert+" "+strconv.Itoa(int(certStatus)))
		path, _ := g.Property("request", "path")
		g.SetHeader(0, "x-seen-path", path)
		g.SetHeader(0, "x-pass", "yes")
		// x-set-path: the filter rewrites :path (as one removing a query
		// token does), to prove the proxy still sends it only upstream.
		if p, ok := g.Header(0, "x-set-path"); ok {
			g.SetHeader(0, ":path", p)
		}
		if cluster, ok := g.Header(0, "x-callout"); ok {
			timeout := uint32(2000)
			if t, ok := g.Header(0, "x-callout-timeout"); ok {
				n, _ := strconv.Atoi(t)
				timeout = uint32(n)
			}
			token, st := g.HTTPCall(cluster, timeout, ":method", "GET", ":path", "/callout", ":authority", "backend")
			if st != 0 {
				g.SendLocal(500, "http call rejected: status "+strconv.Itoa(int(st)))
				return 1
			}
			pending[token] = id
			return 1
		}
		return 0
	}
	g.OnResponseHeaders = func(id uint32) uint32 {
		g.SetHeader(2, "x-pass-response", "yes")
		return 0
	}
	g.OnCalloutResponse = func(token, nh, nb uint32) {
		id, ok := pending[token]
		delete(pending, token)
		if !ok {
			return
		}
		// The answer belongs to the root context: read it before switching.
		status, _ := g.Header(6, ":status")
		body := g.GetBuffer(4, nb)
		if st := g.SetEffectiveContext(id); st != 0 {
			g.Log("stream " + strconv.Itoa(int(id)) + " gone: set_effective_context status " + strconv.Itoa(int(st)))
			return
		}
		if nh == 0 {
			g.SendLocal(503, "callout failed")
			return
		}
		g.SetHeader(0, "x-callout-status", status)
		g.SetHeader(0, "x-callout-body", string(body))
		// Once the stream is the effective context, Envoy no longer shows the
		// answer; tests read these to prove the host agrees.
		lateStatus, found := g.Header(6, ":status")
		if !found {
			lateStatus = "absent"
		}
		g.SetHeader(0, "x-callout-status-after-switch", lateStatus)
		g.SetHeader(0, "x-callout-body-after-switch", strconv.Itoa(len(g.GetBuffer(4, nb))))
		g.ContinueRequest()
	}
}
