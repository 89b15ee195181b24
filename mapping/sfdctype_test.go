package mapping

import (
	"errors"
	"testing"
)

// sfdcRules is a small rule file with a foreach over the line items; the
// cases put one expression into it.
func sfdcRules(custom, varExpr, fieldExpr, itemExpr string) string {
	return "version: 1\n" + custom +
		"vars:\n  v: '" + varExpr + "'\n" +
		"steps:\n" +
		"  - name: company\n    table: core_company\n    on_multiple: fail\n    match:\n      name: '" + fieldExpr + "'\n" +
		"  - name: skus\n    table: u_sales_skus\n    on_multiple: fail\n    foreach: sfdc.OpportunityLineItems?.records ?? []\n    match:\n      sku: '" + itemExpr + "'\n"
}

func TestSFDCPathsAreChecked(t *testing.T) {
	const custom = "custom_fields:\n  Region__c: string\n  Account:\n    Tier__c: string\n  OpportunityLineItems:\n    Term_Months__c: number\n  Partner__r:\n    Name: string\n"
	ok := "sfdc.Id"
	cases := []struct {
		name                   string
		custom, v, field, item string
		want                   string
	}{
		{"misspelt top-level field", "", ok, "sfdc.Acount.Name", "item.Name__c",
			"x.yaml:9:19: step company, match.name: unknown field Acount; did you mean Account? (a Salesforce field that sfdc.Opportunity does not have can be declared under custom_fields:)"},
		{"misspelt nested field", "", ok, "sfdc.Account?.Nme", "item.Name__c",
			"x.yaml:9:28: step company, match.name: unknown field Nme; did you mean Name? (a Salesforce field that sfdc.Opportunity does not have can be declared under custom_fields:)"},
		{"misspelt line-item field", "", ok, ok, "item.Adobe_SKUU__c",
			"x.yaml:15:18: step skus, match.sku: unknown field Adobe_SKUU__c; did you mean Adobe_SKU__c? (a Salesforce field that sfdc.Opportunity does not have can be declared under custom_fields:)"},
		{"line-item field in a predicate", "", `filter(sfdc.OpportunityLineItems.records, .Nme__c != "")`, ok, "item.Name__c",
			"x.yaml:3:50: vars.v: unknown field Nme__c; did you mean Name__c? (a Salesforce field that sfdc.Opportunity does not have can be declared under custom_fields:)"},
		{"line-item field through a var", "", `sfdc.OpportunityLineItems.records`, "vars.v[0].Quantty", "item.Name__c",
			"x.yaml:9:24: step company, match.name: unknown field Quantty; did you mean Quantity? (a Salesforce field that sfdc.Opportunity does not have can be declared under custom_fields:)"},
		{"undeclared custom field", "", ok, "sfdc.Region__c", "item.Name__c",
			"x.yaml:9:19: step company, match.name: unknown field Region__c; known: Account, Adobe_Sales_Team__r, CloseDate, CurrencyIsoCode, Customer_Contact_Email__c, Deal_Registration_Id__c, ECC_ACM_Contract_Number__c, ECC_Sales_Order_Number__c, End_User_ECC_ID__c, Id, Industry__c, LastModifiedDate, Name, OpportunityLineItems, Organization_Name__c, Service_Commence_Date__c, Service_End_Date__c, StageName, Total_Extended_Price__c, attributes (a Salesforce field that sfdc.Opportunity does not have can be declared under custom_fields:)"},
		{"misspelt custom type", "custom_fields:\n  Region__c: strng\n", ok, ok, "item.Name__c",
			"x.yaml:3:14: custom_fields: sfdc.Region__c: unknown type \"strng\"; did you mean string?"},
		{"custom leaf over an object", "custom_fields:\n  Account: string\n", ok, ok, "item.Name__c",
			"x.yaml:3:3: custom_fields: sfdc.Account is an object of the payload; declare its extra fields as a mapping under it (Account: {Field__c: string})"},
		{"custom object over a field", "custom_fields:\n  CloseDate:\n    Day__c: string\n", ok, ok, "item.Name__c",
			"x.yaml:3:3: custom_fields: sfdc.CloseDate is a field of the payload, not an object; give it a type (string, number, date, datetime, bool, any)"},
		{"custom field misspelt in use", custom, ok, "sfdc.Account.Teir__c", "item.Term_Months__c",
			"x.yaml:17:27: step company, match.name: unknown field Teir__c; did you mean Tier__c? (a Salesforce field that sfdc.Opportunity does not have can be declared under custom_fields:)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile("x.yaml", []byte(sfdcRules(c.custom, c.v, c.field, c.item)))
			var ce *CompileError
			if !errors.As(err, &ce) || len(ce.Problems) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			if got := ce.Problems[0].String(); got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestCustomFieldsReadTheRawPayload checks that declared custom fields,
// top-level, on Account, on each line item and on a new object, compile
// and read the payload's values.
func TestCustomFieldsReadTheRawPayload(t *testing.T) {
	src := "version: 1\ncustom_fields:\n  Region__c: string\n  Account:\n    Tier__c: string\n  OpportunityLineItems:\n    Term_Months__c: number\n  Partner__r:\n    Name: string\n" +
		"steps:\n  - name: company\n    table: core_company\n    on_multiple: fail\n    match:\n      region: sfdc.Region__c\n      tier: sfdc.Account?.Tier__c\n      partner: sfdc.Partner__r?.Name\n" +
		"  - name: skus\n    table: u_sales_skus\n    on_multiple: fail\n    foreach: sfdc.OpportunityLineItems?.records ?? []\n    match:\n      sku: item.Adobe_SKU__c\n    fields:\n      term: item.Term_Months__c\n"
	r, err := Compile("custom.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	sf, err := SFDCFromJSON([]byte(`{"Region__c": "EMEA", "Account": {"Name": "A", "Tier__c": "Gold"}, "Partner__r": {"Name": "P"},
	  "OpportunityLineItems": {"totalSize": 1, "done": true, "records": [{"Name__c": "AEM SITES:MS", "Adobe_SKU__c": "653", "Term_Months__c": 36}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Plan(Input{SFDC: sf, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{
		"region": p.Steps[0].Match["region"].Literal, "tier": p.Steps[0].Match["tier"].Literal,
		"partner": p.Steps[0].Match["partner"].Literal, "term": p.Steps[1].Fields["term"].Literal,
	}
	want := map[string]string{"region": "EMEA", "tier": "Gold", "partner": "P", "term": "36"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}
