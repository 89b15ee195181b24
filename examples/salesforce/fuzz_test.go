package salesforce

import (
	"strings"
	"testing"
)

// FuzzParseQuery feeds arbitrary text to the SOQL and Apex scanners: they
// must not panic, and what they accept must have well-formed paths.
func FuzzParseQuery(f *testing.F) {
	f.Add("SELECT Id, Account.Name, (SELECT Name__c FROM OpportunityLineItems) FROM Opportunity WHERE Id IN :ids")
	f.Add("SELECT toLabel(StageName) FROM Opportunity WHERE Name = 'a\\'b'")
	f.Add("[SELECT Id FROM Opportunity] // x /* y")
	f.Add("SELECT (SELECT (SELECT")
	f.Fuzz(func(t *testing.T, s string) {
		if q, err := ParseQuery(s); err == nil {
			checkWellFormed(t, q)
		}
		if inner, err := InlineQuery(s, "Opportunity"); err == nil {
			q, err := ParseQuery(inner)
			if err != nil {
				t.Fatalf("InlineQuery returned %q, which does not parse: %v", inner, err)
			}
			checkWellFormed(t, q)
		}
	})
}

func checkWellFormed(t *testing.T, q *Query) {
	t.Helper()
	if q.From == "" || strings.Contains(q.From, ".") {
		t.Fatalf("accepted a query with FROM %q", q.From)
	}
	for _, p := range q.Paths() {
		for _, part := range p {
			if part == "" {
				t.Fatalf("accepted a path with an empty part: %q", p.String())
			}
		}
	}
}
