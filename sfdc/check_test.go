package sfdc_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/sfdc"
)

// edit replaces the first old in raw by new; old must be there.
func edit(t testing.TB, raw []byte, pairs ...string) []byte {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !bytes.Contains(raw, []byte(pairs[i])) {
			t.Fatalf("the example deal has no %q to replace", pairs[i])
		}
		raw = bytes.Replace(raw, []byte(pairs[i]), []byte(pairs[i+1]), 1)
	}
	return raw
}

// lineItems builds a deal whose line items are n copies of item.
func lineItems(t testing.TB, n int, item string) []byte {
	t.Helper()
	full := readPayload(t, "deal-full.json")
	start := bytes.Index(full, []byte(`"OpportunityLineItems"`))
	if start < 0 {
		t.Fatal("the example deal has no line items")
	}
	var b bytes.Buffer
	b.Write(full[:start])
	b.WriteString(`"OpportunityLineItems": {"totalSize": ` + fmt.Sprint(n) + `, "done": true, "records": [`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(item)
	}
	b.WriteString("]}}")
	return b.Bytes()
}

type wantProblem struct{ path, rule string }

// problemsOf runs DecodeAndValidate and returns its problems; a
// *DecodeError fails the test.
func problemsOf(t *testing.T, body []byte, opts ...sfdc.Option) *sfdc.ValidationError {
	t.Helper()
	d, err := sfdc.DecodeAndValidate[sfdc.Opportunity](body, opts...)
	if err == nil {
		if d == nil || len(d.Hash) != 64 {
			t.Fatalf("no error but no decoded deal: %+v", d)
		}
		return nil
	}
	var ve *sfdc.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("DecodeAndValidate: %T %v, want *ValidationError", err, err)
	}
	if d != nil {
		t.Fatal("a refused deal came back decoded")
	}
	for _, p := range ve.Problems {
		if p.Path == "" || p.Path[0] != '/' || p.Rule == "" || p.Message == "" {
			t.Fatalf("incomplete problem %+v", p)
		}
	}
	return ve
}

