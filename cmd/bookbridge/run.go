package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/bookbridge/bookbridge"
	"github.com/bookbridge/bookbridge/staging"
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

// usageError is an error of exit code 2 with the message of format. The
// errors among args stay reachable through errors.Is and errors.As (for
// exitCode), although format shows them with %v.
func usageError(format string, args ...any) error {
	var err error = fmt.Errorf(format, args...)
	var causes []error
	for _, a := range args {
		if e, ok := a.(error); ok {
			causes = append(causes, e)
		}
	}
	if len(causes) > 0 {
		err = &causedError{msg: err.Error(), causes: causes}
	}
	return &exitError{code: exitUsage, err: err}
}

// causedError is a message with the errors it was made from.
type causedError struct {
	msg    string
	causes []error
}

func (e *causedError) Error() string   { return e.msg }
func (e *causedError) Unwrap() []error { return e.causes }

// silentExit ends a command with code after it has printed its own report.
func silentExit(code int) error { return &exitError{code: code} }

// exitCode is the process's exit code for a command's error. A refusal of
// the record's state (a load of a record that is loaded, say) or of a
// concurrent change is 1 wherever it comes from: the command ran, and
// the store said no to its input.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	code := exitUsage
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if code == exitUsage && refused(err) {
		return exitInvalid
	}
	return code
}

// refused reports whether err refused the input as it is: a record that
// cannot be loaded in its state or shape, or whose data the rules cannot
// plan.
func refused(err error) bool {
	var notLoadable *bookbridge.NotLoadableError
	var plan *bookbridge.PlanError
	return errors.Is(err, staging.ErrIllegalTransition) || errors.Is(err, staging.ErrConflict) ||
		errors.As(err, &notLoadable) || errors.As(err, &plan)
}

