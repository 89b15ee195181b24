package console

import (
	"context"
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/staging"
)

// TestDriftPage: a row edited in ServiceNow shows on the drift page with
// its old and new value and the target id; Acknowledge keeps it in the
// history and takes it off the list; viewers cannot reach the page.
func TestDriftPage(t *testing.T) {
	h := newSQLiteHarness(t, nil)
	ctx := context.Background()
	rec := h.stageExample()
	if _, err := h.app.Flow.Load(ctx, rec.ID, "test"); err != nil {
		t.Fatal(err)
	}
	op := h.loggedIn("olga", auth.RoleOperator)
	if p := op.get("/drift"); p.status != http.StatusOK || !strings.Contains(p.body, "No loaded record has drifted.") {
		t.Fatalf("drift page in sync: %d\n%s", p.status, p.body)
	}
	sku := h.sn.Dump()["u_sales_skus"][0]
	h.sn.Edit("u_sales_skus", sku.ID, map[string]string{"u_qty": "99"})
	p := op.get("/drift")
	body := html.UnescapeString(p.body)
	for _, want := range []string{`id="drift-` + rec.Number + `"`, "u_qty", "<del>" + sku.Fields["u_qty"] + "</del>", "<ins>99</ins>", sku.ID,
		`href="/records/` + rec.Number + `"`, `action="/records/` + rec.Number + `/drift/ack"`, `href="/drift" aria-current="page"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the drift page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatalf("drift page:\n%s", p.body)
	}
	if a := op.post("/records/"+rec.Number+"/drift/ack", nil); a.status != http.StatusSeeOther || a.header.Get("Location") != "/drift" {
		t.Fatalf("acknowledge: %d %s\n%s", a.status, a.header.Get("Location"), a.body)
	}
	p = op.get("/drift")
	if !strings.Contains(p.body, "No loaded record has drifted.") || !strings.Contains(p.body, "acknowledged by user:olga") || !strings.Contains(p.body, "was acknowledged") {
		t.Fatalf("drift page after the acknowledgement:\n%s", p.body)
	}
	hist, err := h.app.Store.History(ctx, rec.ID)
	if err != nil || hist[len(hist)-1].Kind != staging.EventDriftAcknowledged || hist[len(hist)-1].User != "user:olga" {
		t.Fatalf("history: %v %+v", err, hist[len(hist)-1])
	}
	if w := h.sn.Stats().Writes; w["u_sales_skus"] != 6 {
		t.Errorf("SKU writes = %d, want the load's 6 only", w["u_sales_skus"])
	}
	viewer := h.loggedIn("victor", auth.RoleViewer)
	if p := viewer.get("/drift"); p.status != http.StatusForbidden {
		t.Errorf("a viewer's drift page: %d, want 403", p.status)
	}
	if strings.Contains(viewer.get("/records").body, `href="/drift"`) {
		t.Errorf("a viewer's menu links the drift page")
	}
}
