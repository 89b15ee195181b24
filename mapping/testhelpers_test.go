package mapping

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
)

const (
	referenceRules = "../examples/mappings/reference.yaml"
	fullPayload    = "../examples/payloads/deal-full.json"
)

// testNow is a Monday, 25 days before the full deal's contract start.
var testNow = time.Date(2026, time.December, 7, 9, 30, 0, 0, time.UTC)

func loadReference(t testing.TB, opts ...Option) *Rules {
	t.Helper()
	r, err := LoadFile(referenceRules, opts...)
	if err != nil {
		t.Fatalf("reference rules: %v", err)
	}
	return r
}

// fullDeal returns the full example payload, decoded afresh so that a test
// may change it.
func fullDeal(t testing.TB) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(fullPayload)
	if err != nil {
		t.Fatal(err)
	}
	m, err := SFDCFromJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// lineItems returns the payload's line-item records.
func lineItems(sf map[string]any) []any {
	return sf["OpportunityLineItems"].(map[string]any)["records"].([]any)
}

func setLineItems(sf map[string]any, items []any) {
	li := sf["OpportunityLineItems"].(map[string]any)
	li["records"] = items
	li["totalSize"] = json.Number(jsonInt(len(items)))
}

func jsonInt(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// lineItem makes a line item like the example's.
func lineItem(name, sku, qty, price string) map[string]any {
	return map[string]any{
		"Name__c":                    name,
		"Adobe_SKU__c":               sku,
		"Quantity":                   json.Number(qty),
		"TotalPrice":                 json.Number(price),
		"New_Contract_Start_Date__c": "2027-01-01",
		"New_Contract_End_Date__c":   "2029-12-31",
		"PricebookEntry":             map[string]any{"Product2": map[string]any{"Family": "Managed Services"}},
	}
}

// withNames keeps only the line items whose Name__c is listed, then adds
// new lines for the names not found.
func withNames(sf map[string]any, names ...string) {
	var kept []any
	for i, n := range names {
		found := false
		for _, li := range lineItems(sf) {
			if li.(map[string]any)["Name__c"] == n {
				kept = append(kept, li)
				found = true
				break
			}
		}
		if !found {
			kept = append(kept, lineItem(n, jsonInt(65309900+i), "1", "1000"))
		}
	}
	setLineItems(sf, kept)
}

func testRecord() RecordInfo {
	return RecordInfo{
		ID: "rec-1", Number: "BB0001001", State: "enriched",
		Attachments: []AttachmentInfo{
			{ID: "att-1", FileName: "Contract 4500012345.pdf", ContentType: "application/pdf", SHA256: "9f2c0d9a3b7e4c1f8a6d5e2b0c9f7a1d3e5b8c0a2f4d6e8b1a3c5e7f9d0b2a4c", Size: 48213, Usable: true},
			{ID: "att-2", FileName: "Order form (scan).pdf", ContentType: "application/pdf", SHA256: "1b3d5f7a9c0e2a4c6e8a0c2e4a6c8e0a2c4e6a8c0e2a4c6e8a0c2e4a6c8e0a2c", Size: 1024, Usable: false, Warnings: []string{"the PDF has JavaScript (OpenAction)"}},
			{ID: "att-3", FileName: "notes.txt", ContentType: "text/plain", SHA256: "3c5e7a9c1e3a5c7e9a1c3e5a7c9e1a3c5e7a9c1e3a5c7e9a1c3e5a7c9e1a3c5e", Size: 12, Usable: true},
		},
	}
}

func testPH() map[string]string {
	return map[string]string{
		"company_name": "Müller & Søn Größe GmbH", "dr_number": "DR00004711", "ecc_id": "0001234567",
		"sales_order_number": "4500012345", "deploy_to_email": "aem-admins@mueller-soehne.example",
		"tenant_id": "muellersoehne", "ims_org_id": "A1B2C3D4E5F6A7B8C9D0E1F2@AdobeOrg",
		"ticket_link": "https://ph.example/tickets/PH-88231",
	}
}

// planJSON writes a plan the way the CLI prints it: indented, with & and
// < as they are.
func planJSON(t testing.TB, p *loader.Plan) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// stepsNamed returns the plan's steps of the given rule step names.
func stepsNamed(p *loader.Plan, names ...string) []loader.Step {
	var out []loader.Step
	for _, s := range p.Steps {
		for _, n := range names {
			if s.Name == n {
				out = append(out, s)
			}
		}
	}
	return out
}

func stepByID(t testing.TB, p *loader.Plan, id string) loader.Step {
	t.Helper()
	for _, s := range p.Steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("plan has no step %s", id)
	return loader.Step{}
}

// asChecked compiles rules whose programs run as first compiled, for
// tests that compare plans with and without the patches.
func asChecked() Option { return func(o *options) { o.asChecked = true } }
