package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/config"
	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/bundb"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestHelpOfEveryCommand: "bookbridge CMD --help" (and -h, and
// "bookbridge help CMD") prints the command's own usage, what it does and
// an example on standard output, and exits 0, without opening anything.
func TestHelpOfEveryCommand(t *testing.T) {
	for _, name := range commandNames() {
		t.Run(name, func(t *testing.T) {
			words := strings.Fields(name)
			for _, args := range [][]string{append(words, "--help"), append(words, "-h"), append([]string{"help"}, words...)} {
				out, errOut, code := runCLI(t, args...)
				if code != 0 || errOut != "" {
					t.Fatalf("%q: exit %d, stderr %q", args, code, errOut)
				}
				if !strings.HasPrefix(out, "usage: bookbridge "+name) || !strings.Contains(out, commands[name].summary) ||
					!strings.Contains(out, "\nexample:\n  ") || !strings.Contains(out, "bookbridge "+name) {
					t.Fatalf("%q printed no usage with an example:\n%s", args, out)
				}
			}
		})
	}
}

// TestEveryCommandHasAnExample keeps helps and the registered commands
// the same set.
func TestEveryCommandHasAnExample(t *testing.T) {
	for _, name := range commandNames() {
		if len(helps[name].examples) == 0 {
			t.Errorf("command %q has no example in helps", name)
		}
		for _, ex := range helps[name].examples {
			if !strings.Contains(ex, "bookbridge "+name) {
				t.Errorf("example of %q does not run it: %s", name, ex)
			}
		}
	}
	for name := range helps {
		if _, ok := commands[name]; !ok {
			t.Errorf("helps has %q, which is no command", name)
		}
	}
}

// TestHelpOfEveryGroup: "bookbridge GROUP --help" lists the group's
// commands with examples and exits 0; "bookbridge GROUP" alone does so on
// standard error and exits 2.
func TestHelpOfEveryGroup(t *testing.T) {
	groups := map[string]bool{}
	for _, n := range commandNames() {
		if g, _, ok := strings.Cut(n, " "); ok {
			groups[g] = true
		}
	}
	for _, want := range []string{"user", "apikey", "email", "mapping", "config"} {
		if !groups[want] {
			t.Errorf("no group %q", want)
		}
	}
	for g := range groups {
		t.Run(g, func(t *testing.T) {
			for _, args := range [][]string{{g, "--help"}, {g, "-h"}, {"help", g}} {
				out, errOut, code := runCLI(t, args...)
				if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: bookbridge "+g+" COMMAND") || !strings.Contains(out, "\nexamples:\n") {
					t.Fatalf("%q: exit %d, stderr %q:\n%s", args, code, errOut, out)
				}
				for _, n := range groupCommands(g) {
					if !strings.Contains(out, "  "+n+" ") || !strings.Contains(out, helps[n].examples[0]) {
						t.Fatalf("%q does not list %s with its example:\n%s", args, n, out)
					}
				}
			}
			out, errOut, code := runCLI(t, g)
			if code != exitUsage || out != "" || !strings.Contains(errOut, "usage: bookbridge "+g) {
				t.Fatalf("%s alone: exit %d, stdout %q, stderr %q", g, code, out, errOut)
			}
		})
	}
}

// TestServeHelpListsSettings: serve's usage lists every setting and
// points to config dump.
func TestServeHelpListsSettings(t *testing.T) {
	out, _, code := runCLI(t, "serve", "--help")
	if code != 0 || !strings.Contains(out, "bookbridge config dump") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, s := range config.Settings() {
		if !strings.Contains(out, "  "+s.Env+"=") {
			t.Errorf("serve --help lacks %s", s.Env)
		}
	}
}

// TestUnknownCommandSuggests: a mistyped command gets one line naming the
// nearest command, and exit code 2; nothing near gets no guess.
func TestUnknownCommandSuggests(t *testing.T) {
	cases := []struct {
		args    []string
		suggest string // "" for none
	}{
		{[]string{"lod", "BB0001002"}, "load"},
		{[]string{"laod"}, "load"},
		{[]string{"LOAD"}, "load"},
		{[]string{"usr", "list"}, "user"},
		{[]string{"user", "dsable", "olga"}, "user disable"},
		{[]string{"user", "remov", "olga"}, "user remove"},
		{[]string{"user", "lst"}, "user list"},
		{[]string{"apikey", "revok", "x"}, "apikey revoke"},
		{[]string{"mig"}, "migrate"},
		{[]string{"valdate", "x.json"}, "validate"},
		{[]string{"frobnicate"}, ""},
		{[]string{"user", "frobnicate"}, ""},
		{[]string{"x"}, ""},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), c.args, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if exitCode(err) != exitUsage || out.Len() != 0 || errb.Len() != 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, "unknown command") {
				t.Fatalf("exit %d, stdout %q, stderr %q, error %q; want one line of error, exit 2", exitCode(err), out.String(), errb.String(), msg)
			}
			want := "did you mean " + c.suggest + "?"
			if c.suggest == "" && strings.Contains(msg, "did you mean") || c.suggest != "" && !strings.Contains(msg, want) {
				t.Fatalf("error %q, want suggestion %q", msg, c.suggest)
			}
		})
	}
}

