package servicenow

import (
	"errors"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/loader"
	"github.com/bookbridge/bookbridge/loader/servicenow/sntest"
)

func TestEncodeQuery(t *testing.T) {
	cases := []struct {
		name  string
		where []map[string]string
		want  string
		err   error
	}{
		{"one condition", []map[string]string{{"u_ecc_id": "0001234567"}}, "u_ecc_id=0001234567", nil},
		{"sorted conjunction", []map[string]string{{"u_product": "AEM Basic", "u_ecc_id": "1"}}, "u_ecc_id=1^u_product=AEM Basic", nil},
		{"empty value", []map[string]string{{"u_tenant_id": "", "u_ecc_id": "1"}}, "u_ecc_id=1^u_tenant_idISEMPTY", nil},
		{"unicode and punctuation", []map[string]string{{"name": "Müller & Søn, O'Brien = 100%"}}, "name=Müller & Søn, O'Brien = 100%", nil},
		{"one varying field", []map[string]string{
			{"u_dr_number": "so", "u_adobe_sku": "1"}, {"u_dr_number": "so", "u_adobe_sku": "2"}, {"u_dr_number": "so", "u_adobe_sku": "1"},
		}, "u_dr_number=so^u_adobe_skuIN1,2", nil},
		{"identical alternatives", []map[string]string{{"a": "1"}, {"a": "1"}}, "a=1", nil},
		{"comma in a varying value", []map[string]string{{"s": "x", "k": "a,b"}, {"s": "x", "k": "c"}}, "k=a,b^s=x^NQk=c^s=x", nil},
		{"spaces at the ends of a varying value", []map[string]string{{"k": " a"}, {"k": "b"}}, "k= a^NQk=b", nil},
		{"empty varying value", []map[string]string{{"k": ""}, {"k": "b"}}, "kISEMPTY^NQk=b", nil},
		{"two varying fields", []map[string]string{{"a": "1", "b": "1"}, {"a": "2", "b": "2"}}, "a=1^b=1^NQa=2^b=2", nil},
		{"different field sets", []map[string]string{{"a": "1"}, {"a": "1", "b": "2"}}, "a=1^NQa=1^b=2", nil},
		{"caret", []map[string]string{{"name": "a^ORname=b"}}, "", loader.ErrUnsupportedValue},
		{"new query", []map[string]string{{"name": "a^NQname=b"}}, "", loader.ErrUnsupportedValue},
		{"line break", []map[string]string{{"name": "a\nb"}}, "", loader.ErrUnsupportedValue},
		{"script", []map[string]string{{"name": " JavaScript:gs.getUserID()"}}, "", loader.ErrUnsupportedValue},
		{"no alternative", nil, "", errAny},
		{"empty alternative", []map[string]string{{}}, "", errAny},
		{"bad field name", []map[string]string{{"name^OR": "x"}}, "", errAny},
		{"upper-case field name", []map[string]string{{"Name": "x"}}, "", errAny},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := encodeQuery(c.where)
			switch {
			case c.err == errAny && err != nil:
			case c.err != nil && !errors.Is(err, c.err):
				t.Fatalf("err = %v, want %v", err, c.err)
			case c.err == nil && err != nil:
				t.Fatalf("err = %v", err)
			case got != c.want:
				t.Errorf("encodeQuery = %q, want %q", got, c.want)
			}
		})
	}
}

var errAny = errors.New("any error")

// FuzzEncodeQuery checks the encoder against the test double's reading of
// encoded queries (which follows ServiceNow's documented syntax): a
// record matches the encoded query exactly when it matches one of the
// alternatives, or the encoder refuses a value it cannot express.
func FuzzEncodeQuery(f *testing.F) {
	f.Add("acme", "AEM", "65300101", "65300102", "", "x")
	f.Add("a,b", "c", "d^e", "f", "g", "h")
	f.Add("IN", "ISEMPTY", "=", "!=", "^NQ", "^OR")
	f.Add(" a", "b ", "a", "", "javascript:1", "z")
	fields := []string{"f1", "f2", "f3"}
	f.Fuzz(func(t *testing.T, a, b, c, d, e, g string) {
		vals := []string{a, b, c, d, e, g}
		// Two or three alternatives over overlapping fields.
		where := []map[string]string{
			{"f1": vals[0], "f2": vals[1]},
			{"f1": vals[0], "f2": vals[2]},
		}
		if vals[5] != "" {
			where = append(where, map[string]string{"f1": vals[3], "f3": vals[4]})
		}
		q, err := encodeQuery(where)
		if err != nil {
			if !errors.Is(err, loader.ErrUnsupportedValue) {
				t.Fatalf("encodeQuery(%q): unexpected error %v", where, err)
			}
			return
		}
		for _, w := range where { // only the values the query holds (vals[5] is a switch)
			for _, v := range w {
				if strings.ContainsAny(v, "\n\r") {
					t.Fatalf("a line break got through: %q", q)
				}
			}
		}
		// Candidate records: each alternative, and records that mix them.
		recs := []map[string]string{{}}
		for _, w := range where {
			recs = append(recs, w)
		}
		for _, x := range vals {
			for _, y := range vals {
				recs = append(recs, map[string]string{"f1": x, "f2": y}, map[string]string{"f1": x, "f3": y})
			}
		}
		for _, r := range recs {
			want := false
			for _, w := range where {
				ok := true
				for k, v := range w {
					if r[k] != v {
						ok = false
					}
				}
				want = want || ok
			}
			if got := sntest.Matches(q, fields, r, true); got != want {
				t.Fatalf("query %q on %q: match %v, want %v (alternatives %q)", q, r, got, want, where)
			}
		}
	})
}
