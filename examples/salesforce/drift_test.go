package salesforce

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/sfdc"
)

// senderClass is the Apex Queueable whose query builds the payload.
var senderClass = filepath.Join("force-app", "main", "default", "classes", "BookbridgeDealSender.cls")

func senderQuery(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(senderClass)
	if err != nil {
		t.Fatalf("read the sender: %v", err)
	}
	q, err := InlineQuery(string(src), "Opportunity")
	if err != nil {
		t.Fatalf("%s: %v", senderClass, err)
	}
	return q
}

func describe(paths []FieldPath) string {
	s := make([]string, len(paths))
	for i, p := range paths {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// TestSenderQueryCoversPayload is the drift check between the two sides:
// every field sfdc.Opportunity reads must be in the Apex SOQL query.
func TestSenderQueryCoversPayload(t *testing.T) {
	q, err := ParseQuery(senderQuery(t))
	if err != nil {
		t.Fatalf("%s: the SOQL query does not parse: %v", senderClass, err)
	}
	if !strings.EqualFold(q.From, "Opportunity") {
		t.Fatalf("the sender queries %s, want Opportunity", q.From)
	}
	missing, err := Missing(q, reflect.TypeFor[sfdc.Opportunity]())
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("%s does not select %d field(s) that sfdc.Opportunity reads; add them to the SOQL query "+
			"(a relationship list as a subquery FROM its relationship name): %s",
			senderClass, len(missing), describe(missing))
	}
}

// TestRequiredPathsOfTheReferencePayload pins what the walk finds in
// sfdc.Opportunity, so the drift check cannot pass by finding nothing.
func TestRequiredPathsOfTheReferencePayload(t *testing.T) {
	paths, err := RequiredPaths(reflect.TypeFor[sfdc.Opportunity]())
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]bool)
	for _, p := range paths {
		got[p.String()] = true
	}
	for _, want := range []string{
		"Id", "StageName", "LastModifiedDate", "CloseDate", "Total_Extended_Price__c", "CurrencyIsoCode",
		"Account.Name", "Account.BillingPostalCode",
		"Adobe_Sales_Team__r.Adobe_Role_Type__c", "Adobe_Sales_Team__r.Sales_Team_Member__r.Name",
		"OpportunityLineItems.Name__c", "OpportunityLineItems.PricebookEntry.Product2.Family",
		"OpportunityLineItems.Quantity", "OpportunityLineItems.New_Contract_End_Date__c",
	} {
		if !got[want] {
			t.Errorf("RequiredPaths(sfdc.Opportunity) lacks %s; got %s", want, describe(paths))
		}
	}
	for p := range got {
		if strings.Contains(strings.ToLower(p), "attributes") || strings.Contains(p, "totalSize") || strings.Contains(p, "records") {
			t.Errorf("RequiredPaths returned %s: attributes and the list envelope are not fields", p)
		}
	}
}

