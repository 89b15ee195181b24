package mapping

import (
	"bytes"
	"testing"
	"time"

	"github.com/gkampitakis/go-snaps/snaps"
)

// TestReferencePlans snapshots the reference rules' plans for variations
// of the full example deal.
func TestReferencePlans(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(sf map[string]any, in *Input)
		params map[string]string
	}{
		{name: "full deal with email and attachments", edit: func(sf map[string]any, in *Input) {}},
		{name: "AEM Basic with HR", params: map[string]string{"customer_success_engineer": "cse-user-sys-id"},
			edit: func(sf map[string]any, in *Input) {
				withNames(sf, "AEM SITES:MS BASIC HR", "AEM ASSETS:MS 99.9% BASIC")
			}},
		{name: "AEM Basic without HR and no configured engineer", edit: func(sf map[string]any, in *Input) {
			withNames(sf, "AEM SITES:MS basic 99.9%", "HRM AEM:MS commerce")
		}},
		{name: "sites only", edit: func(sf map[string]any, in *Input) { withNames(sf, "AEM SITES:MS 99.9% UPTIME") }},
		{name: "assets only", edit: func(sf map[string]any, in *Input) { withNames(sf, "AEM ASSETS:MS 99.5% AVAILABILITY") }},
		{name: "screens", edit: func(sf map[string]any, in *Input) { withNames(sf, "AEM SITES:MS SCREENS") }},
		{name: "commerce only", edit: func(sf map[string]any, in *Input) { withNames(sf, "AEM:MS COMMERCE") }},
		{name: "forms with JEE", edit: func(sf map[string]any, in *Input) { withNames(sf, "AEM FORMS:MS JEE") }},
		{name: "forms without JEE", edit: func(sf map[string]any, in *Input) { withNames(sf, "AEM FORMS:MS OSGI") }},
		{name: "forms with JEE and an extra forms line", edit: func(sf map[string]any, in *Input) {
			withNames(sf, "AEM FORMS:MS JEE", "AEM FORMS:MS ADDITIONAL ENVIRONMENT")
		}},
		{name: "forms lines without JEE", edit: func(sf map[string]any, in *Input) {
			withNames(sf, "AEM FORMS:MS OSGI", "AEM FORMS:MS ADDITIONAL ENVIRONMENT")
		}},
		{name: "start after 30 days", edit: func(sf map[string]any, in *Input) {
			in.Now = time.Date(2026, time.December, 1, 23, 59, 0, 0, time.UTC) // 31 days before 2027-01-01
		}},
		{name: "no managed-services lines", edit: func(sf map[string]any, in *Input) {
			withNames(sf, "Adobe Analytics Prime", "Adobe Target Standard")
		}},
		{name: "names with commas and quotes", edit: func(sf map[string]any, in *Input) {
			sf["Account"].(map[string]any)["Name"] = `Smith, "Big" & O'Hara Co.`
			sf["Organization_Name__c"] = `Smith, "Big" Finance`
			withNames(sf, `AEM SITES:MS 99.95% "Gold", EU`)
			in.PH["company_name"] = `Smith "Big" & O'Hara Co`
		}},
		{name: "email without deploy-to and other sales order", edit: func(sf map[string]any, in *Input) {
			in.PH["deploy_to_email"] = ""
			in.PH["sales_order_number"] = "4500099999"
		}},
		{name: "PH-only record without ECC id", edit: func(sf map[string]any, in *Input) {
			delete(sf, "End_User_ECC_ID__c")
			in.Now = time.Date(2026, time.December, 8, 9, 0, 0, 0, time.UTC) // a Tuesday
		}},
		{name: "duplicate SKU lines", edit: func(sf map[string]any, in *Input) {
			items := lineItems(sf)
			setLineItems(sf, append(items[:2:2], lineItem("AEM SITES:MS EXTRA", "65300101", "2.0", "10.005")))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := loadReference(t, WithParams(c.params))
			sf := fullDeal(t)
			in := Input{SFDC: sf, PH: testPH(), Record: testRecord(), Now: testNow}
			c.edit(sf, &in)
			p, err := r.Plan(in)
			if err != nil {
				t.Fatal(err)
			}
			again, err := r.Plan(in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(planJSON(t, p), planJSON(t, again)) {
				t.Fatal("two plans of the same input differ")
			}
			// The hash changes with every edit of the rules; TestRulesHash
			// checks it.
			p.RulesHash = "(sha256 of reference.yaml)"
			snaps.MatchStandaloneSnapshot(t, string(planJSON(t, p)))
		})
	}
}

// TestIndustryNormalization snapshots the company step for each industry
// the reference rules rename, and one they keep.
func TestIndustryNormalization(t *testing.T) {
	r := loadReference(t)
	for name, industry := range map[string]string{
		"energy": "Energy, Mining, Oil & Gas", "media": "Media & Entertainment",
		"real estate": "Real Estate, Rental & Leasing", "travel": "Travel, Leisure & Hospitality",
		"other kept": "Financial Services",
	} {
		t.Run(name, func(t *testing.T) {
			sf := fullDeal(t)
			sf["Industry__c"] = industry
			p, err := r.Plan(Input{SFDC: sf, Record: testRecord(), Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			company := stepByID(t, p, "company")
			snaps.MatchSnapshot(t, industry, company.OnInsert["u_industry"].String())
		})
	}
}

// TestOOTBPlan snapshots the second example mapping, onto out-of-the-box
// ServiceNow tables.
func TestOOTBPlan(t *testing.T) {
	r, err := LoadFile("../examples/mappings/servicenow-ootb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Plan(Input{SFDC: fullDeal(t), PH: testPH(), Record: testRecord(), Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	p.RulesHash = "(sha256 of servicenow-ootb.yaml)"
	snaps.MatchStandaloneSnapshot(t, string(planJSON(t, p)))
}
