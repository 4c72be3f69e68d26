package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/cli/clitest"
)

func TestEchoCommand(t *testing.T) {
	t.Run("it echoes a request and stops cleanly when its context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, io.Discard, outW)
			outW.Close()
		}()
		line, err := bufio.NewReader(outR).ReadString('\n')
		if err != nil {
			t.Fatalf("no listening line: %v (run: %v)", err, <-done)
		}
		go io.Copy(io.Discard, outR)
		_, url, ok := strings.Cut(strings.TrimSpace(line), " listening on ")
		if !ok {
			t.Fatalf("listening line %q", line)
		}
		resp, err := http.Get(url + "/hello?x=1")
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || got["path"] != "/hello" {
			t.Fatalf("echo answered %v (%v), want its path /hello", got, err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run = %v, want nil after a clean shutdown", err)
		}
	})
	t.Run("stray arguments and a busy address are errors", func(t *testing.T) {
		if err := run(context.Background(), []string{"extra"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "unexpected arguments") {
			t.Errorf("stray argument: %v", err)
		}
		if err := run(context.Background(), []string{"-addr", "256.0.0.1:1"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "listening") {
			t.Errorf("bad address: %v", err)
		}
	})
}

func TestEchoHelpAndVersion(t *testing.T) {
	clitest.HelpAndVersion(t, "echo", "addr", func(args []string, stdout, stderr io.Writer) error {
		return run(context.Background(), args, stdout, stderr)
	})
}
