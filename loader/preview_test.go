package loader_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gkampitakis/go-snaps/snaps"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/loadertest"
	"github.com/bookbridge/bookbridge/loader/memory"
)

func TestPreviewDiffs(t *testing.T) {
	cases := []struct {
		name string
		// setup prepares the target and returns the plan to preview.
		setup   func(t *testing.T, tg *memory.Target) *loader.Plan
		changed bool
	}{
		{"empty target: every step inserts", func(t *testing.T, tg *memory.Target) *loader.Plan {
			return loadertest.ReferencePlan(3)
		}, true},
		{"loaded: nothing to change", func(t *testing.T, tg *memory.Target) *loader.Plan {
			plan := loadertest.ReferencePlan(3)
			apply(t, tg, plan, loader.Journal{}, loader.Options{})
			return plan
		}, false},
		{"changed deal: updates and a new line", func(t *testing.T, tg *memory.Target) *loader.Plan {
			apply(t, tg, loadertest.ReferencePlan(2), loader.Journal{}, loader.Options{})
			plan := loadertest.ReferencePlan(3)
			plan.Steps[0].Fields["u_customer_contact"] = loader.Lit("new-buyer@mueller-soehne.example")
			plan.Steps[4].Fields["u_qty"] = loader.Lit("2")
			plan.Steps[4].Fields["u_reportable_amount"] = loader.Lit("EUR;170001.00")
			return plan
		}, true},
		{"several companies: exception and stop", func(t *testing.T, tg *memory.Target) *loader.Plan {
			for range 2 {
				tg.Seed("core_company", map[string]string{"u_ecc_id": loadertest.RefECCID, "u_product": "AEM"})
			}
			return loadertest.ReferencePlan(2)
		}, true},
		{"exception already raised", func(t *testing.T, tg *memory.Target) *loader.Plan {
			for range 2 {
				tg.Seed("core_company", map[string]string{"u_ecc_id": loadertest.RefECCID, "u_product": "AEM"})
			}
			plan := loadertest.ReferencePlan(1)
			apply(t, tg, plan, loader.Journal{}, loader.Options{})
			return plan
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := newTarget(t)
			plan := c.setup(t, tg)
			before := canonical(tg)
			d, err := loader.Preview(context.Background(), plan, tg, loader.Options{Attachments: loadertest.ReferenceFiles()})
			if err != nil {
				t.Fatal(err)
			}
			if after := canonical(tg); after != before {
				t.Fatal("Preview wrote to the target")
			}
			if d.Calls.Writes() != 0 {
				t.Errorf("Preview counted writes: %+v", d.Calls)
			}
			if d.Changed() != c.changed {
				t.Errorf("Changed() = %v, want %v", d.Changed(), c.changed)
			}
			snaps.MatchSnapshot(t, scrubIDs(d.String()))
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			snaps.MatchJSON(t, scrubIDs(string(b)))
		})
	}
}

// TestPreviewMatchesApply checks that what Preview announces is what
// Apply then does.
func TestPreviewMatchesApply(t *testing.T) {
	tg := newTarget(t)
	apply(t, tg, loadertest.ReferencePlan(2), loader.Journal{}, loader.Options{})
	plan := loadertest.ReferencePlan(4)
	plan.Steps[0].Fields["u_customer_contact"] = loader.Lit("new@example.com")
	d, err := loader.Preview(context.Background(), plan, tg, loader.Options{Attachments: loadertest.ReferenceFiles()})
	if err != nil {
		t.Fatal(err)
	}
	res := apply(t, tg, plan, loader.Journal{}, loader.Options{})
	for i, s := range res.Steps {
		ds := d.Steps[i]
		want := map[loader.Outcome]loader.Action{loader.Inserted: loader.ActionInsert, loader.Updated: loader.ActionUpdate, loader.Unchanged: loader.ActionUnchanged}[s.Outcome]
		if ds.Action != want {
			t.Errorf("%s: preview %s, apply %s", s.ID, ds.Action, s.Outcome)
		}
		if s.Outcome == loader.Updated && len(ds.Changes) != len(s.Changes) {
			t.Errorf("%s: preview changes %v, apply %v", s.ID, ds.Changes, s.Changes)
		}
	}
}
