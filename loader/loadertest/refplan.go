package loadertest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/bookbridge/bookbridge/loader"
)

// The example deal's keys, as in examples/payloads/deal-full.json.
const (
	RefRecord      = "BB0001001"
	RefECCID       = "0001234567"
	RefDRNumber    = "DR00004711"
	RefSalesOrder  = "4500012345"
	RefCompanyName = "Müller & Søn Größe GmbH"
	RefContractPDF = "att-contract-pdf"
)

var contractPDF = []byte("%PDF-1.4\n% bookbridge reference contract for DR00004711\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

// ReferenceFiles returns the staging attachments the reference plan
// attaches (the contract PDF).
func ReferenceFiles() loader.MapSource {
	return loader.MapSource{RefContractPDF: contractPDF}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var refLines = []struct{ name, sku, qty, amount string }{
	{"AEM SITES:MS 99.9% UPTIME", "65300101", "1", "120000.00"},
	{"AEM ASSETS:MS 99.5% AVAILABILITY", "65300102", "1", "85000.50"},
	{"AEM SITES:MS SCREENS", "65300103", "2", "30000.00"},
	{"AEM FORMS:MS OSGI", "65300104", "1", "45000.00"},
	{"AEM:MS COMMERCE", "65300105", "1", "60000.25"},
	{"AEM MANAGED HOSTING EXTRA", "65300106", "3", "15000.00"},
	{"AEM : MS SUPPORT", "65300107", "1", "20000.00"},
}

// ReferencePlan returns the plan the reference rules make of the example
// deal with skus managed-services line items: steps company, finance,
// sales_order (with the contract PDF) and skus[0]..skus[skus-1]. The block
// number is a load-time lookup of the highest active choice; several
// matching companies raise a problem ticket and stop.
func ReferencePlan(skus int) *loader.Plan {
	lookupBlock := loader.Value{Lookup: &loader.Lookup{
		Table: "sys_choice",
		Where: map[string]string{"name": "core_company", "element": "u_block_number", "inactive": "false"},
		Field: "value", Pick: loader.PickMaxNumber,
		Warning: "no active block number among the choices of core_company.u_block_number; u_block_number is left empty",
	}}
	lit := loader.Lit
	p := &loader.Plan{
		Rules:     "reference.yaml",
		RulesHash: sha([]byte("reference rules v1")),
		Record:    RefRecord,
		Now:       time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
	}
	p.Steps = append(p.Steps, loader.Step{
		ID: "company", Name: "company", Table: "core_company",
		Match: map[string]loader.Value{"u_ecc_id": lit(RefECCID), "u_product": lit("AEM")},
		Fields: map[string]loader.Value{
			"u_customer_contact": lit("it-buyer@mueller-soehne.example"),
			"u_aem_sites":        lit("true"), "u_aem_assets": lit("true"), "u_aem_screens": lit("true"),
			"u_aem_forms": lit("true"), "u_osgi": lit("true"), "u_commerce": lit("true"),
		},
		OnInsert: map[string]loader.Value{
			"name": lit(RefCompanyName), "u_status": lit("Deferred Deployment"), "u_industry": lit("Media"),
			"street": lit("Königsallee 12"), "city": lit("Düsseldorf"), "state": lit("NRW"), "zip": lit("40212"), "country": lit("Germany"),
			"u_ims_org_id": lit("A1B2C3D4E5F6A7B8C9D0E1F2@AdobeOrg"), "u_tenant_id": lit("muellersoehne"),
			"u_start_date": lit("2027-01-01"), "u_end_date": lit("2029-12-31"),
			"u_account_manager": lit("José Álvarez, O'Brien, Siobhán"), "u_product_specialist": lit("Zoë Łukasiewicz"),
			"u_active": lit("true"), "u_block_number": lookupBlock, "u_sla": lit("99.9"), "u_author_sla": lit("99.5"),
		},
		OnMultiple: loader.OnMultipleException,
		Exception: &loader.ExceptionRecord{
			Table: "problem",
			Match: map[string]loader.Value{"short_description": lit("Several companies match ECC id " + RefECCID + " (AEM) for " + RefRecord)},
			Fields: map[string]loader.Value{
				"description": lit("Staged record " + RefRecord + " (" + RefCompanyName + ") matches several core_company records; choose one and load again."),
				"priority":    lit("2"), "state": lit("1"), "due_date": lit("2026-12-02"), "assigned_to": lit("ams-intake"),
			},
			Stop: true,
		},
	})
	p.Steps = append(p.Steps, loader.Step{
		ID: "finance", Name: "finance", Table: "u_ams_finance_names",
		Match:      map[string]loader.Value{"u_finance_name": lit("Müller & Søn Finance EMEA"), "u_company": loader.RefTo("company")},
		OnMultiple: loader.OnMultipleSkip,
		DependsOn:  []string{"company"},
	})
	p.Steps = append(p.Steps, loader.Step{
		ID: "sales_order", Name: "sales_order", Table: "u_managed_services_sales_order",
		Match: map[string]loader.Value{"u_dr_number": lit(RefDRNumber), "u_company": loader.RefTo("company")},
		Fields: map[string]loader.Value{
			"u_sales_order_number": lit(RefSalesOrder), "u_closing_date": lit("2026-11-20"), "u_contract_number": lit("3000045678"),
			"u_total_contract_value": lit("EUR;495000.75"), "u_start_date": lit("2027-01-01"), "u_end_date": lit("2029-12-31"),
		},
		Attach: []loader.Attachment{{
			ID: RefContractPDF, FileName: "Contract DR00004711.pdf", ContentType: "application/pdf",
			SHA256: sha(contractPDF), Size: int64(len(contractPDF)),
		}},
		OnMultiple: loader.OnMultipleException,
		DependsOn:  []string{"company"},
	})
	for i := range skus {
		name, sku, qty, amount := fmt.Sprintf("AEM SITES:MS ADD-ON %d", i), fmt.Sprintf("653002%02d", i), "1", "1000.00"
		if i < len(refLines) {
			l := refLines[i]
			name, sku, qty, amount = l.name, l.sku, l.qty, l.amount
		}
		item := i
		p.Steps = append(p.Steps, loader.Step{
			ID: fmt.Sprintf("skus[%d]", i), Name: "skus", Item: &item, Label: fmt.Sprintf("sku: %s (line %d)", name, i+1), Table: "u_sales_skus",
			Match: map[string]loader.Value{"u_dr_number": loader.RefTo("sales_order"), "u_adobe_sku": lit(sku)},
			Fields: map[string]loader.Value{
				"u_product": lit(name), "u_customer": loader.RefTo("company"), "u_qty": lit(qty), "u_currency": lit("EUR"),
				"u_sales_order_number": lit(RefSalesOrder), "u_start_date": lit("2027-01-01"), "u_end_date": lit("2029-12-31"),
				"u_adobe_contract_number": lit("3000045678"), "u_reportable_amount": lit("EUR;" + amount),
			},
			OnMultiple: loader.OnMultipleException,
			DependsOn:  []string{"company", "sales_order"},
		})
	}
	return p
}
