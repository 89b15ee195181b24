package sfdc_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/sfdc"
)

func TestDecodeRejects(t *testing.T) {
	cases := []struct {
		name string
		body string
		want error
	}{
		{"empty", ``, sfdc.ErrInvalidJSON},
		{"truncated", `{"Id": "006`, sfdc.ErrInvalidJSON},
		{"syntax", `{"Id" "x"}`, sfdc.ErrInvalidJSON},
		{"array", `[{"Id":"x"}]`, sfdc.ErrNotObject},
		{"string", `"deal"`, sfdc.ErrNotObject},
		{"null", `null`, sfdc.ErrNotObject},
		{"duplicate top", `{"Id":"a","Id":"b"}`, sfdc.ErrDuplicateKey},
		{"duplicate nested", `{"Account":{"Name":"a","Name":"b"}}`, sfdc.ErrDuplicateKey},
		{"duplicate in list", `{"OpportunityLineItems":{"records":[{},{"Quantity":1,"Quantity":2}]}}`, sfdc.ErrDuplicateKey},
		{"trailing object", `{"Id":"a"}{"Id":"b"}`, sfdc.ErrTrailingData},
		{"trailing junk", `{"Id":"a"} x`, sfdc.ErrTrailingData},
		{"invalid utf8", "{\"Name\":\"M\xfcller\"}", sfdc.ErrInvalidUTF8},
		{"wrong type", `{"Account":"Acme"}`, sfdc.ErrWrongShape},
		{"bad date", `{"CloseDate":"27.11.2026"}`, sfdc.ErrWrongShape},
		{"bad number", `{"Total_Extended_Price__c":"12,50"}`, sfdc.ErrWrongShape},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := sfdc.Decode[sfdc.Opportunity]([]byte(c.body))
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			var de *sfdc.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %T, want *DecodeError", err)
			}
		})
	}
}

func TestDecodeDuplicateKeyNamesPath(t *testing.T) {
	_, err := sfdc.Decode[sfdc.Opportunity]([]byte(`{"OpportunityLineItems":{"records":[{},{"Quantity":1,"Quantity":2}]}}`))
	var de *sfdc.DecodeError
	if !errors.As(err, &de) || de.Path != "/OpportunityLineItems/records/1/Quantity" {
		t.Fatalf("want path of the duplicate key, got %v", err)
	}
}

func TestDecodeSizeLimit(t *testing.T) {
	body := []byte(`{"Name":"` + strings.Repeat("x", 100) + `"}`)
	if _, err := sfdc.Decode[sfdc.Opportunity](body, sfdc.WithMaxBytes(50)); !errors.Is(err, sfdc.ErrTooLarge) {
		t.Fatalf("Decode over limit: got %v", err)
	}
	if _, err := sfdc.DecodeReader[sfdc.Opportunity](bytes.NewReader(body), sfdc.WithMaxBytes(50)); !errors.Is(err, sfdc.ErrTooLarge) {
		t.Fatalf("DecodeReader over limit: got %v", err)
	}
	if _, err := sfdc.DecodeReader[sfdc.Opportunity](bytes.NewReader(body), sfdc.WithMaxBytes(int64(len(body)))); err != nil {
		t.Fatalf("body exactly at the limit: %v", err)
	}
	big := bytes.Repeat([]byte(" "), sfdc.DefaultMaxBytes+1)
	if _, err := sfdc.Decode[sfdc.Opportunity](big); !errors.Is(err, sfdc.ErrTooLarge) {
		t.Fatalf("default limit: got %v", err)
	}
}

func TestDecodeKeepsRawAndHash(t *testing.T) {
	raw := readPayload(t, "deal-full.json")
	d, err := sfdc.Decode[sfdc.Opportunity](raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Raw, raw) {
		t.Fatal("Raw differs from the input bytes")
	}
	if len(d.Hash) != 64 {
		t.Fatalf("hash %q is not hex SHA-256", d.Hash)
	}
	// The hash is the SHA-256 of the exact bytes: a redelivery has the same
	// hash, any change (even of formatting) another.
	sum := sha256.Sum256(raw)
	if d.Hash != hex.EncodeToString(sum[:]) {
		t.Error("hash is not the SHA-256 of the raw bytes")
	}
	d1, _ := sfdc.Decode[sfdc.Opportunity](bytes.Clone(raw))
	if d1.Hash != d.Hash {
		t.Error("the same bytes gave another hash")
	}
	changed := bytes.Replace(raw, []byte(`"DR00004711"`), []byte(`"DR00004712"`), 1)
	d3, _ := sfdc.Decode[sfdc.Opportunity](changed)
	if d3.Hash == d.Hash {
		t.Error("a changed value kept the same hash")
	}
	// Unknown fields stay in Raw and are no error.
	extra := bytes.Replace(raw, []byte(`"Id":`), []byte(`"Custom_Field__c": {"x": [1,2]}, "Id":`), 1)
	d4, err := sfdc.Decode[sfdc.Opportunity](extra)
	if err != nil || !bytes.Contains(d4.Raw, []byte("Custom_Field__c")) || d4.Hash == d.Hash {
		t.Fatalf("unknown field: err=%v", err)
	}
}

