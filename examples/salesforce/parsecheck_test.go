package salesforce

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// envRequireE2E makes tests that need a Debian or npm program fail instead
// of skipping when the program is missing (CI sets it).
const envRequireE2E = "BOOKBRIDGE_REQUIRE_E2E"

// parseCheck returns the node binary that runs scripts/parse-check.mjs, or
// skips t (fails it under BOOKBRIDGE_REQUIRE_E2E=1) when node or the npm
// packages are missing.
func parseCheck(t *testing.T) string {
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
		missing("NODE NOT INSTALLED: the Apex parse check needs Node.js 20.19 or newer with npm on PATH")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "@apexdevtools", "apex-parser", "package.json")); err != nil {
		missing("APEX PARSER NOT INSTALLED: run `npm ci` in examples/salesforce")
	}
	return node
}

// runParseCheck runs the Node script on paths and returns its output and
// exit code.
func runParseCheck(t *testing.T, node string, paths ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join("scripts", "parse-check.mjs")}, paths...)...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	default:
		t.Fatalf("running the parse check: %v\n%s", err, out)
		return "", -1
	}
}

func apexSources(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".cls") || strings.HasSuffix(path, ".trigger")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestApexSourcesParse is CI's syntax check of the sender: every class and
// trigger of the Salesforce DX project parses with @apexdevtools/apex-parser.
func TestApexSourcesParse(t *testing.T) {
	node := parseCheck(t)
	files := apexSources(t, "force-app")
	if len(files) < 10 {
		t.Fatalf("found only %d Apex files under force-app: %v", len(files), files)
	}
	out, code := runParseCheck(t, node, "force-app")
	if code != 0 {
		t.Fatalf("Apex syntax errors (file:line:col), exit %d:\n%s", code, out)
	}
	want := fmt.Sprintf("parse-check: %d files, 0 with syntax errors", len(files))
	if !strings.Contains(out, want) {
		t.Errorf("the parse check did not see every file: want %q in\n%s", want, out)
	}
}

// TestParseCheckReportsSyntaxErrors proves the check can fail: broken
// sources give exit 1 and file:line:col for each error, a good file none.
func TestParseCheckReportsSyntaxErrors(t *testing.T) {
	node := parseCheck(t)
	dir := t.TempDir()
	files := map[string]string{
		"Broken.cls":            "public class Broken {\n    Integer x = 1\n}\n",
		"BrokenTrigger.trigger": "trigger BrokenTrigger on Opportunity (after update) {\n    update;\n}\n",
		"BadEscape.cls":         "public class BadEscape {\n    String s = 'a \\q b';\n}\n",
		"Fine.cls":              "public class Fine {\n    Integer x = 1;\n}\n",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, code := runParseCheck(t, node, dir)
	if code != 1 {
		t.Fatalf("exit = %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		regexp.QuoteMeta(filepath.Join(dir, "Broken.cls")) + `:3:1: missing ';'`,
		regexp.QuoteMeta(filepath.Join(dir, "BrokenTrigger.trigger")) + `:2:11: `,
		regexp.QuoteMeta(filepath.Join(dir, "BadEscape.cls")) + `:2:\d+: token recognition error`,
		`parse-check: 4 files, 3 with syntax errors`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Fine.cls:") {
		t.Errorf("a valid class was reported:\n%s", out)
	}

	if out, code := runParseCheck(t, node, filepath.Join(dir, "no-such-dir")); code != 2 {
		t.Errorf("a missing path: exit = %d, want 2\n%s", code, out)
	}
}
