package sfdc_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/sfdc"
)

const payloadDir = "../examples/payloads"

func readPayload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(payloadDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeValidate(t *testing.T, data []byte) []sfdc.Problem {
	t.Helper()
	d, err := sfdc.Decode[sfdc.Opportunity](data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	err = sfdc.Validate(&d.Value)
	if err == nil {
		return nil
	}
	var ve *sfdc.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate returned %T, want *ValidationError: %v", err, err)
	}
	return ve.Problems
}

func TestFullExampleIsValid(t *testing.T) {
	if problems := decodeValidate(t, readPayload(t, "deal-full.json")); len(problems) != 0 {
		t.Fatalf("deal-full.json: want no problems, got %v", problems)
	}
}

// Every example file named invalid-*.json breaks exactly the rules listed
// here; each rule also passes on deal-full.json above.
func TestInvalidExamples(t *testing.T) {
	type want struct{ path, rule string }
	cases := map[string][]want{
		"invalid-id-checksum.json":           {{"/Id", "sfid"}},
		"invalid-id-length.json":             {{"/Id", "sfid"}},
		"invalid-stage.json":                 {{"/StageName", "stage"}},
		"invalid-ecc-id-missing.json":        {{"/End_User_ECC_ID__c", "required"}},
		"invalid-dr-number-length.json":      {{"/Deal_Registration_Id__c", "len"}},
		"invalid-currency.json":              {{"/CurrencyIsoCode", "iso4217"}},
		"invalid-service-dates-order.json":   {{"/Service_End_Date__c", "gtefield"}},
		"invalid-email.json":                 {{"/Customer_Contact_Email__c", "email"}},
		"invalid-no-line-items.json":         {{"/OpportunityLineItems", "has_records"}},
		"invalid-quantity.json":              {{"/OpportunityLineItems/records/2/Quantity", "positive"}},
		"invalid-account-missing.json":       {{"/Account", "required"}},
		"invalid-close-date-missing.json":    {{"/CloseDate", "required"}},
		"invalid-total-negative.json":        {{"/Total_Extended_Price__c", "nonnegative"}},
		"invalid-line-item-dates-order.json": {{"/OpportunityLineItems/records/0/New_Contract_End_Date__c", "gtefield"}},
		"invalid-many-problems.json": {
			{"/CurrencyIsoCode", "iso4217"},
			{"/Deal_Registration_Id__c", "len"},
			{"/OpportunityLineItems/records/5/Quantity", "positive"},
			{"/StageName", "stage"},
		},
	}
	files, _ := filepath.Glob(filepath.Join(payloadDir, "invalid-*.json"))
	if len(files) != len(cases) {
		t.Errorf("%d invalid example files but %d cases: every file needs a case", len(files), len(cases))
	}
	for name, wants := range cases {
		t.Run(name, func(t *testing.T) {
			problems := decodeValidate(t, readPayload(t, name))
			if len(problems) != len(wants) {
				t.Fatalf("want %d problems %v, got %d: %v", len(wants), wants, len(problems), problems)
			}
			for i, w := range wants {
				p := problems[i]
				if p.Path != w.path || p.Rule != w.rule {
					t.Errorf("problem %d: got %s [%s], want %s [%s]", i, p.Path, p.Rule, w.path, w.rule)
				}
				if p.Message == "" || strings.Contains(p.Message, "fails rule") {
					t.Errorf("problem %d: message %q should say what was expected", i, p.Message)
				}
			}
		})
	}
}

func TestSalesforceIDs(t *testing.T) {
	cases := []struct {
		id    string
		valid bool
	}{
		{"006Dn00000AbCdE", true},
		{"006Dn00000AbCdEIAV", true},
		{"006DN00000ABCDEIAV", false}, // case changed, checksum no longer matches
		{"006Dn00000AbCdEiav", false}, // checksum is upper case
		{"006Dn00000AbCd", false},
		{"006Dn00000AbCdE-AV", false},
		{"006Dn00000AbCdEIA", false},
		{"", false},
		{"000000000000000AAA", true},
	}
	for _, c := range cases {
		if got := sfdc.ValidID(c.id); got != c.valid {
			t.Errorf("ValidID(%q) = %v, want %v", c.id, got, c.valid)
		}
	}
}

func TestMessagesNameExpectation(t *testing.T) {
	problems := decodeValidate(t, readPayload(t, "invalid-currency.json"))
	if len(problems) != 1 || !strings.Contains(problems[0].Message, "ISO 4217") || !strings.Contains(problems[0].Message, `"EURO"`) {
		t.Fatalf("message should name the rule and the value: %v", problems)
	}
	err := sfdc.Validate(&sfdc.Opportunity{})
	var ve *sfdc.ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	// An empty deal lacks every required field at once.
	paths := map[string]bool{}
	for _, p := range ve.Problems {
		paths[p.Path] = true
	}
	for _, p := range []string{"/Id", "/StageName", "/Account", "/End_User_ECC_ID__c", "/CloseDate",
		"/Service_Commence_Date__c", "/Service_End_Date__c", "/Total_Extended_Price__c", "/CurrencyIsoCode",
		"/Deal_Registration_Id__c", "/OpportunityLineItems"} {
		if !paths[p] {
			t.Errorf("empty deal: no problem reported at %s (got %v)", p, ve.Problems)
		}
	}
}

// Every example named deal-*.json is a valid deal.
func TestDealExamplesAreValid(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(payloadDir, "deal-*.json"))
	if len(files) < 2 {
		t.Fatalf("want at least 2 deal examples, found %d", len(files))
	}
	for _, f := range files {
		if problems := decodeValidate(t, readPayload(t, filepath.Base(f))); len(problems) != 0 {
			t.Errorf("%s: %v", f, problems)
		}
	}
}

// Parts of the payload without rules are skipped by the validator
// (validate:"-"), which saves walking them. A rule added inside such a part
// would never run: this test names it.
func TestSkippedPartsHoldNoRules(t *testing.T) {
	var walk func(typ reflect.Type, path string, skipped bool, seen map[reflect.Type]bool)
	walk = func(typ reflect.Type, path string, skipped bool, seen map[reflect.Type]bool) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		defer delete(seen, typ)
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag := f.Tag.Get("validate")
			if skipped && tag != "" && tag != "-" && tag != "dive" { // "dive" only descends
				t.Errorf("%s.%s has the rule %q inside a part tagged validate:\"-\": it never runs", path, f.Name, tag)
			}
			walk(f.Type, path+"."+f.Name, skipped || tag == "-", seen)
		}
	}
	walk(reflect.TypeFor[sfdc.Opportunity](), "Opportunity", false, map[reflect.Type]bool{})
}
