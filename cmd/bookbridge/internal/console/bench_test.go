package console

import (
	"net/http"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
)

// BenchmarkPages measures a logged-in user's page views over loopback HTTP
// on SQLite: session lookup, store reads and rendering.
func BenchmarkPages(b *testing.B) {
	for _, page := range []string{"records", "record"} {
		b.Run(page, func(b *testing.B) {
			h := newSQLiteHarness(b, nil)
			rec := h.stageExample()
			c := h.loggedIn("victor", auth.RoleViewer)
			path := "/records"
			if page == "record" {
				path += "/" + rec.Number
			}
			b.ResetTimer()
			for b.Loop() {
				if a := c.get(path); a.status != http.StatusOK {
					b.Fatalf("%s: %d", path, a.status)
				}
			}
		})
	}
}
