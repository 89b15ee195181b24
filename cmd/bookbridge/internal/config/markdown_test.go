package config

import (
	"os"
	"strings"
	"testing"
)

// TestREADMETableIsCurrent keeps the README's settings table identical to
// Markdown(). Run with BOOKBRIDGE_UPDATE_README=1 to rewrite it.
func TestREADMETableIsCurrent(t *testing.T) {
	const path = "../../../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- settings:begin -->\n", "<!-- settings:end -->"
	readme := string(b)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers around the settings table", begin, end)
	}
	want := Markdown()
	got := readme[i+len(begin) : j]
	if got == want {
		return
	}
	if os.Getenv("BOOKBRIDGE_UPDATE_README") == "1" {
		if err := os.WriteFile(path, []byte(readme[:i+len(begin)]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md settings table is out of date; run: BOOKBRIDGE_UPDATE_README=1 go test ./cmd/bookbridge/internal/config")
}