// TestDriftCheckerCatchesBrokenQueries breaks the real query in the ways a
// maintainer could and checks that each break is reported by name.
func TestDriftCheckerCatchesBrokenQueries(t *testing.T) {
	real := senderQuery(t)
	typ := reflect.TypeFor[sfdc.Opportunity]()
	tests := []struct {
		name    string
		old     string // text of the real query to replace; must occur
		new     string
		missing []string
	}{
		{
			name:    "account field dropped",
			old:     "Account.BillingCity, ",
			new:     "",
			missing: []string{"Account.BillingCity"},
		},
		{
			name:    "top-level field dropped",
			old:     "End_User_ECC_ID__c, ",
			new:     "",
			missing: []string{"End_User_ECC_ID__c"},
		},
		{
			name:    "sales team subquery dropped",
			old:     "(SELECT Adobe_Role_Type__c, Sales_Team_Member__r.Name\n                    FROM Adobe_Sales_Team__r\n                    ORDER BY Name),",
			new:     "",
			missing: []string{"Adobe_Sales_Team__r.Adobe_Role_Type__c", "Adobe_Sales_Team__r.Sales_Team_Member__r.Name"},
		},
		{
			name:    "lookup id instead of the member's name",
			old:     "Sales_Team_Member__r.Name",
			new:     "Sales_Team_Member__c",
			missing: []string{"Adobe_Sales_Team__r.Sales_Team_Member__r.Name"},
		},
		{
			name:    "product name instead of family",
			old:     "PricebookEntry.Product2.Family",
			new:     "PricebookEntry.Product2.Name",
			missing: []string{"OpportunityLineItems.PricebookEntry.Product2.Family"},
		},
		{
			name: "line items from the object instead of the relationship",
			old:  "FROM OpportunityLineItems",
			new:  "FROM OpportunityLineItem",
			missing: []string{
				"OpportunityLineItems.Adobe_SKU__c", "OpportunityLineItems.Name__c",
				"OpportunityLineItems.New_Contract_End_Date__c", "OpportunityLineItems.New_Contract_Start_Date__c",
				"OpportunityLineItems.PricebookEntry.Product2.Family", "OpportunityLineItems.Quantity",
				"OpportunityLineItems.TotalPrice",
			},
		},
		{
			name:    "line-item field moved to the opportunity",
			old:     "(SELECT Name__c, PricebookEntry",
			new:     "Name__c, (SELECT PricebookEntry",
			missing: []string{"OpportunityLineItems.Name__c"},
		},
		{
			name:    "different case is still the same field",
			old:     "Deal_Registration_Id__c",
			new:     "deal_registration_id__C",
			missing: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(real, tt.old) {
				t.Fatalf("the sender's query no longer contains %q; update this case", tt.old)
			}
			broken := strings.Replace(real, tt.old, tt.new, 1)
			q, err := ParseQuery(broken)
			if err != nil {
				t.Fatalf("ParseQuery: %v\n%s", err, broken)
			}
			missing, err := Missing(q, typ)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(missing); got != strings.Join(tt.missing, ", ") {
				t.Errorf("missing = %q, want %q", got, strings.Join(tt.missing, ", "))
			}
		})
	}
}

type selfRef struct {
	Name string   `json:"Name"`
	Next *selfRef `json:"Next__r"`
}

type withMap struct {
	Extra map[string]string `json:"Extra__c"`
}

type plainList struct {
	Tags []string `json:"Tags__c"`
}

func TestRequiredPathsRefusesTypesWithoutASOQLShape(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[selfRef](), reflect.TypeFor[withMap](), reflect.TypeFor[plainList](), reflect.TypeFor[string]()} {
		if _, err := RequiredPaths(typ); err == nil {
			t.Errorf("RequiredPaths(%v) = nil error, want one that names the field", typ)
		}
	}
}

// jsonPaths lists the field paths of a Salesforce JSON record the way a
// query selects them: nested objects by key, relationship lists through
// their records, without attributes and the list envelope.
func jsonPaths(prefix FieldPath, v any, out map[string]FieldPath) {
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	if recs, ok := obj["records"].([]any); ok {
		if _, hasTotal := obj["totalSize"]; hasTotal {
			for _, r := range recs {
				jsonPaths(prefix, r, out)
			}
			return
		}
	}
	for k, child := range obj {
		if k == "attributes" {
			continue
		}
		p := append(append(FieldPath(nil), prefix...), k)
		if _, nested := child.(map[string]any); nested {
			jsonPaths(p, child, out)
			continue
		}
		out[p.key()] = p
	}
}

// TestSenderQueryCoversTheExamplePayload checks the full example deal the
// receiver's tests use: every field in it must come from the sender's query.
func TestSenderQueryCoversTheExamplePayload(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "payloads", "deal-full.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	inPayload := make(map[string]FieldPath)
	jsonPaths(nil, doc, inPayload)
	if len(inPayload) < 25 {
		t.Fatalf("found only %d fields in deal-full.json", len(inPayload))
	}
	q, err := ParseQuery(senderQuery(t))
	if err != nil {
		t.Fatal(err)
	}
	selected := make(map[string]bool)
	for _, p := range q.Paths() {
		selected[p.key()] = true
	}
	var missing []FieldPath
	for k, p := range inPayload {
		if !selected[k] {
			missing = append(missing, p)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i].key() < missing[j].key() })
	if len(missing) > 0 {
		t.Errorf("examples/payloads/deal-full.json has fields the sender never selects: %s", describe(missing))
	}
}
