// Package openapilint holds the lint of bookbridge's OpenAPI contract
// (cmd/bookbridge/internal/server/openapi.yaml) with @redocly/cli, pinned
// in package-lock.json, and the ruleset in redocly.yaml. CI runs it with
// `npm ci && npm run lint` here; the tests below run the same lint from
// go test and check that the ruleset catches the mistakes it is for.
package openapilint

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// envRequireE2E makes tests that need a Debian or npm program fail instead
// of skipping when the program is missing (CI sets it).
const envRequireE2E = "BOOKBRIDGE_REQUIRE_E2E"

const contractPath = "../openapi.yaml"

// redocly returns the node binary that runs the installed @redocly/cli, or
// skips t (fails it under BOOKBRIDGE_REQUIRE_E2E=1) when node or the npm
// package is missing.
func redocly(t *testing.T) string {
	t.Helper()
	missing := func(msg string) {
		if os.Getenv(envRequireE2E) == "1" {
			t.Fatalf("%s; %s=1 forbids skipping", msg, envRequireE2E)
		}
		fmt.Fprintln(os.Stderr, "!!! SKIPPING:", msg)
		t.Skip("SKIPPED: " + msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("NODE NOT INSTALLED: the OpenAPI lint needs Node.js 20.19 or newer with npm on PATH")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "@redocly", "cli", "package.json")); err != nil {
		missing("REDOCLY CLI NOT INSTALLED: run `npm ci` in cmd/bookbridge/internal/server/openapilint")
	}
	return node
}

// lint runs redocly lint with redocly.yaml on file and returns its output
// and exit code.
func lint(t *testing.T, node, file string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("node_modules", "@redocly", "cli", "bin", "cli.js"),
		"lint", "--config", "redocly.yaml", "--format", "stylish", file)
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	default:
		t.Fatalf("running redocly lint: %v\n%s", err, out)
		return "", -1
	}
}

// TestContractLints: the contract passes the ruleset.
func TestContractLints(t *testing.T) {
	node := redocly(t)
	if out, code := lint(t, node, contractPath); code != 0 {
		t.Fatalf("redocly lint of openapi.yaml exited %d:\n%s", code, out)
	}
}

// TestLintCatchesMistakes: a copy of the contract with one mistake each
// fails the lint with the rule that is for it.
func TestLintCatchesMistakes(t *testing.T) {
	node := redocly(t)
	doc, err := os.ReadFile(contractPath)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new, rule string
	}{
		{"an unquoted description with commas",
			`description: "Duplicate of, or newer version of, a staged deal."`,
			`description: Duplicate of, or newer version of, a staged deal.`, "struct"},
		{"a reference to no schema",
			`$ref: "#/components/schemas/EmailAccepted"`, `$ref: "#/components/schemas/EmailAcceptd"`, "no-unresolved-refs"},
		{"an operation without an id", "operationId: postDeal\n", "", "operation-operationId"},
		{"a required field not defined", "required: [outcome, id, number, state]", "required: [outcome, id, number, state, record]",
			"no-required-schema-properties-undefined"},
	}
	for _, c := range cases {
		if !strings.Contains(string(doc), c.old) {
			t.Fatalf("%s: openapi.yaml no longer has %q", c.name, c.old)
		}
		file := filepath.Join(t.TempDir(), "openapi.yaml")
		if err := os.WriteFile(file, []byte(strings.Replace(string(doc), c.old, c.new, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		out, code := lint(t, node, file)
		if code == 0 || !strings.Contains(out, " "+c.rule+" ") {
			t.Errorf("%s: lint exited %d without a %s problem:\n%s", c.name, code, c.rule, out)
		}
	}
}