// cli is what every command gets: its arguments and the process's streams
// and environment, so tests run commands in-process.
type cli struct {
	args   []string
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// verbose (-v) lets a one-shot command log at BOOKBRIDGE_LOG_LEVEL;
	// without it only warnings and errors are logged (see logger).
	verbose bool
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

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// isVerbose reports whether arg is the -v flag.
func isVerbose(arg string) bool { return arg == "-v" || arg == "--verbose" || arg == "-verbose" }

// run executes the command named by args[0] (or two words, such as
// "email parse") and returns an error whose exit code exitCode gives.
// "bookbridge -v CMD" is "bookbridge CMD -v"; "bookbridge help CMD" is
// "bookbridge CMD --help".
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &cli{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	for len(args) > 0 && isVerbose(args[0]) {
		c.verbose, args = true, args[1:]
	}
	if len(args) == 0 {
		printUsage(stderr)
		return silentExit(exitUsage)
	}
	if isHelp(args[0]) {
		if len(args) == 1 {
			printUsage(stdout)
			return nil
		}
		args = append(args[1:len(args):len(args)], "--help")
	}
	name, rest := args[0], args[1:]
	if strings.HasPrefix(name, "-") {
		return usageError("unknown flag %s before the command: flags go after it (bookbridge help lists the commands)", name)
	}
	if _, ok := commands[name]; !ok && isGroup(name) {
		if len(rest) == 0 || isHelp(rest[0]) {
			w := stderr
			if len(rest) > 0 {
				w = stdout
			}
			printGroupUsage(w, name)
			if len(rest) == 0 {
				return usageError("%s needs a command: %s", name, strings.Join(groupCommands(name), ", "))
			}
			return nil
		}
		if _, ok := commands[name+" "+rest[0]]; !ok {
			var subs []string
			for _, n := range groupCommands(name) {
				subs = append(subs, strings.TrimPrefix(n, name+" "))
			}
			return unknownCommand(name+" ", rest[0], subs)
		}
		name, rest = name+" "+rest[0], rest[1:]
	}
	cmd, ok := commands[name]
	if !ok {
		return unknownCommand("", name, topWords())
	}
	c.args = rest
	return cmd.run(ctx, c)
}

// unknownCommand is the one-line answer to a command group+word that does
// not exist, with the nearest of candidates (words that may follow group)
// when one is near.
func unknownCommand(group, word string, candidates []string) error {
	if near := nearest(word, candidates); near != "" {
		return usageError("unknown command %q: did you mean %s? (bookbridge help lists the commands)", group+word, group+near)
	}
	return usageError("unknown command %q: bookbridge help lists the commands", group+word)
}

// nearest returns the candidate closest to name when it is close enough to
// be what was meant: a unique one that name begins, else one within an
// edit distance of about a third of its length (one typo in four letters),
// else "".
func nearest(name string, candidates []string) string {
	lower := strings.ToLower(name)
	var prefixed []string
	for _, cand := range candidates {
		if strings.HasPrefix(cand, lower) {
			prefixed = append(prefixed, cand)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	best, bestDist := "", 0
	for _, cand := range candidates {
		d := editDistance(lower, cand)
		if d <= max(1, len(cand)/3) && (best == "" || d < bestDist) {
			best, bestDist = cand, d
		}
	}
	return best
}

// editDistance is the number of single-letter insertions, deletions,
// substitutions and swaps of neighbours that turn a into b (optimal
// string alignment distance), over bytes: command names are ASCII.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// isGroup reports whether name is the first word of two-word commands
// (user, apikey, email, mapping, config).
func isGroup(name string) bool { return len(groupCommands(name)) > 0 }

// groupCommands lists the commands of group, sorted.
func groupCommands(group string) []string {
	var names []string
	for n := range commands {
		if g, _, ok := strings.Cut(n, " "); ok && g == group {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// topWords lists what may come first on the command line: the one-word
// commands and the groups.
func topWords() []string {
	seen := map[string]bool{}
	var words []string
	for n := range commands {
		w, _, _ := strings.Cut(n, " ")
		if !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	sort.Strings(words)
	return words
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: bookbridge [-v] COMMAND [flags] [args]")
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
	fmt.Fprintln(w, `Run "bookbridge COMMAND --help" for a command's flags and an example.`)
	fmt.Fprintln(w, "Exit codes: 0 done, 1 done but some input was invalid or rejected, 2 usage, configuration or I/O error.")
}

// printGroupUsage lists the commands of a group with an example of each.
func printGroupUsage(w io.Writer, group string) {
	fmt.Fprintf(w, "usage: bookbridge %s COMMAND [flags] [args]\n\ncommands:\n", group)
	names := groupCommands(group)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nexamples:")
	for _, n := range names {
		for _, ex := range helps[n].examples {
			fmt.Fprintf(w, "  %s\n", ex)
		}
	}
	fmt.Fprintf(w, "\nRun \"bookbridge %s COMMAND --help\" for a command's flags.\n", group)
}

// flags returns a FlagSet for a command that reports errors to c.stderr.
// Its usage names the command's arguments, says what it does, lists its
// flags and gives an example. Every command but serve and demo (which
// always log at BOOKBRIDGE_LOG_LEVEL) also takes -v.
func (c *cli) flags(name, argsUsage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	if !servesLogs(name) {
		fs.BoolVar(&c.verbose, "v", c.verbose, "log progress too, at BOOKBRIDGE_LOG_LEVEL (default: warnings and errors only)")
		fs.BoolVar(&c.verbose, "verbose", c.verbose, "the same as -v")
	}
	fs.Usage = func() { printCommandUsage(fs.Output(), fs, name, argsUsage) }
	return fs
}

// parse parses c.args with fs, allowing flags after positional arguments.
// -h or --help prints the usage to standard output and ends the command
// with exit code 0.
func (c *cli) parse(fs *flag.FlagSet) error {
	for _, a := range c.args {
		if a == "--" {
			break
		}
		if isHelp(a) && a != "help" {
			fs.SetOutput(c.stdout)
			fs.Usage()
			return silentExit(exitOK)
		}
	}
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