func checkProblems(t *testing.T, ve *sfdc.ValidationError, want []wantProblem) {
	t.Helper()
	var got []wantProblem
	if ve != nil {
		for _, p := range ve.Problems {
			got = append(got, wantProblem{p.Path, p.Rule})
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("problems:\n got  %v\n want %v\n(%v)", got, want, ve)
	}
}

// TestEveryProblemAtOnce: values of the wrong type no longer stop decoding;
// they are listed with the rules' problems, each at its JSON Pointer.
func TestEveryProblemAtOnce(t *testing.T) {
	full := readPayload(t, "deal-full.json")
	cases := []struct {
		name string
		body []byte
		want []wantProblem
	}{
		{"valid", full, nil},
		{"date, number and required at once", edit(t, full,
			`"CloseDate": "2026-11-20"`, `"CloseDate": "2026-13-01"`,
			`"Total_Extended_Price__c": 495000.75`, `"Total_Extended_Price__c": "a lot"`,
			`"End_User_ECC_ID__c": "0001234567",`, ``),
			[]wantProblem{{"/CloseDate", sfdc.RuleType}, {"/End_User_ECC_ID__c", "required"}, {"/Total_Extended_Price__c", sfdc.RuleType}}},
		{"types of every kind", edit(t, full,
			`"Name": "Müller & Søn Größe GmbH"`, `"Name": 42`,
			`"Quantity": 1,`, `"Quantity": [1],`,
			`"TotalPrice": 120000.00,`, `"TotalPrice": true,`,
			`"totalSize": 12`, `"totalSize": "twelve"`,
			`"done": true`, `"done": "yes"`,
			`"LastModifiedDate": "2026-11-27T10:00:00.000+0000"`, `"LastModifiedDate": "yesterday"`),
			[]wantProblem{{"/Account/Name", sfdc.RuleType}, {"/Adobe_Sales_Team__r/done", sfdc.RuleType}, {"/LastModifiedDate", sfdc.RuleType},
				{"/OpportunityLineItems/records/0/Quantity", sfdc.RuleType}, {"/OpportunityLineItems/records/0/TotalPrice", sfdc.RuleType},
				{"/OpportunityLineItems/totalSize", sfdc.RuleType}}},
		{"object where a string belongs and the reverse", edit(t, full,
			`"StageName": "Closed Booked"`, `"StageName": {"value": "Closed Booked"}`,
			`"Account": {`, `"Account": "Acme", "Unused": {`),
			[]wantProblem{{"/Account", sfdc.RuleType}, {"/StageName", sfdc.RuleType}}},
		{"a record that is no object", edit(t, full, `"records": [`, `"records": [7, `),
			[]wantProblem{{"/Adobe_Sales_Team__r/records/0", sfdc.RuleType}}},
		{"a whole number out of range", edit(t, full, `"totalSize": 12`, `"totalSize": 1e400`),
			[]wantProblem{{"/OpportunityLineItems/totalSize", sfdc.RuleType}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkProblems(t, problemsOf(t, c.body), c.want)
		})
	}
	// Decode keeps its contract: a value of the wrong type is a
	// *DecodeError, now carrying every such problem.
	_, err := sfdc.Decode[sfdc.Opportunity](cases[1].body)
	var de *sfdc.DecodeError
	if !errors.As(err, &de) || !errors.Is(err, sfdc.ErrWrongShape) || len(de.Problems) != 2 || de.Path != "/CloseDate" {
		t.Fatalf("Decode: %v", err)
	}
}

// TestNotAnObjectStays400: what is no JSON object at all is still a
// *DecodeError, never a list of problems.
func TestNotAnObjectStaysDecodeError(t *testing.T) {
	for _, c := range []struct {
		body string
		want error
	}{
		{`{"Id": `, sfdc.ErrInvalidJSON},
		{`{"Id":"a","Id":"b"}`, sfdc.ErrDuplicateKey},
		{"{\"Name\":\"\xff\"}", sfdc.ErrInvalidUTF8},
		{`[1]`, sfdc.ErrNotObject},
		{`null`, sfdc.ErrNotObject},
		{`nul`, sfdc.ErrInvalidJSON},
		{"\"\xff\"", sfdc.ErrInvalidUTF8},
		{`{"CloseDate":"2026-13-01"} {}`, sfdc.ErrTrailingData},
		{`{"CloseDate":[1,}`, sfdc.ErrInvalidJSON},
		{"{\"Name\":\"a\x00\"}", sfdc.ErrInvalidJSON}, // a raw control character is not JSON
	} {
		_, err := sfdc.DecodeAndValidate[sfdc.Opportunity]([]byte(c.body))
		var de *sfdc.DecodeError
		if !errors.Is(err, c.want) || !errors.As(err, &de) {
			t.Errorf("%q: got %v, want %v", c.body, err, c.want)
		}
	}
}

// TestControlCharacters: a C0 control character other than tab, CR and
// LF in any string, member names and undeclared members included, is a
// problem at that string's JSON Pointer.
func TestControlCharacters(t *testing.T) {
	full := readPayload(t, "deal-full.json")
	name := `"Name": "Müller & Søn Größe GmbH"`
	cases := []struct {
		name string
		body []byte
		want []wantProblem
	}{
		{"NUL in the account name", edit(t, full, name, `"Name": "Müller\u0000"`),
			[]wantProblem{{"/Account/Name", sfdc.RuleControlChar}}},
		{"escapes \\b and \\f, upper-case hex", edit(t, full, name, `"Name": "a\bb"`, `"BillingCity"`, `"BillingCity": "\u001F", "x"`),
			[]wantProblem{{"/Account/BillingCity", sfdc.RuleControlChar}, {"/Account/Name", sfdc.RuleControlChar}}},
		{"in a line item and an undeclared member", edit(t, full,
			`"Name__c": "AEM SITES:MS 99.9% UPTIME"`, `"Name__c": "AEM SITES:MS\u0007"`,
			`"Id":`, `"Custom__c": {"deep": ["ok", "\f"]}, "Id":`),
			[]wantProblem{{"/Custom__c/deep/1", sfdc.RuleControlChar}, {"/OpportunityLineItems/records/0/Name__c", sfdc.RuleControlChar}}},
		{"in a member name", edit(t, full, `"Id":`, `"Bad\u0001Key": 1, "Id":`),
			[]wantProblem{{"/Bad\x01Key", sfdc.RuleControlChar}}},
		{"NUL in the id: both problems", edit(t, full, `"Id": "006Dn00000AbCdEIAV"`, `"Id": "006Dn00000AbCd\u0000"`),
			[]wantProblem{{"/Id", sfdc.RuleControlChar}, {"/Id", "sfid"}}},
		{"tab, CR, LF and DEL are accepted", edit(t, full, name, `"Name": "a\tb\r\nc\u007f\u0009\u000a\u000D"`), nil},
		{"an escaped backslash before u0000 is text", edit(t, full, name, `"Name": "C:\\u0000\\b\\f"`), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkProblems(t, problemsOf(t, c.body), c.want)
		})
	}
}

