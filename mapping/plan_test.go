package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/loader"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func TestStatusThirtyDays(t *testing.T) {
	start := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		now  time.Time
		tz   string
		want string
	}{
		{"30 days before", start.AddDate(0, 0, -30).Add(23 * time.Hour), "UTC", "Pre-Production"},
		{"31 days before", start.AddDate(0, 0, -31).Add(23 * time.Hour), "UTC", "Deferred Deployment"},
		{"already started", start.AddDate(0, 0, 10), "UTC", "Pre-Production"},
		{"start day", start, "UTC", "Pre-Production"},
		// 23:00 UTC on 1 December is already 2 December in Berlin: 30 days.
		{"zone moves the load date", time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC), "Europe/Berlin", "Pre-Production"},
		{"same instant in UTC", time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC), "UTC", "Deferred Deployment"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := loadReference(t, WithParams(map[string]string{"time_zone": c.tz}))
			p, err := r.Plan(Input{SFDC: fullDeal(t), Record: testRecord(), Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			if got := stepByID(t, p, "company").OnInsert["u_status"].Literal; got != c.want {
				t.Fatalf("u_status = %q, want %q", got, c.want)
			}
		})
	}
}

// TestFormsFlavourBelongsToTheDeal checks DOMAIN.md's rule: with Forms
// managed-services lines u_jee is true when any names JEE, otherwise u_osgi;
// never both; without Forms lines neither.
func TestFormsFlavourBelongsToTheDeal(t *testing.T) {
	cases := []struct {
		name      string
		lines     []string
		jee, osgi string // on insert; "" when the flag is false
	}{
		{"one JEE line", []string{"AEM FORMS:MS JEE"}, "true", ""},
		{"JEE line and an extra forms line", []string{"AEM FORMS:MS JEE", "AEM FORMS:MS ADDITIONAL ENVIRONMENT"}, "true", ""},
		{"extra forms line first", []string{"AEM FORMS:MS ADDITIONAL ENVIRONMENT", "AEM FORMS:MS JEE"}, "true", ""},
		{"one OSGi line", []string{"AEM FORMS:MS OSGI"}, "", "true"},
		{"two forms lines without JEE", []string{"AEM FORMS:MS OSGI", "AEM FORMS:MS ADDITIONAL ENVIRONMENT"}, "", "true"},
		{"no forms lines", []string{"AEM SITES:MS 99.9% UPTIME"}, "", ""},
	}
	r := loadReference(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sf := fullDeal(t)
			withNames(sf, c.lines...)
			p, err := r.Plan(Input{SFDC: sf, Record: testRecord(), Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			co := stepByID(t, p, "company")
			flag := func(v bool) string {
				if v {
					return "true"
				}
				return "false"
			}
			if got, want := co.OnInsert["u_jee"].Literal, flag(c.jee != ""); got != want {
				t.Errorf("on insert u_jee = %q, want %q", got, want)
			}
			if got, want := co.OnInsert["u_osgi"].Literal, flag(c.osgi != ""); got != want {
				t.Errorf("on insert u_osgi = %q, want %q", got, want)
			}
			// An existing company only gets flags turned on.
			if _, set := co.OnUpdate["u_jee"]; set != (c.jee != "") {
				t.Errorf("on update sets u_jee: %v, want %v", set, c.jee != "")
			}
			if _, set := co.OnUpdate["u_osgi"]; set != (c.osgi != "") {
				t.Errorf("on update sets u_osgi: %v, want %v", set, c.osgi != "")
			}
		})
	}
}

