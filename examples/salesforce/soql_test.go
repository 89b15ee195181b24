package salesforce

import (
	"errors"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name  string
		soql  string
		from  string
		paths string
	}{
		{"plain", "SELECT Id, Name FROM Account", "Account", "Id, Name"},
		{"relationship paths", "select Id, Account.Owner.Name from Opportunity where Id in :ids", "Opportunity", "Id, Account.Owner.Name"},
		{"subqueries and clauses", "SELECT Id, (SELECT Name__c FROM OpportunityLineItems WHERE Quantity > 0 ORDER BY SortOrder), " +
			"(SELECT Sales_Team_Member__r.Name FROM Adobe_Sales_Team__r LIMIT 10) FROM Opportunity WHERE StageName = 'Closed (Booked)' LIMIT 5",
			"Opportunity", "Id, OpportunityLineItems.Name__c, Adobe_Sales_Team__r.Sales_Team_Member__r.Name"},
		{"field functions keep the key", "SELECT toLabel(StageName), convertCurrency(Amount), FORMAT(CloseDate) FROM Opportunity", "Opportunity", "StageName, Amount, CloseDate"},
		{"string with quote and parenthesis", `SELECT Id FROM Account WHERE Name = 'O\'Brien (x' AND Id IN :ids`, "Account", "Id"},
		{"bind with call", "SELECT Id FROM Opportunity WHERE Id IN :new Set<Id>(ids)", "Opportunity", "Id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := ParseQuery(tt.soql)
			if err != nil {
				t.Fatalf("ParseQuery: %v", err)
			}
			if q.From != tt.from {
				t.Errorf("From = %q, want %q", q.From, tt.from)
			}
			if got := describe(q.Paths()); got != tt.paths {
				t.Errorf("Paths = %q, want %q", got, tt.paths)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	tests := []struct {
		name, soql, want string
	}{
		{"empty", "", "expected SELECT"},
		{"no select", "FROM Account", "expected SELECT"},
		{"no from", "SELECT Id, Name", "expected a comma or FROM"},
		{"empty select list", "SELECT FROM Account", "keyword FROM"},
		{"trailing comma", "SELECT Id, FROM Account", "keyword FROM"},
		{"aggregate", "SELECT COUNT() FROM Account", "COUNT() is not supported"},
		{"alias", "SELECT Name n FROM Account", `alias "n"`},
		{"typeof", "SELECT TYPEOF What WHEN Account THEN Name END FROM Event", "TYPEOF"},
		{"unclosed subquery", "SELECT Id, (SELECT Name FROM Contacts FROM Account", "expected ) after the subquery"},
		{"unclosed string", "SELECT Id FROM Account WHERE Name = 'x", "not closed"},
		{"unclosed paren in where", "SELECT Id FROM Account WHERE (Name = 'x'", "not closed"},
		{"empty path part", "SELECT Account..Name FROM Opportunity", "empty part"},
		{"dotted from", "SELECT Id FROM Account.Owner", "object name after FROM"},
		{"trailing text", "SELECT Id FROM Account) x", "after the query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseQuery(tt.soql)
			if err == nil {
				t.Fatalf("ParseQuery(%q) succeeded, want an error containing %q", tt.soql, tt.want)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v does not wrap ErrSyntax", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestInlineQuery(t *testing.T) {
	apex := `public class X {
    // [SELECT Id FROM Opportunity] in a comment is not a query
    String s = '[SELECT Id FROM Opportunity]';
    List<Account> a = [SELECT Id FROM Account];
    Object o = list[0];
    List<Opportunity> deals() {
        return [
            SELECT Id, /* the name */ Name, // the stage
                StageName
            FROM Opportunity WHERE Id IN :ids[0]
        ];
    }
}`
	got, err := InlineQuery(apex, "opportunity")
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseQuery(got)
	if err != nil {
		t.Fatalf("ParseQuery(%q): %v", got, err)
	}
	if p := describe(q.Paths()); p != "Id, Name, StageName" {
		t.Errorf("paths = %q", p)
	}

	for name, src := range map[string]string{
		"none":       `public class X { List<Account> a = [SELECT Id FROM Account]; }`,
		"dynamic":    `public class X { Object o = Database.query('SELECT Id FROM Opportunity'); }`,
		"two":        `public class X { Object a = [SELECT Id FROM Opportunity]; Object b = [SELECT Name FROM Opportunity]; }`,
		"unparsable": `public class X { Object a = [SELECT COUNT() FROM Opportunity]; }`,
	} {
		if _, err := InlineQuery(src, "Opportunity"); err == nil {
			t.Errorf("%s: InlineQuery succeeded, want an error", name)
		}
	}
}
