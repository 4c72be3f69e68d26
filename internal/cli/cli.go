// Package cli holds the process wiring shared by scopegate's commands
// (devidp, echo, scopegate-proxy, scopegate-oci), so each main is only its
// run function and they all stop, report and exit the same way.
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
)

// Main runs run with the process's arguments and exits. The context ends on
// Ctrl-C or SIGTERM so servers can shut down cleanly and pushes can stop
// between uploads instead of being killed mid-write.
func Main(name string, run func(ctx context.Context, args []string) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	os.Exit(ExitStatus(name, err, os.Stderr))
}

// ExitStatus turns run's result into the process exit status: 0 on success
// and for -h (the flag package has already printed the usage, which is the
// answer), otherwise 1 after writing "<name>: <err>" to stderr so the user
// sees which command failed when several run together.
func ExitStatus(name string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	return 1
}