// TestExitCodes: a refusal of the store (a record's state does not allow
// the action, or it changed concurrently) is 1 even when the command
// reports it as a usage error; other errors keep their code.
func TestExitCodes(t *testing.T) {
	transition := &staging.TransitionError{Record: "BB0001002", Action: "start_load", State: staging.StateLoaded, Allowed: []staging.State{staging.StateReady}}
	conflict := &staging.ConflictError{Record: "BB0001002", Expected: 1, Actual: 2}
	cases := []struct {
		name string
		err  error
		code int
	}{
		{"nil", nil, exitOK},
		{"refused load", usageError("%v", transition), exitInvalid},
		{"refused load, wrapped", usageError("load of %s: %v", "BB0001002", fmt.Errorf("app: %w", transition)), exitInvalid},
		{"concurrent change", usageError("%v", conflict), exitInvalid},
		{"not found", usageError("record %s: %v", "BB9999999", staging.ErrNotFound), exitUsage},
		{"I/O", usageError("%v", os.ErrPermission), exitUsage},
		{"no error argument", usageError("load needs one record NUMBER"), exitUsage},
		{"plain error", errors.New("boom"), exitUsage},
		{"silent 1", silentExit(exitInvalid), exitInvalid},
		{"silent 0", silentExit(exitOK), exitOK},
	}
	for _, c := range cases {
		if got := exitCode(c.err); got != c.code {
			t.Errorf("%s: exit %d, want %d", c.name, got, c.code)
		}
	}
	if msg := usageError("load of %s: %v", "BB1", transition).Error(); msg != "load of BB1: "+transition.Error() {
		t.Errorf("message %q", msg)
	}
}

// TestCommandsRefuseToCreateADatabase: every command that works on an
// existing database fails with one message and exit 2 when there is none,
// and creates nothing; after migrate they work.
func TestCommandsRefuseToCreateADatabase(t *testing.T) {
	commands := [][]string{
		{"user", "list"},
		{"user", "add", "olga", "--role", "viewer"},
		{"user", "set", "olga", "--role", "admin"},
		{"user", "disable", "olga"},
		{"user", "enable", "olga"},
		{"user", "remove", "olga"},
		{"apikey", "list"},
		{"apikey", "create", "salesforce", "--role", "intake"},
		{"apikey", "revoke", "salesforce"},
		{"ingest", "../../examples/emails/ph-deal-full.eml"},
		{"load", "BB0001001"},
		{"load", "--dry-run", "BB0001001"},
	}
	dbtest.EachURL(t, func(t *testing.T, dbURL string) {
		kind, _, _ := bundb.Parse(dbURL)
		want := "no bookbridge database at " + bundb.Where(dbURL) + " (run `bookbridge migrate`, or set BOOKBRIDGE_DATABASE_URL)"
		for _, args := range commands {
			out, errOut, code := runWithDB(t, dbURL, "a long enough password\n", args...)
			if code != exitUsage || out != "" || errOut != want {
				t.Fatalf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", args, code, out, errOut, want)
			}
			if kind == bundb.SQLite {
				matches, _ := filepath.Glob(dbURL + "*")
				if len(matches) > 0 {
					t.Fatalf("%q created %q", args, matches)
				}
			}
		}
		if out, errOut, code := runWithDB(t, dbURL, "", "migrate"); code != 0 {
			t.Fatalf("migrate: %d %s %s", code, out, errOut)
		}
		if out, errOut, code := runWithDB(t, dbURL, "", "user", "list"); code != 0 || !strings.HasPrefix(out, "NAME") {
			t.Fatalf("user list after migrate: %d %s %s", code, out, errOut)
		}
	})
}

// TestOneShotCommandsLogQuietly: without -v a one-shot command writes no
// INFO lines beside its report; with -v (after the command or before it)
// it logs at BOOKBRIDGE_LOG_LEVEL.
func TestOneShotCommandsLogQuietly(t *testing.T) {
	db := filepath.Join(t.TempDir(), "bookbridge.db")
	if _, errOut, code := runWithDB(t, db, "", "migrate"); code != 0 {
		t.Fatal(errOut)
	}
	email := "../../examples/emails/ph-deal-full.eml"
	cases := []struct {
		args []string
		logs bool
	}{
		{[]string{"ingest", email}, false},
		{[]string{"ingest", "-v", email}, true},
		{[]string{"ingest", email, "--verbose"}, true},
		{[]string{"-v", "ingest", email}, true},
		{[]string{"ingest", email}, false},
	}
	for _, c := range cases {
		out, errOut, code := runWithDB(t, db, "", c.args...)
		if code != 0 || !strings.Contains(out, "ph-deal-full.eml: ") {
			t.Fatalf("%q: exit %d %s %s", c.args, code, out, errOut)
		}
		if logs := strings.Contains(errOut, "level=INFO"); logs != c.logs {
			t.Errorf("%q: INFO lines %v, want %v:\n%s", c.args, logs, c.logs, errOut)
		}
	}
	// -v is a flag of the one-shot commands only; serve and demo log anyway.
	for _, name := range commandNames() {
		out, _, _ := runCLI(t, append(strings.Fields(name), "--help")...)
		if has := strings.Contains(out, "\n  -v\t"); has == servesLogs(name) {
			t.Errorf("%s --help: -v listed %v", name, has)
		}
	}
	if !slices.Contains(commandNames(), "serve") || !servesLogs("serve") || servesLogs("load") {
		t.Fatal("servesLogs does not tell serve from load")
	}
}
