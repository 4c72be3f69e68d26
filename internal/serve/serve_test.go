package serve

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestUntil(t *testing.T) {
	t.Run("it serves until the context ends, then returns nil once stopped", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") })}
		go func() { done <- Until(ctx, srv, ln) }()
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "up" {
			t.Fatalf("body %q, want up", body)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Until = %v, want nil after a clean shutdown", err)
		}
		if _, err := http.Get("http://" + ln.Addr().String() + "/"); err == nil {
			t.Fatal("the server still answers after Until returned")
		}
	})
	t.Run("a listener that fails is an error naming its address", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		err = Until(context.Background(), &http.Server{}, ln)
		if err == nil || !strings.Contains(err.Error(), addr) {
			t.Fatalf("Until on a closed listener = %v, want an error naming %s", err, addr)
		}
	})
}
