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

func TestDevIdPCommand(t *testing.T) {
	t.Run("its discovery names the issuer it printed, and it stops cleanly", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-alg", "ES256"}, io.Discard, outW)
			outW.Close()
		}()
		line, err := bufio.NewReader(outR).ReadString('\n')
		if err != nil {
			t.Fatalf("no listening line: %v (run: %v)", err, <-done)
		}
		go io.Copy(io.Discard, outR)
		_, rest, _ := strings.Cut(line, "listening on ")
		url, _, _ := strings.Cut(rest, ",")
		if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.Contains(line, "signing ES256") {
			t.Fatalf("listening line %q", line)
		}
		resp, err := http.Get(url + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Issuer string `json:"issuer"`
		}
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil || doc.Issuer != url {
			t.Fatalf("discovery issuer %q (%v), want %q", doc.Issuer, err, url)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run = %v, want nil after a clean shutdown", err)
		}
	})
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"a stray argument is an error", []string{"extra"}, "unexpected arguments"},
		{"an unknown algorithm is an error naming it", []string{"-addr", "127.0.0.1:0", "-alg", "HS1"}, `"HS1"`},
		{"a non-positive token lifetime is an error", []string{"-ttl", "0s"}, "-ttl"},
		{"an unknown flag is an error", []string{"-nope"}, "nope"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			err := run(context.Background(), c.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run(%q) = %v, want an error containing %s", c.args, err, c.want)
			}
		})
	}
}

func TestDevIdPHelpAndVersion(t *testing.T) {
	clitest.HelpAndVersion(t, "devidp", "alg", func(args []string, stdout, stderr io.Writer) error {
		return run(context.Background(), args, stdout, stderr)
	})
}
