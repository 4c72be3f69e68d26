package host

import (
	"context"
	"io"
	"testing"
)

// BenchmarkDoPassThrough measures one request through the host and a
// minimal guest: context create, request headers (two header writes and a
// property read), log, done, delete.
func BenchmarkDoPassThrough(b *testing.B) {
	h := newTestHost(b, "pass", nil)
	ctx := context.Background()
	req := Request{Method: "GET", Path: "/bench", Authority: "api", Headers: [][2]string{{"accept", "*/*"}}}
	b.ReportAllocs()
	for b.Loop() {
		if d, err := h.Do(ctx, req); err != nil || !d.Continue {
			b.Fatalf("%+v %v", d, err)
		}
	}
}

// BenchmarkNew measures loading a module (compilation cached): canary plus one worker.
func BenchmarkNew(b *testing.B) {
	path := buildGuest(b, "pass")
	for b.Loop() {
		h, err := New(context.Background(), Config{Module: path, Log: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		h.Close(context.Background())
	}
}
