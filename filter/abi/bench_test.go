package abi_test

import (
	"context"
	"io"
	"testing"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/host"
)

// BenchmarkGuestRequest measures one request through the wazero host:
// "passthrough" is the floor (binding and host only); "hot" adds a filter's
// cache-hit host calls (one header read, two removes, one replace, a skipped
// debug log). vm-bytes is the worker's linear memory after the run.
func BenchmarkGuestRequest(b *testing.B) {
	ctx := context.Background()
	cases := []struct{ name, guest, path string }{
		{"passthrough", "passthrough", "/"},
		{"hot", "guest", "/hot"},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			h, err := host.New(ctx, host.Config{Module: buildGuest(b, bc.guest), Log: io.Discard,
				Clusters: map[string]string{"backend": "http://127.0.0.1:1"}})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close(ctx)
			req := host.Request{Method: "GET", Path: bc.path, Authority: "api.example.com", Headers: [][2]string{
				{"authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"},
				{"user-agent", "bench"}, {"accept", "*/*"},
			}}
			b.ReportAllocs()
			for b.Loop() {
				d, err := h.Do(ctx, req)
				if err != nil || !d.Continue {
					b.Fatalf("Do = %+v, %v", d, err)
				}
			}
			b.ReportMetric(float64(h.MemoryStats(0).Bytes), "vm-bytes")
		})
	}
}

var benchPairs = [][2]string{
	{":method", "GET"}, {":path", "/orders/42"}, {":authority", "api.example.com"}, {":scheme", "https"},
	{"authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"},
	{"user-agent", "curl/8"}, {"accept", "*/*"}, {"x-request-id", "0f4c2a"},
}

// BenchmarkHeaderMap measures the map codec natively (it runs the same in wasm).
func BenchmarkHeaderMap(b *testing.B) {
	b.Run("encode", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		b.ReportAllocs()
		for b.Loop() {
			buf = abi.EncodeHeaderMap(buf[:0], benchPairs)
		}
	})
	b.Run("decode", func(b *testing.B) {
		data := abi.EncodeHeaderMap(nil, benchPairs)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := abi.DecodeHeaderMap(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
