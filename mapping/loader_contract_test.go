package mapping_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/memory"
	"github.com/bookbridge/bookbridge/mapping"
)

// TestReferencePlanLoadsTwiceWithoutDuplicates checks the plan against the
// loader, the package that consumes it: the plan passes loader.Validate,
// and loading it twice into one target inserts every record once (the
// second load finds them all by their match values).
func TestReferencePlanLoadsTwiceWithoutDuplicates(t *testing.T) {
	rules, err := mapping.LoadFile("../examples/mappings/reference.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../examples/payloads/deal-full.json")
	if err != nil {
		t.Fatal(err)
	}
	sf, err := mapping.SFDCFromJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	pdf := []byte("%PDF-1.7\n% contract\n%%EOF\n")
	sum := sha256.Sum256(pdf)
	in := mapping.Input{
		SFDC: sf,
		PH:   map[string]string{"deploy_to_email": "aem-admins@mueller-soehne.example", "tenant_id": "muellersoehne"},
		Record: mapping.RecordInfo{ID: "rec-1", Number: "BB0001001", Attachments: []mapping.AttachmentInfo{
			{ID: "att-1", FileName: "Contract.pdf", ContentType: "application/pdf", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(pdf)), Usable: true},
		}},
		Now: time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC),
	}
	plan, err := rules.Plan(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := loader.Validate(plan); err != nil {
		t.Fatalf("the loader rejects the plan: %v", err)
	}
	target := memory.New(memory.Options{})
	opts := loader.Options{Attachments: loader.MapSource{"att-1": pdf}}
	first, err := loader.Apply(context.Background(), plan, target, loader.Journal{}, opts)
	if err != nil {
		t.Fatalf("first load: %v", err)
	}
	inserted := 0
	for _, s := range first.Steps {
		if s.Outcome == loader.Inserted {
			inserted++
		}
	}
	if inserted != len(plan.Steps) {
		t.Fatalf("first load inserted %d of %d steps: %+v", inserted, len(plan.Steps), first.Steps)
	}
	// A second press of the button, without the journal: everything is
	// found again, nothing inserted.
	second, err := loader.Apply(context.Background(), plan, target, loader.Journal{}, opts)
	if err != nil {
		t.Fatalf("second load: %v", err)
	}
	for _, s := range second.Steps {
		if s.Outcome == loader.Inserted {
			t.Errorf("second load inserted %s again", s.ID)
		}
	}
}

// TestOOTBPlanPassesLoaderValidate checks the second example's plan
// against the loader's rules too.
func TestOOTBPlanPassesLoaderValidate(t *testing.T) {
	rules, err := mapping.LoadFile("../examples/mappings/servicenow-ootb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../examples/payloads/deal-full.json")
	if err != nil {
		t.Fatal(err)
	}
	sf, err := mapping.SFDCFromJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := rules.Plan(mapping.Input{SFDC: sf, Now: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if err := loader.Validate(plan); err != nil {
		t.Fatalf("the loader rejects the plan: %v", err)
	}
}