func TestDecodeTypedValues(t *testing.T) {
	d, err := sfdc.Decode[sfdc.Opportunity](readPayload(t, "deal-full.json"))
	if err != nil {
		t.Fatal(err)
	}
	o := d.Value
	if o.Account.Name != "Müller & Søn Größe GmbH" {
		t.Errorf("account name %q", o.Account.Name)
	}
	if got := o.TotalExtendedPrice.String(); got != "495000.75" {
		t.Errorf("total %q", got)
	}
	if got := o.LineItems.Records[1].TotalPrice.String(); got != "85000.50" {
		t.Errorf("line price kept as %q, want the exact text 85000.50", got)
	}
	if !o.LastModifiedDate.Valid || !o.LastModifiedDate.Time.Equal(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("LastModifiedDate %v", o.LastModifiedDate)
	}
	if o.LineItems.TotalSize != 12 || !o.LineItems.Done || len(o.LineItems.Records) != 12 {
		t.Errorf("line items %+v", o.LineItems)
	}
	if got := o.AccountManagers(); len(got) != 2 || got[1] != "O'Brien, Siobhán" {
		t.Errorf("account managers %q: a name with a comma must stay one name", got)
	}
	if got := o.ProductSpecialists(); len(got) != 1 || got[0] != "Zoë Łukasiewicz" {
		t.Errorf("product specialists %q", got)
	}
	if got := len(o.ManagedServicesLines()); got != 7 {
		t.Errorf("managed-services lines: %d, want 7", got)
	}
	if o.Product() != sfdc.ProductAEM {
		t.Errorf("product %q", o.Product())
	}
}

func TestDateRoundTrip(t *testing.T) {
	for _, in := range []string{`"2026-11-27"`, `"2024-02-29"`, `null`} {
		var d sfdc.Date
		if err := json.Unmarshal([]byte(in), &d); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		out, _ := json.Marshal(d)
		if string(out) != in {
			t.Errorf("date %s came back as %s", in, out)
		}
	}
	for _, in := range []string{`"2026-02-30"`, `"2026-11-27T10:00:00Z"`, `20261127`, `""`} {
		var d sfdc.Date
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("date %s: want an error", in)
		}
	}
}

func TestDateTimeRoundTrip(t *testing.T) {
	for _, in := range []string{`"2026-11-27T10:00:00.000+0000"`, `"2026-03-01T23:59:59.123-0800"`, `"2026-06-30T08:15:00.500+0530"`, `null`} {
		var d sfdc.DateTime
		if err := json.Unmarshal([]byte(in), &d); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		out, _ := json.Marshal(d)
		if string(out) != in {
			t.Errorf("datetime %s came back as %s", in, out)
		}
	}
	// Other common forms are read and written back in Salesforce's form.
	var d sfdc.DateTime
	if err := json.Unmarshal([]byte(`"2026-11-27T10:00:00Z"`), &d); err != nil {
		t.Fatal(err)
	}
	if d.String() != "2026-11-27T10:00:00.000+0000" {
		t.Errorf("RFC 3339 input written as %s", d.String())
	}
	for _, in := range []string{`"2026-11-27"`, `"2026-11-27 10:00:00"`, `1700000000`} {
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("datetime %s: want an error", in)
		}
	}
}

func TestDecimalKeepsText(t *testing.T) {
	for _, in := range []string{`0.1`, `12500.00`, `1e3`, `-0.005`, `123456789012345678901234567890.12`} {
		var d sfdc.Decimal
		if err := json.Unmarshal([]byte(in), &d); err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(d)
		if string(out) != in {
			t.Errorf("%s came back as %s", in, out)
		}
	}
	var d sfdc.Decimal
	if err := json.Unmarshal([]byte(`"455000.00"`), &d); err != nil || d.String() != "455000.00" {
		t.Errorf("quoted number: %v %q", err, d.String())
	}
	if err := json.Unmarshal([]byte(`"12,50"`), &d); err == nil {
		t.Error("12,50 accepted as a number")
	}
}

func TestRecordsNullIsEmpty(t *testing.T) {
	var r sfdc.Records[sfdc.LineItem]
	if err := json.Unmarshal([]byte(`null`), &r); err != nil || r.Len() != 0 {
		t.Fatalf("null: %v %+v", err, r)
	}
	if err := json.Unmarshal([]byte(`{"totalSize":1,"done":true,"records":[{"Name__c":"x"}]}`), &r); err != nil || r.Len() != 1 || r.TotalSize != 1 {
		t.Fatalf("list: %v %+v", err, r)
	}
}

func TestProductDerivation(t *testing.T) {
	o := sfdc.Opportunity{LineItems: sfdc.NewRecords(
		sfdc.LineItem{Name: "AEM MS BASIC HR"}, // no ":MS" -> not managed services
		sfdc.LineItem{Name: "Adobe Analytics"},
	)}
	if o.Product() != sfdc.ProductAEM {
		t.Errorf("non-managed line must not make AEM Basic")
	}
	o.LineItems = sfdc.NewRecords(sfdc.LineItem{Name: "AEM SITES:ms basic"}, sfdc.LineItem{Name: "AEM MANAGED SERVICES MS BASIC"})
	if o.Product() != sfdc.ProductAEMBasic {
		t.Errorf("want AEM Basic, got %q", o.Product())
	}
}