func TestProblemDueDate(t *testing.T) {
	cases := []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), "2026-12-14"},  // Monday + 7
		{time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC), "2026-12-14"},  // Tuesday + 6
		{time.Date(2026, 12, 9, 10, 0, 0, 0, time.UTC), "2026-12-14"},  // Wednesday + 5
		{time.Date(2026, 12, 12, 10, 0, 0, 0, time.UTC), "2026-12-17"}, // Saturday + 5
	}
	r := loadReference(t, WithParams(map[string]string{"problem_assigned_to": "queue-user"}))
	for _, c := range cases {
		t.Run(c.now.Weekday().String(), func(t *testing.T) {
			p, err := r.Plan(Input{SFDC: fullDeal(t), Record: testRecord(), Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			exc := stepByID(t, p, "company").Exception
			if exc == nil || exc.Fields["due_date"].Literal != c.want {
				t.Fatalf("due_date = %v, want %s", exc, c.want)
			}
			if exc.Fields["assigned_to"].Literal != "queue-user" || exc.Fields["priority"].Literal != "2" || exc.Fields["state"].Literal != "1" {
				t.Fatalf("problem fields: %v", exc.Fields)
			}
			if _, has := exc.Fields["company"]; has {
				t.Fatal("the company step's problem must leave company empty")
			}
			if !exc.Stop || exc.Match["short_description"] != exc.Fields["short_description"] {
				t.Fatalf("exception: %+v", exc)
			}
		})
	}
}

func TestReferencePlanShape(t *testing.T) {
	r := loadReference(t)
	p, err := r.Plan(Input{SFDC: fullDeal(t), PH: testPH(), Record: testRecord(), Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
	}
	// Seven managed-services lines, one without a SKU.
	want := "company finance_name sales_order skus[0] skus[1] skus[2] skus[3] skus[4] skus[6]"
	if got := strings.Join(ids, " "); got != want {
		t.Fatalf("steps %s, want %s", got, want)
	}
	company := stepByID(t, p, "company")
	for _, f := range []string{"name", "u_status", "u_sla"} {
		if _, ok := company.OnUpdate[f]; ok {
			t.Errorf("updating a company must not change %s", f)
		}
	}
	for f, v := range company.OnUpdate {
		if v.Literal != "true" {
			t.Errorf("on update %s = %q: flags are only turned on", f, v.Literal)
		}
	}
	if company.Fields["u_customer_contact"].Literal != "aem-admins@mueller-soehne.example" {
		t.Errorf("the email's deploy-to address must win: %v", company.Fields)
	}
	sku := stepByID(t, p, "skus[0]")
	if sku.Match["u_dr_number"].Ref != "sales_order" || sku.Match["u_adobe_sku"].Literal != "65300101" {
		t.Errorf("SKUs match on sales order + SKU: %v", sku.Match)
	}
	if strings.Join(sku.DependsOn, ",") != "company,sales_order" {
		t.Errorf("depends_on %v", sku.DependsOn)
	}
	so := stepByID(t, p, "sales_order")
	if len(so.Attach) != 1 || so.Attach[0].ID != "att-1" {
		t.Errorf("only the usable PDF goes onto the sales order: %+v", so.Attach)
	}
	// The line without a SKU is named with its amount; the unusable PDF is
	// named too; every PH field with a value is read or named as not loaded.
	wantWarnings := []string{
		`line 6 "AEM MANAGED SERVICES PREMIUM SUPPORT" (EUR 25,000.00) is a managed-services line without a SKU: no SKU row is written`,
		"step sales_order: attachment Order form (scan).pdf (att-2) is kept as evidence only and is not sent",
	}
	if strings.Join(p.Warnings, "\n") != strings.Join(wantWarnings, "\n") {
		t.Errorf("warnings %q\nwant %q", p.Warnings, wantWarnings)
	}
	labels := map[string]string{"skus[0]": "sku: AEM SITES:MS 99.9% UPTIME (line 1)", "skus[6]": "sku: AEM FORMS: MS ADDON STORAGE (line 11)"}
	for id, want := range labels {
		if got := stepByID(t, p, id).Label; got != want {
			t.Errorf("%s label %q, want %q", id, got, want)
		}
	}
}

func TestRulesHash(t *testing.T) {
	data, err := os.ReadFile(referenceRules)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	r := loadReference(t)
	p, err := r.Plan(Input{SFDC: fullDeal(t), Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if p.RulesHash != hex.EncodeToString(sum[:]) || r.Hash() != p.RulesHash {
		t.Fatalf("hash %s", p.RulesHash)
	}
}

func TestParamsOverride(t *testing.T) {
	r := loadReference(t, WithParams(map[string]string{"pre_production_days": "10"}))
	p, err := r.Plan(Input{SFDC: fullDeal(t), Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if p.Params["pre_production_days"] != "10" || stepByID(t, p, "company").OnInsert["u_status"].Literal != "Deferred Deployment" {
		t.Fatalf("override ignored: %v", p.Params)
	}
	var found bool
	for _, prm := range r.Params() {
		if prm.Name == "pre_production_days" {
			found = prm.Default == "30" && prm.Value == "10"
		}
	}
	if !found {
		t.Fatalf("Params(): %+v", r.Params())
	}
}

func TestPlanErrorNamesStepAndField(t *testing.T) {
	src := "version: 1\nsteps:\n  - name: company\n    table: core_company\n    on_multiple: fail\n    match: {k: '1'}\n    fields:\n      name: 'upper(sfdc.Account.Name)'\n"
	r, err := Compile("e.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Plan(Input{SFDC: map[string]any{}})
	var pe *PlanError
	if !errors.As(err, &pe) {
		t.Fatalf("want *PlanError, got %v", err)
	}
	if pe.Where != "step company, fields.name" || pe.Line != 8 || pe.Col != 33 {
		t.Fatalf("got %+v (%v)", pe, err)
	}
}

func TestMemoryBudget(t *testing.T) {
	src := "version: 1\nvars:\n  big: 'map(1..100000, # * 2)'\nsteps:\n  - name: s\n    table: t\n    on_multiple: fail\n    match: {k: '1'}\n"
	r, err := Compile("mem.yaml", []byte(src), WithMemoryBudget(1000))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Plan(Input{})
	if err == nil || !strings.Contains(err.Error(), "memory budget") || !strings.Contains(err.Error(), "vars.big") {
		t.Fatalf("want a memory budget error naming vars.big, got %v", err)
	}
}

func TestForeachOverNonListAtRuntime(t *testing.T) {
	src := "version: 1\ncustom_fields: {Extra__c: any}\nsteps:\n  - name: s\n    table: t\n    on_multiple: fail\n    foreach: sfdc.Extra__c\n    match:\n      x: item.Name\n"
	r, err := Compile("fe.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Plan(Input{SFDC: map[string]any{"Extra__c": map[string]any{"Name": "x"}}})
	if err == nil || !strings.Contains(err.Error(), "foreach must yield a list, got an object") {
		t.Fatalf("got %v", err)
	}
}

func TestMissingMatchValueFailsStep(t *testing.T) {
	src := "version: 1\nsteps:\n  - name: s\n    table: t\n    on_multiple: fail\n    match:\n      x: sfdc.End_User_ECC_ID__c\n    fields:\n      y: '\"v\"'\n"
	r, err := Compile("m.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Plan(Input{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Steps[0].Failed != "the match field x has no value" || p.Steps[0].Fields != nil {
		t.Fatalf("step %+v", p.Steps[0])
	}
}

func TestConcurrentPlans(t *testing.T) {
	r := loadReference(t)
	want := string(planJSON(t, mustPlan(t, r)))
	done := make(chan string, 4)
	for i := 0; i < 4; i++ {
		go func() {
			p, err := r.Plan(Input{SFDC: fullDeal(t), PH: testPH(), Record: testRecord(), Now: testNow})
			if err != nil {
				done <- err.Error()
				return
			}
			done <- string(planJSON(t, p))
		}()
	}
	for i := 0; i < 4; i++ {
		if got := <-done; got != want {
			t.Fatal("concurrent plans differ")
		}
	}
}

func mustPlan(t testing.TB, r *Rules) *loader.Plan {
	t.Helper()
	p, err := r.Plan(Input{SFDC: fullDeal(t), PH: testPH(), Record: testRecord(), Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUnreadPHFieldsWarn checks that a PH field with a value that no rule
// reads is named in the plan, unless ph_not_loaded names it or a rule
// reads ph as a whole.
func TestUnreadPHFieldsWarn(t *testing.T) {
	const steps = "steps:\n  - name: s\n    table: t\n    on_multiple: fail\n    match: {k: '1'}\n    fields:\n"
	ph := map[string]string{"tenant_id": "acme", "ims_org_id": "ORG@AdobeOrg", "ticket_link": " ", "ecc_id": "0001"}
	unread := func(f string) string {
		return "the email's " + f + " has a value that no rule reads: it is not loaded (read ph." + f + " in the rules, or name it under ph_not_loaded)"
	}
	cases := []struct {
		name, src string
		want      []string
	}{
		{"one field read", "version: 1\n" + steps + "      x: ph.tenant_id\n", []string{unread("ecc_id"), unread("ims_org_id")}},
		{"read in a var and with ?.", "version: 1\nvars:\n  o: 'ph?.ims_org_id'\n" + steps + "      x: ph.tenant_id\n", []string{unread("ecc_id")}},
		{"named as not loaded", "version: 1\nph_not_loaded: [ecc_id, ims_org_id]\n" + steps + "      x: ph.tenant_id\n", nil},
		{"ph read as a whole", "version: 1\n" + steps + "      x: 'len(ph)'\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Compile("ph.yaml", []byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			p, err := r.Plan(Input{PH: ph, Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(p.Warnings, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("warnings %q\nwant     %q", p.Warnings, c.want)
			}
		})
	}
}
