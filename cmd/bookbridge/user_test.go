package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// runWithDB runs a command against the database dbURL with stdin; the
// error main would print ends stderr.
func runWithDB(t *testing.T, dbURL, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	env := map[string]string{"BOOKBRIDGE_DATABASE_URL": dbURL}
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	if err != nil {
		errb.WriteString(err.Error()) // main prints it
	}
	return out.String(), errb.String(), exitCode(err)
}

// canLogin reports whether name/password opens a session with role.
func canLogin(t *testing.T, dbURL, name, password string, role auth.Role) bool {
	t.Helper()
	cfg := testConfig(t, map[string]string{"BOOKBRIDGE_DATABASE_URL": dbURL})
	a, err := app.Open(context.Background(), cfg, app.Options{Logger: testLogger(t), StoreOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, sess, err := a.Auth.Login(context.Background(), name, password, time.Minute)
	return err == nil && sess.User.Role == role
}

// migrated makes the database of dbURL as "bookbridge migrate" does.
func migrated(t *testing.T, dbURL string) string {
	t.Helper()
	if out, errOut, code := runWithDB(t, dbURL, "", "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s %s", code, out, errOut)
	}
	return dbURL
}

// TestUserCommands: user add (password from a file, from piped standard
// input, or generated), user list and user set, on SQLite and Postgres.
func TestUserCommands(t *testing.T) {
	dbtest.EachURL(t, func(t *testing.T, dbURL string) {
		migrated(t, dbURL)
		dir := t.TempDir()
		pwFile := filepath.Join(dir, "pw")
		if err := os.WriteFile(pwFile, []byte("olga's long password\nignored second line\n"), 0o600); err != nil {
			t.Fatal(err)
		}

		out, errOut, code := runWithDB(t, dbURL, "", "user", "add", "olga", "--role", "operator", "--password-file", pwFile)
		if code != 0 || !strings.Contains(out, `user "olga" (operator) added`) {
			t.Fatalf("add from file: %d %s %s", code, out, errOut)
		}
		if !canLogin(t, dbURL, "olga", "olga's long password", auth.RoleOperator) {
			t.Fatal("olga cannot log in with the file's password")
		}

		out, errOut, code = runWithDB(t, dbURL, "victor's piped password\r\n", "user", "add", "victor", "--role", "viewer")
		if code != 0 || !canLogin(t, dbURL, "victor", "victor's piped password", auth.RoleViewer) {
			t.Fatalf("add from stdin: %d %s %s", code, out, errOut)
		}

		out, errOut, code = runWithDB(t, dbURL, "", "user", "add", "ada", "--role", "admin")
		generated := strings.TrimSpace(out)
		if code != 0 || len(generated) < 20 || !strings.Contains(errOut, "shown only now") {
			t.Fatalf("add with a generated password: %d %q %s", code, out, errOut)
		}
		if !canLogin(t, dbURL, "ada", generated, auth.RoleAdmin) {
			t.Fatal("ada cannot log in with the printed password")
		}

		cases := []struct {
			name string
			args []string
			in   string
			text string
		}{
			{"taken name", []string{"user", "add", "olga", "--role", "viewer", "--password-file", pwFile}, "", "exists"},
			{"short password", []string{"user", "add", "sam"}, "short\n", "12 characters"},
			{"unknown role", []string{"user", "add", "sam", "--role", "root"}, "", "unknown user role"},
			{"no name", []string{"user", "add", "--role", "viewer"}, "", "needs one NAME"},
			{"missing file", []string{"user", "add", "sam", "--password-file", filepath.Join(dir, "nope")}, "", "--password-file"},
			{"set nothing", []string{"user", "set", "olga"}, "", "needs --role, --password-file or both"},
			{"set unknown", []string{"user", "set", "nobody", "--role", "viewer"}, "", "no user named"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				out, errOut, code := runWithDB(t, dbURL, c.in, c.args...)
				if code != exitUsage || !strings.Contains(out+errOut, c.text) {
					t.Fatalf("exit %d, want %d with %q:\n%s%s", code, exitUsage, c.text, out, errOut)
				}
			})
		}

		// user set: a new role keeps the password; a new password keeps the role.
		if out, errOut, code := runWithDB(t, dbURL, "", "user", "set", "olga", "--role", "admin"); code != 0 || !strings.Contains(out, `user "olga" is admin`) {
			t.Fatalf("set role: %d %s %s", code, out, errOut)
		}
		if !canLogin(t, dbURL, "olga", "olga's long password", auth.RoleAdmin) {
			t.Fatal("olga's role did not change, or her password did")
		}
		newPW := filepath.Join(dir, "new")
		os.WriteFile(newPW, []byte("olga's newer password"), 0o600)
		if out, errOut, code := runWithDB(t, dbURL, "", "user", "set", "olga", "--password-file", newPW); code != 0 || !strings.Contains(out, "password changed") {
			t.Fatalf("set password: %d %s %s", code, out, errOut)
		}
		if !canLogin(t, dbURL, "olga", "olga's newer password", auth.RoleAdmin) || canLogin(t, dbURL, "olga", "olga's long password", auth.RoleAdmin) {
			t.Fatal("the password did not change, or the role did")
		}

		out, _, code = runWithDB(t, dbURL, "", "user", "list")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "ada ") ||
			!strings.Contains(lines[2], "olga  ") || !strings.Contains(lines[2], "admin") || !strings.Contains(lines[3], "viewer") {
			t.Fatalf("list: %d\n%s", code, out)
		}
		if strings.Contains(out, "argon2") || strings.Contains(out, generated) {
			t.Fatal("the list shows a secret")
		}
	})
}

