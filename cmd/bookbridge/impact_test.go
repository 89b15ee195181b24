package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/app"
	"github.com/bookbridge/bookbridge/examples/mappings"
	"github.com/bookbridge/bookbridge/staging"
)

// impactEnv is a SQLite store with one loaded record and a SQL target.
func impactEnv(t *testing.T) (map[string]string, string) {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"BOOKBRIDGE_DATABASE_URL": filepath.Join(dir, "bb.db"),
		"BOOKBRIDGE_TARGET":       "sql",
		"BOOKBRIDGE_TARGET_URL":   filepath.Join(dir, "target.db"),
	}
	a, err := app.Open(context.Background(), testConfig(t, env), app.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	id := stageReady(t, a, 1)[0]
	rec, err := a.Flow.Load(context.Background(), id, "test")
	if err != nil || rec.State != staging.StateLoaded {
		t.Fatalf("load: %v %v", rec, err)
	}
	return env, rec.Number
}

func runEnv(env map[string]string, stdin string, args ...string) (string, int) {
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	if err != nil {
		out.WriteString(err.Error())
	}
	return out.String() + errb.String(), exitCode(err)
}

func TestMappingImpactExitCodes(t *testing.T) {
	env, number := impactEnv(t)
	next := "../../examples/mappings/reference-next.yaml"
	src, err := os.ReadFile(next)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, bytes.Replace(src, []byte("u_qty: item.Quantity"), []byte("u_qty: int(item.Name__c)"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	invalid := filepath.Join(t.TempDir(), "invalid.yaml")
	if err := os.WriteFile(invalid, []byte("version: 1\nsteps: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	same := filepath.Join(t.TempDir(), "same.yaml")
	if err := os.WriteFile(same, mappings.Reference, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"changes", []string{"mapping", "impact", "--rules", next}, 0, []string{"1 record(s) checked, 1 change, 0 fail",
			"- skus u_sales_skus[u_adobe_sku=", "on_update.u_tenant_id", number}},
		{"no change", []string{"mapping", "impact", "--rules", same}, 0, []string{"1 record(s) checked, 0 change"}},
		{"plan fails", []string{"mapping", "impact", "--rules", broken}, 1, []string{"plan fails: ", "broken.yaml:", "fields.u_qty"}},
		{"json", []string{"mapping", "impact", "--json", "--rules", next}, 0, []string{`"rows_no_longer_written": 2`}},
		{"no rules", []string{"mapping", "impact"}, 2, nil},
		{"rules do not compile", []string{"mapping", "impact", "--rules", invalid}, 2, []string{"invalid.yaml:"}},
		{"missing file", []string{"mapping", "impact", "--rules", "nope.yaml"}, 2, nil},
		{"bad state", []string{"mapping", "impact", "--rules", next, "--state", "nope"}, 2, nil},
		{"other states", []string{"mapping", "impact", "--rules", next, "--state", "ready"}, 0, []string{"0 record(s) checked"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, code := runEnv(env, "", c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d; output:\n%s", code, c.code, out)
			}
			for _, s := range c.contains {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
		})
	}
}

// load --reload asks on a terminal, refuses without one unless --yes,
// and --dry-run writes nothing.
func TestLoadReloadConfirmation(t *testing.T) {
	env, number := impactEnv(t)
	next := "../../examples/mappings/reference-next.yaml"
	if out, code := runEnv(env, "y\n", "load", "--reload", number); code != 2 || !strings.Contains(out, "--yes") {
		t.Fatalf("without a terminal and --yes: exit %d\n%s", code, out)
	}
	if out, code := runEnv(env, "", "load", "--reload", "--dry-run", number); code != 0 || !strings.Contains(out, "reload of "+number) {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if out, code := runEnv(env, "", "load", "--reload", "--yes", "--impact-of", next); code != 2 || !strings.Contains(out, "BOOKBRIDGE_RULES") {
		t.Fatalf("--impact-of with other rules in use: exit %d\n%s", code, out)
	}
	env["BOOKBRIDGE_RULES"] = next
	if out, code := runEnv(env, "", "load", "--reload", "--impact-of", next); code != 2 {
		t.Fatalf("bulk reload without --yes: exit %d\n%s", code, out)
	}
	out, code := runEnv(env, "", "load", "--reload", "--yes", "--impact-of", next)
	if code != 0 || !strings.Contains(out, "1 change") || !strings.Contains(out, number+": loaded") {
		t.Fatalf("bulk reload: exit %d\n%s", code, out)
	}
	if out, code := runEnv(env, "", "load", "--reload", "--yes", number); code != 0 || !strings.Contains(out, number+": loaded") {
		t.Fatalf("reload with --yes: exit %d\n%s", code, out)
	}
	if out, code := runEnv(env, "", "load", "--reload"); code != 2 {
		t.Fatalf("no number: exit %d\n%s", code, out)
	}
}

func TestEmailReparseCommand(t *testing.T) {
	env, number := impactEnv(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		// The staged test email is not one the default parser takes: it is
		// reported, and the command exits 1.
		{[]string{"email", "reparse", "--dry-run", number}, 1, number + ": not re-parsed"},
		{[]string{"email", "reparse", "--all"}, 1, "not a Provisioning Hub email"},
		{[]string{"email", "reparse"}, 2, ""},
		{[]string{"email", "reparse", "--all", number}, 2, ""},
		{[]string{"email", "reparse", "BB9999999"}, 2, ""},
	} {
		out, code := runEnv(env, "", c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s", c.args, code, c.code, c.want, out)
		}
	}
}
