package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/version"
)

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantStderr string
	}{
		{"success exits 0 and prints nothing", nil, 0, ""},
		{"-h exits 0 because the usage is the answer", flag.ErrHelp, 0, ""},
		{"a wrapped -h still counts as help", fmt.Errorf("parsing: %w", flag.ErrHelp), 0, ""},
		{"-version exits 0 because the version is the answer", ErrVersion, 0, ""},
		{"a failure exits 1 naming the command", errors.New("listening: address in use"), 1, "echo: listening: address in use\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := ExitStatus("echo", tt.err, &stderr); got != tt.wantStatus {
				t.Errorf("status = %d, want %d", got, tt.wantStatus)
			}
			if stderr.String() != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

func TestFlagsAndParse(t *testing.T) {
	newFlags := func(stderr *strings.Builder) (*flag.FlagSet, *string) {
		fs := Flags("echo", "echo answers every request with what it received.", stderr)
		return fs, fs.String("addr", "127.0.0.1:9100", "listen address")
	}
	t.Run("-h writes the synopsis and the flags to stderr, nothing to stdout", func(t *testing.T) {
		var stdout, stderr strings.Builder
		fs, _ := newFlags(&stderr)
		if err := Parse(fs, []string{"-h"}, &stdout); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("Parse(-h) = %v", err)
		}
		for _, want := range []string{"echo answers every request", "-addr", "-version"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("usage lacks %q:\n%s", want, stderr.String())
			}
		}
		if stdout.Len() != 0 {
			t.Errorf("stdout = %q, want nothing", stdout.String())
		}
	})
	t.Run("-version prints the name and version on stdout", func(t *testing.T) {
		var stdout, stderr strings.Builder
		fs, _ := newFlags(&stderr)
		if err := Parse(fs, []string{"-version"}, &stdout); !errors.Is(err, ErrVersion) {
			t.Fatalf("Parse(-version) = %v", err)
		}
		if want := "echo " + version.Version + "\n"; stdout.String() != want {
			t.Errorf("stdout = %q, want %q", stdout.String(), want)
		}
	})
	t.Run("a positional argument is an error", func(t *testing.T) {
		var stderr strings.Builder
		fs, _ := newFlags(&stderr)
		if err := Parse(fs, []string{"-addr", ":0", "extra"}, io.Discard); err == nil || !strings.Contains(err.Error(), "extra") {
			t.Fatalf("Parse = %v, want an error naming the argument", err)
		}
	})
	t.Run("the valid twin: flags parse", func(t *testing.T) {
		var stderr strings.Builder
		fs, addr := newFlags(&stderr)
		if err := Parse(fs, []string{"-addr", ":0"}, io.Discard); err != nil || *addr != ":0" {
			t.Fatalf("Parse = %v, addr %q", err, *addr)
		}
	})
}

func TestCheckPluginConfig(t *testing.T) {
	const valid = `{"providers":[{"name":"a","remote_jwks":{"cluster":"idp","uri":"https://idp.example.com/certs"}}]}`
	for _, tc := range []struct {
		name, data string
		clusters   []string
		want       string // "" when the configuration passes
	}{
		{"a valid configuration whose cluster the proxy has passes", valid, []string{"idp"}, ""},
		{"an empty file is named as such", "\n", []string{"idp"}, "p.json:1:1: invalid JSON: the file is empty"},
		{"a missing value is placed", "{\n  \"rules\": \n}", nil, "p.json:3:1: invalid JSON: invalid character '}' looking for beginning of value"},
		{"a trailing comma is placed", `{"rules": [],}`, nil, "p.json:1:14: invalid JSON: invalid character '}'"},
		{"a truncated file is placed at its end", "{\n  \"rules\": [", nil, "p.json:2:12: invalid JSON: unexpected end of JSON input"},
		{"a field error keeps the parser's path", `{"rules": [{"match": {"prefix": "/"}, "require": {}}]}`, nil, `p.json: rules[0].require: unknown field (did you mean "requires"?)`},
		{"a cluster the proxy lacks is named with the ones it has", valid, []string{"keycloak", "other"}, `cluster "idp", which the proxy was not given (clusters: keycloak, other)`},
		{"no clusters at all says none", valid, nil, "(clusters: none)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckPluginConfig("p.json", []byte(tc.data), tc.clusters)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
