package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/examples/mappings"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// SIGHUP makes serve compile the rule file again: a valid file is put in
// use, an invalid one leaves the previous rules and says why.
func TestReloadRulesOnHangup(t *testing.T) {
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, mappings.Reference, 0o600); err != nil {
		t.Fatal(err)
	}
	e := startTestServer(t, dbtest.SQLiteURL(t), map[string]string{"BOOKBRIDGE_RULES": rulesFile})
	a := e.p.App
	param := func() string {
		for _, p := range a.Flow.Rules().Params() {
			if p.Name == "pre_production_days" {
				return p.Value
			}
		}
		return ""
	}
	if got := param(); got != "30" {
		t.Fatalf("pre_production_days = %q before the reload", got)
	}
	var logs syncBuffer
	sig := make(chan os.Signal)
	done := reloadRulesOn(t.Context(), sig, a, slog.New(slog.NewTextHandler(&logs, nil)))

	changed := bytes.Replace(mappings.Reference, []byte(`default: "30"`), []byte(`default: "45"`), 1)
	if bytes.Equal(changed, mappings.Reference) {
		t.Fatal("the reference rules no longer hold the default this test changes")
	}
	if err := os.WriteFile(rulesFile, changed, 0o600); err != nil {
		t.Fatal(err)
	}
	sig <- os.Interrupt // any signal value: serve sends SIGHUP
	sig <- os.Interrupt // the second send returns once the first reload is done
	if got := param(); got != "45" {
		t.Fatalf("pre_production_days = %q after the reload, want 45", got)
	}

	if err := os.WriteFile(rulesFile, []byte("version: 1\nsteps: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sig <- os.Interrupt
	close(sig)
	<-done
	if a.Flow.Rules() == nil || param() != "45" {
		t.Fatalf("an invalid rule file replaced the rules in use; log:\n%s", logs.String())
	}
	out := logs.String()
	if !strings.Contains(out, "mapping rules reloaded") || !strings.Contains(out, "mapping rules not reloaded; the previous rules stay in use") {
		t.Fatalf("log:\n%s", out)
	}
}
