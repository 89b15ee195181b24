package mapping

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBrokenRuleFiles compiles every file under testdata/broken. Each
// starts with "# want: LINE:COL: text" lines: the compile must fail with
// exactly that many problems, each at its position and containing its
// text.
func TestBrokenRuleFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/broken/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("only %d broken rule files", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var wants []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					wants = append(wants, file+":"+w)
				}
			}
			if len(wants) == 0 {
				t.Fatal("the file has no # want: line")
			}
			_, err = Compile(file, data)
			var ce *CompileError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidRules) {
				t.Fatalf("want a *CompileError, got %v", err)
			}
			if len(ce.Problems) != len(wants) {
				t.Errorf("got %d problems, want %d:\n%v", len(ce.Problems), len(wants), err)
			}
			for _, w := range wants {
				found := false
				for _, p := range ce.Problems {
					if strings.HasPrefix(p.String(), w) || (strings.HasPrefix(w, positionOf(p)) && strings.Contains(p.String(), w[len(positionOf(p)):])) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem matches %q; got:\n%v", w, err)
				}
			}
		})
	}
}

func positionOf(p Problem) string { return fmt.Sprintf("%s:%d:%d: ", p.File, p.Line, p.Col) }

func TestCompileErrorsInline(t *testing.T) {
	const head = "version: 1\nexception:\n  table: problem\n  fields: {short_description: failure.reason}\n"
	cases := []struct {
		name, src, want string
	}{
		{"empty file", "", "x.yaml:1:1: the rule file is empty"},
		{"not a mapping", "- a\n- b\n", "x.yaml:1:1: a rule file is a mapping"},
		{"anchor", head + "steps:\n  - name: a\n    table: t\n    fields:\n      x: &v '1'\n", "x.yaml:9:10: anchors (&name) are not supported"},
		{"duplicate step", head + "steps:\n  - name: a\n    table: t\n  - name: a\n    table: t\n", "x.yaml:8:11: step name \"a\" is used twice"},
		{"bad step name", head + "steps:\n  - name: sales-order\n    table: t\n", "x.yaml:6:11: step name \"sales-order\" must be letters, digits and _"},
		{"no table", head + "steps:\n  - name: a\n", "x.yaml:6:5: step a has no table"},
		{"no match", head + "steps:\n  - name: a\n    table: t\n    fields: {x: '1'}\n", "x.yaml:6:5: step a has no match: name the fields that find its record"},
		{"field twice", head + "steps:\n  - name: a\n    table: t\n    fields:\n      x: '1'\n    on_insert:\n      x: '2'\n", "x.yaml:11:10: step a: field x is in both fields and on_insert"},
		{"ref in vars", head + "vars:\n  a: ref.company\nsteps:\n  - name: company\n    table: t\n", "x.yaml:6:10: vars.a: ref.company cannot be used here"},
		{"self reference var", head + "vars:\n  a: vars.a + 1\nsteps:\n  - name: a\n    table: t\n", "x.yaml:6:11: vars.a: var a refers to itself"},
		{"self reference step", head + "steps:\n  - name: a\n    table: t\n    fields:\n      x: ref.a\n", "x.yaml:9:14: step a, fields.x: ref.a: a step cannot reference its own record"},
		{"record field", head + "steps:\n  - name: a\n    table: t\n    fields:\n      x: record.Number\n", "has no field Number; it has id, number, state, attachments"},
		{"ph field", head + "steps:\n  - name: a\n    table: t\n    fields:\n      x: ph.deploy_email\n", "x.yaml:9:13: step a, fields.x: unknown field deploy_email; did you mean ph.deploy_to_email?"},
		{"failure outside exception", head + "steps:\n  - name: a\n    table: t\n    fields:\n      x: failure.reason\n", "failure exists only in exception fields"},
		{"exception match not a field", "version: 1\nexception:\n  table: problem\n  match: [number]\n  fields: {short_description: failure.reason}\nsteps:\n  - name: a\n    table: t\n", "x.yaml:4:3: exception match names \"number\", which is not one of its fields"},
		{"require without message", head + "steps:\n  - name: a\n    table: t\n    require:\n      - check: 'true'\n", "needs check: (a condition) and message:"},
		{"empty expression", head + "steps:\n  - name: a\n    table: t\n    fields:\n      x: '  '\n", "the expression is empty"},
		{"unknown param override", head + "steps:\n  - name: a\n    table: t\n", "a value was given for param \"nope\""},
		{"stop not bool", "version: 1\nexception:\n  table: problem\n  stop: maybe\n  fields: {short_description: failure.reason}\nsteps:\n  - name: a\n    table: t\n", "x.yaml:4:9: exception stop must be true or false"},
		{"index outside foreach", head + "steps:\n  - name: a\n    table: t\n    fields:\n      x: index\n", "x.yaml:9:10: step a, fields.x: index exists only in a step or warning with foreach"},
		{"index in a plain warning", head + "warnings:\n  - message: 'string(index)'\nsteps:\n  - name: a\n    table: t\n", "x.yaml:6:22: warning 1, message: index exists only in a step or warning with foreach"},
		{"label not text", head + "steps:\n  - name: a\n    table: t\n    label: '1 + 1'\n", "x.yaml:8:12: step a, label must yield text, but this expression yields a number"},
		{"ph_not_loaded unknown field", head + "ph_not_loaded: [tenant]\nsteps:\n  - name: a\n    table: t\n", "x.yaml:5:17: ph_not_loaded: \"tenant\" is not a PH field; did you mean tenant_id?"},
		{"two documents", head + "steps:\n  - name: a\n    table: t\n---\nversion: 1\n", "a rule file holds one YAML document"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile("x.yaml", []byte(c.src), WithParams(map[string]string{"nope": "1"}))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want a problem containing %q, got:\n%v", c.want, err)
			}
		})
	}
}

func TestCompileReportsEveryProblem(t *testing.T) {
	src := "version: 1\nvars:\n  a: 'upper(1)'\n  b: vars.nope\nsteps:\n  - name: s\n    table: t\n    on_multiple: never\n    fields:\n      x: nosuch()\n    match: {k: '1'}\n"
	_, err := Compile("many.yaml", []byte(src))
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("want *CompileError, got %v", err)
	}
	if len(ce.Problems) != 5 {
		t.Fatalf("want 5 problems, got %d:\n%v", len(ce.Problems), err)
	}
	for i := 1; i < len(ce.Problems); i++ {
		if ce.Problems[i].Line < ce.Problems[i-1].Line {
			t.Fatalf("problems not in file order:\n%v", err)
		}
	}
}
