// Command bookbridge is the reference server and command-line tool of
// bookbridge: it wires the sfdc, phmail, staging, mapping and loader
// packages together. Run "bookbridge help" for the commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "bookbridge:", msg)
		}
	}
	os.Exit(exitCode(err))
}
