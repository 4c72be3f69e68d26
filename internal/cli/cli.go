// Package cli holds the process wiring shared by scopegate's commands
// (demo, devidp, dpop, echo, scopegate-proxy, scopegate-oci), so each main is only
// its run function and they all parse flags, print help and the version,
// report and exit the same way.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/scopegate/scopegate/internal/version"
)

// ErrVersion is returned by Parse after it printed the version (-version);
// like -h it ends the command with status 0.
var ErrVersion = errors.New("version printed")

// Main runs run with the process's arguments and exits. The context ends on
// Ctrl-C or SIGTERM so servers can shut down cleanly and pushes can stop
// between uploads instead of being killed mid-write.
func Main(name string, run func(ctx context.Context, args []string) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	os.Exit(ExitStatus(name, err, os.Stderr))
}

// ExitStatus turns run's result into the process exit status: 0 on success,
// for -h (the flag package has already printed the usage, which is the
// answer) and for -version, otherwise 1 after writing "<name>: <err>" to
// stderr so the user sees which command failed when several run together.
func ExitStatus(name string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) || errors.Is(err, ErrVersion) {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}

// Flags returns the flag set of the command name with -version defined. Its
// usage (-h) and flag errors go to stderr in every command, headed by
// synopsis (what the command does and its required flags).
func Flags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args with a flag set made by Flags. With -version it prints
// "<name> <version>" to stdout and returns ErrVersion; positional arguments
// are an error (every flag has a name).
func Parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if v := fs.Lookup("version"); v != nil && v.Value.String() == "true" {
		fmt.Fprintf(stdout, "%s %s\n", fs.Name(), version.Version)
		return ErrVersion
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see -h)", fs.Args())
	}
	return nil
}
