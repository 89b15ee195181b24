package phmail_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/bookbridge/bookbridge/phmail"
)

// result is what a fixture's snapshot records.
type result struct {
	Error     string            `json:"error,omitempty"`
	ErrorKind string            `json:"error_kind,omitempty"`
	Message   *phmail.Message   `json:"message,omitempty"`
	Fields    map[string]string `json:"fields,omitempty"`
}

func errorKind(err error) string {
	var (
		mf *phmail.MissingFieldsError
		le *phmail.LimitError
		me *phmail.MalformedError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, phmail.ErrNotPH):
		return "ErrNotPH"
	case errors.As(err, &mf):
		return "MissingFieldsError"
	case errors.As(err, &le):
		return "LimitError"
	case errors.As(err, &me):
		return "MalformedError"
	}
	return "other"
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCorpus parses every .eml fixture and compares the result with its
// snapshot in __snapshots__.
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil || len(files) < 12 {
		t.Fatalf("want at least 12 fixtures, have %d (%v)", len(files), err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".eml"), func(t *testing.T) {
			m, err := phmail.Parse(readFixture(t, name))
			r := result{ErrorKind: errorKind(err), Message: m}
			if err != nil {
				r.Error = err.Error()
			}
			if m != nil {
				r.Fields = m.Fields()
			}
			snaps.MatchJSON(t, r)
		})
	}
}
