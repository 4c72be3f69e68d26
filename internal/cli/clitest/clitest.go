// Package clitest checks what every scopegate command promises on its
// command line, so each command's test states it in one call.
package clitest

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/cli"
	"github.com/scopegate/scopegate/internal/version"
)

// Run runs a command with arguments, writing to stdout and stderr.
type Run func(args []string, stdout, stderr io.Writer) error

// HelpAndVersion checks that -h prints the usage (mentioning flagName) on
// stderr and nothing on stdout, and that -version prints "<name> <version>"
// on stdout; both end the command with status 0.
func HelpAndVersion(t *testing.T, name, flagName string, run Run) {
	t.Helper()
	t.Run("-h prints the usage on stderr only and exits 0", func(t *testing.T) {
		var stdout, stderr strings.Builder
		err := run([]string{"-h"}, &stdout, &stderr)
		if !errors.Is(err, flag.ErrHelp) || cli.ExitStatus(name, err, io.Discard) != 0 {
			t.Fatalf("-h returned %v", err)
		}
		if stdout.Len() != 0 {
			t.Errorf("-h wrote %q to stdout; the usage belongs on stderr, as in every command", stdout.String())
		}
		if !strings.Contains(stderr.String(), "-"+flagName) || !strings.Contains(stderr.String(), "-version") {
			t.Errorf("the usage does not document -%s and -version:\n%s", flagName, stderr.String())
		}
	})
	t.Run("-version prints the version on stdout and exits 0", func(t *testing.T) {
		var stdout strings.Builder
		err := run([]string{"-version"}, &stdout, io.Discard)
		if cli.ExitStatus(name, err, io.Discard) != 0 {
			t.Fatalf("-version returned %v", err)
		}
		if want := name + " " + version.Version + "\n"; stdout.String() != want {
			t.Errorf("-version printed %q, want %q", stdout.String(), want)
		}
	})
}
