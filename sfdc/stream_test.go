package sfdc_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/bookbridge/bookbridge/sfdc"
)

// Decode reads dates, datetimes and numbers through UnmarshalJSONFrom;
// encoding/json users go through UnmarshalJSON. Both must accept the same
// values and read them the same way.
func FuzzStreamingMatchesUnmarshalJSON(f *testing.F) {
	for _, s := range []string{`null`, `"2026-11-27"`, `"2026-02-30"`, `"2026-11-27T10:00:00.000+0000"`,
		`"2026-11-27T10:00:00Z"`, `12500.00`, `"12500.00"`, `-3`, `1e400`, `"1e5"`, `true`, `{"a":1}`,
		`[1]`, `"\u0032026-11-27"`, `""`, `"abc"`, `0`, `-0.0`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !utf8.Valid(raw) || !json.Valid(raw) {
			return // json v2 rejects these before any method runs
		}
		check := func(name string, v2, v1 func() (string, error)) {
			a, errA := v2()
			b, errB := v1()
			if (errA == nil) != (errB == nil) || a != b {
				t.Fatalf("%s %q: UnmarshalJSONFrom gave %q, %v; UnmarshalJSON gave %q, %v", name, raw, a, errA, b, errB)
			}
		}
		check("Date", func() (string, error) {
			var d sfdc.Date
			err := jsonv2.Unmarshal(raw, &d)
			return d.String(), err
		}, func() (string, error) {
			var d sfdc.Date
			err := json.Unmarshal(raw, &d)
			return d.String(), err
		})
		check("DateTime", func() (string, error) {
			var d sfdc.DateTime
			err := jsonv2.Unmarshal(raw, &d)
			return d.String(), err
		}, func() (string, error) {
			var d sfdc.DateTime
			err := json.Unmarshal(raw, &d)
			return d.String(), err
		})
		check("Decimal", func() (string, error) {
			var d sfdc.Decimal
			err := jsonv2.Unmarshal(raw, &d)
			return d.String(), err
		}, func() (string, error) {
			var d sfdc.Decimal
			err := json.Unmarshal(raw, &d)
			return d.String(), err
		})
	})
}