// TestUserAccessCommands: user disable ends the user's sessions and keeps
// them from logging in, user enable lets them again, user remove deletes
// them; on SQLite and Postgres.
func TestUserAccessCommands(t *testing.T) {
	dbtest.EachURL(t, func(t *testing.T, dbURL string) {
		migrated(t, dbURL)
		const pw = "olga's long password"
		if _, errOut, code := runWithDB(t, dbURL, pw+"\n", "user", "add", "olga", "--role", "operator"); code != 0 {
			t.Fatal(errOut)
		}
		cfg := testConfig(t, map[string]string{"BOOKBRIDGE_DATABASE_URL": dbURL})
		a, err := app.Open(context.Background(), cfg, app.Options{Logger: testLogger(t), StoreOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		token, _, err := a.Auth.Login(context.Background(), "olga", pw, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		sessionLives := func() bool {
			_, err := a.Auth.Session(context.Background(), token)
			return err == nil
		}

		steps := []struct {
			args     []string
			out      string
			canLogin bool
			status   string // olga's line in user list, "" when she is gone
		}{
			{[]string{"user", "disable", "olga"}, `user "olga" disabled: their sessions have ended`, false, "disabled"},
			{[]string{"user", "disable", "olga"}, `user "olga" disabled`, false, "disabled"},
			{[]string{"user", "enable", "olga"}, `user "olga" enabled`, true, "active"},
			{[]string{"user", "remove", "olga"}, `user "olga" removed: their sessions have ended`, false, ""},
		}
		for _, s := range steps {
			out, errOut, code := runWithDB(t, dbURL, "", s.args...)
			if code != 0 || !strings.Contains(out, s.out) {
				t.Fatalf("%q: %d %q %q", s.args, code, out, errOut)
			}
			if got := canLogin(t, dbURL, "olga", pw, auth.RoleOperator); got != s.canLogin {
				t.Fatalf("after %q olga can log in: %v", s.args, got)
			}
			if sessionLives() {
				t.Fatalf("after %q olga's last session lives", s.args)
			}
			if s.canLogin {
				if token, _, err = a.Auth.Login(context.Background(), "olga", pw, time.Hour); err != nil || !sessionLives() {
					t.Fatalf("after %q olga's new login: %v", s.args, err)
				}
			}
			list, _, _ := runWithDB(t, dbURL, "", "user", "list")
			line := ""
			for _, l := range strings.Split(list, "\n") {
				if strings.HasPrefix(l, "olga ") {
					line = l
				}
			}
			if s.status == "" && line != "" || s.status != "" && !strings.HasSuffix(strings.TrimSpace(line), s.status) {
				t.Fatalf("after %q olga's line is %q, want status %q", s.args, line, s.status)
			}
		}

		for _, verb := range []string{"disable", "enable", "remove"} {
			out, errOut, code := runWithDB(t, dbURL, "", "user", verb, "nobody")
			if code != exitUsage || !strings.Contains(errOut, `no user named "nobody"`) {
				t.Errorf("user %s nobody: %d %q %q", verb, code, out, errOut)
			}
			if _, errOut, code := runWithDB(t, dbURL, "", "user", verb); code != exitUsage || !strings.Contains(errOut, "needs one NAME") {
				t.Errorf("user %s without a name: %d %q", verb, code, errOut)
			}
		}
	})
}

// TestNameRule: user add and apikey create refuse a name that is not 1 to
// 64 letters, digits, '.', '_', '-' or '@', with exit code 2 and the rule.
func TestNameRule(t *testing.T) {
	db := migrated(t, filepath.Join(t.TempDir(), "bookbridge.db"))
	cases := []struct {
		name string
		ok   bool
	}{
		{"olga", true},
		{"olga.berg@example.com", true},
		{"sf-prod_2", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("y", 65), false},
		{"<img src=x onerror=alert(1)>", false},
		{"olga berg", false},
		{"Ölga", false},
		{"a;b", false},
	}
	for _, c := range cases {
		for _, args := range [][]string{{"user", "add", c.name, "--role", "viewer"}, {"apikey", "create", c.name, "--role", "intake"}} {
			out, errOut, code := runWithDB(t, db, "a long enough password\n", args...)
			if c.ok && code != 0 {
				t.Errorf("%q: exit %d %s", args, code, errOut)
			}
			if !c.ok && (code != exitUsage || !strings.Contains(errOut, "1 to 64 characters") || strings.Contains(out, "bbk_")) {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and the rule", args, code, out, errOut)
			}
		}
	}
}