// TestAmountsInRange: quantities, prices and totals have at most 18
// digits before the point and the currency's minor unit after it, with
// the exponent applied and never expanded.
func TestAmountsInRange(t *testing.T) {
	full := readPayload(t, "deal-full.json")
	total := `"Total_Extended_Price__c": 495000.75`
	qty := `"Quantity": 1,`
	cases := []struct {
		name string
		body []byte
		want []wantProblem
	}{
		{"18 digits", edit(t, full, total, `"Total_Extended_Price__c": 999999999999999999.99`), nil},
		{"19 digits", edit(t, full, total, `"Total_Extended_Price__c": 1000000000000000000`),
			[]wantProblem{{"/Total_Extended_Price__c", "amount"}}},
		{"a huge exponent", edit(t, full, qty, `"Quantity": 1e100000,`),
			[]wantProblem{{"/OpportunityLineItems/records/0/Quantity", "amount"}}},
		{"an exponent within range", edit(t, full, qty, `"Quantity": 1.5e3,`, total, `"Total_Extended_Price__c": 4950007.5E-1`), nil},
		{"a tiny exponent", edit(t, full, qty, `"Quantity": 1e-100000,`),
			[]wantProblem{{"/OpportunityLineItems/records/0/Quantity", "amount"}}},
		{"three decimals in USD", edit(t, full, `"TotalPrice": 120000.00,`, `"TotalPrice": 120000.005,`),
			[]wantProblem{{"/OpportunityLineItems/records/0/TotalPrice", "amount"}}},
		{"trailing zeros do not count", edit(t, full, `"TotalPrice": 120000.00,`, `"TotalPrice": 120000.5000000,`), nil},
		{"a quoted number is checked too", edit(t, full, total, `"Total_Extended_Price__c": "1e19"`),
			[]wantProblem{{"/Total_Extended_Price__c", "amount"}}},
		{"JPY has no minor unit", edit(t, full, `"CurrencyIsoCode": "EUR"`, `"CurrencyIsoCode": "JPY"`),
			[]wantProblem{{"/OpportunityLineItems/records/1/TotalPrice", "amount"}, {"/OpportunityLineItems/records/3/TotalPrice", "amount"},
				{"/Total_Extended_Price__c", "amount"}}},
		{"an exponent padded with zeros", edit(t, full, qty, `"Quantity": 1e`+strings.Repeat("0", 50)+`1,`),
			[]wantProblem{{"/OpportunityLineItems/records/0/Quantity", "amount"}}},
		{"a fraction padded with zeros", edit(t, full, qty, `"Quantity": 1.`+strings.Repeat("0", 50)+`,`),
			[]wantProblem{{"/OpportunityLineItems/records/0/Quantity", "amount"}}},
		{"a coefficient of 100,000 digits", edit(t, full, qty, `"Quantity": `+strings.Repeat("7", 100000)+`,`),
			[]wantProblem{{"/OpportunityLineItems/records/0/Quantity", "amount"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ve := problemsOf(t, c.body)
			checkProblems(t, ve, c.want)
			for _, p := range problemsList(ve) {
				if len(p.Message) > 400 {
					t.Errorf("message of %d bytes: a value quoted in it must be shortened", len(p.Message))
				}
			}
		})
	}
}

func problemsList(ve *sfdc.ValidationError) []sfdc.Problem {
	if ve == nil {
		return nil
	}
	return ve.Problems
}

// TestRecordsLimit: a list over the limit is one problem naming its count,
// and its records are not kept.
func TestRecordsLimit(t *testing.T) {
	item := `{"Name__c": "AEM SITES:MS", "Quantity": 1, "TotalPrice": 1}`
	ve := problemsOf(t, lineItems(t, sfdc.DefaultMaxRecords, item))
	checkProblems(t, ve, nil)
	ve = problemsOf(t, lineItems(t, sfdc.DefaultMaxRecords+1, item))
	checkProblems(t, ve, []wantProblem{{"/OpportunityLineItems/records", sfdc.RuleMaxRecords}})
	if !strings.Contains(ve.Problems[0].Message, "5001") || !strings.Contains(ve.Problems[0].Message, "5000") {
		t.Errorf("the message must name the count and the limit: %q", ve.Problems[0].Message)
	}
	// The example's sales team has 4 members.
	ve = problemsOf(t, lineItems(t, 5, `{}`), sfdc.WithMaxRecords(4))
	checkProblems(t, ve, []wantProblem{{"/OpportunityLineItems/records", sfdc.RuleMaxRecords}})
	// Within the limit every bad record is reported.
	ve = problemsOf(t, lineItems(t, 3, `{}`), sfdc.WithMaxRecords(4))
	if ve.Count() != 9 {
		t.Errorf("3 empty line items: want 9 problems, got %v", ve)
	}
}

// TestProblemsBounded: however many problems a deal has, at most
// MaxProblems are kept and the rest counted.
func TestProblemsBounded(t *testing.T) {
	ve := problemsOf(t, lineItems(t, sfdc.DefaultMaxRecords, `{"Name__c": "\u0000"}`))
	// Each record: a control character, and Quantity and TotalPrice missing.
	if len(ve.Problems) != sfdc.MaxProblems || ve.Count() != 3*sfdc.DefaultMaxRecords {
		t.Fatalf("kept %d, counted %d", len(ve.Problems), ve.Count())
	}
	if msg := ve.Error(); len(msg) > 10000 || !strings.Contains(msg, "more") {
		t.Errorf("error text of %d bytes should list a few and count the rest", len(msg))
	}
}

// TestDecimalDigits: Digits applies the exponent without expanding it.
func TestDecimalDigits(t *testing.T) {
	for _, c := range []struct {
		in            string
		before, after int64
	}{
		{"0", 0, 0}, {"-0.000", 0, 0}, {"12500.00", 5, 0}, {"0.025", 0, 3}, {"-3", 1, 0},
		{"1.5e3", 4, 0}, {"15e-1", 1, 1}, {"1e100000", 100001, 0}, {"1e-100000", 0, 100000},
		{"0.50", 0, 1}, {"120000.5000", 6, 1}, {"1E+2", 3, 0}, {"0e5", 0, 0},
	} {
		d, err := sfdc.ParseDecimal(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if b, a := d.Digits(); b != c.before || a != c.after {
			t.Errorf("Digits(%s) = %d, %d; want %d, %d", c.in, b, a, c.before, c.after)
		}
	}
}
