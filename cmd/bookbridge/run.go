package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit codes shared by every command.
const (
	exitOK      = 0 // done; every input was valid
	exitInvalid = 1 // done, but some input was rejected or invalid
	exitUsage   = 2 // usage, configuration or I/O error
)

// exitError carries a command's exit code. An empty message means the
// command already said what went wrong.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// silentExit ends a command with code after it has printed its own report.
func silentExit(code int) error { return &exitError{code: code} }

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitUsage
}

// cli is what every command gets: its arguments and the process's streams
// and environment, so tests run commands in-process.
type cli struct {
	args   []string
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	summary string
	run     func(ctx context.Context, c *cli) error
}

// commands is filled by each command's file in its init function.
var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, c *cli) error) {
	commands[name] = command{summary: summary, run: run}
}

// run executes the command named by args[0] (or two words, such as
// "email parse") and returns an error whose exit code exitCode gives.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		if len(args) == 0 {
			return silentExit(exitUsage)
		}
		return nil
	}
	name, rest := args[0], args[1:]
	if _, ok := commands[name]; !ok && len(rest) > 0 {
		if _, ok := commands[name+" "+rest[0]]; ok {
			name, rest = name+" "+rest[0], rest[1:]
		}
	}
	cmd, ok := commands[name]
	if !ok {
		printUsage(stderr)
		return usageError("unknown command %q", strings.Join(args[:min(2, len(args))], " "))
	}
	return cmd.run(ctx, &cli{args: rest, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr})
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: bookbridge COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "bookbridge COMMAND -h" for a command's flags.`)
}

// flags returns a FlagSet for a command that reports errors to c.stderr.
func (c *cli) flags(name, argsUsage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "usage: bookbridge %s [flags] %s\n", name, argsUsage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses c.args with fs, allowing flags after positional arguments.
func (c *cli) parse(fs *flag.FlagSet) error {
	var positional []string
	args := c.args
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return silentExit(exitOK)
			}
			return silentExit(exitUsage)
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

// printf writes to the command's standard output.
func (c *cli) printf(format string, args ...any) { fmt.Fprintf(c.stdout, format, args...) }
