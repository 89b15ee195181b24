package sfdc_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/bookbridge/bookbridge/sfdc"
)

// ParseDecimal and Sign read the plain numbers Salesforce sends without
// apd; for every input they must agree with apd and encoding/json, which
// they use for everything else.
func FuzzParseDecimalMatchesApd(f *testing.F) {
	for _, s := range []string{"0", "-0", "-0.000", "12500.00", "120000.0", "-3", "0.5", "00", "01", "1.", ".5",
		"-", "+1", "1e5", "1E-2", "NaN", "Inf", "-Infinity", " 1", "1 ", "0x10", "1_000", "",
		"123456789012345678901234567890123456789", "1234567890123456789012345678901234567890.5",
		"-0.0000000000000000000000000000000000001", "99999999999999999999999999999999999999999",
		"1e100000", "1e100001", "10e99999", "1e-100000", "1e-100001", "0e100000", "0e100001", "0.1e100001",
		"0.001e-99998", "1e2147483647", "1e2147483648", "1e-2147483648", "1E+05", "1e+", "1e", "-", "1.5e3", "0.100e-99998", "1e-99999", "0.1e-99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want apd.Decimal
		_, _, err := want.SetString(s)
		valid := err == nil && json.Valid([]byte(s))
		d, err := sfdc.ParseDecimal(s)
		if (err == nil) != valid {
			t.Fatalf("ParseDecimal(%q): error %v, but apd and encoding/json say valid=%v", s, err, valid)
		}
		if !valid {
			return
		}
		if d.String() != s {
			t.Fatalf("ParseDecimal(%q) kept %q", s, d.String())
		}
		if got := d.Sign(); got != want.Sign() {
			t.Fatalf("Sign(%q) = %d, apd says %d", s, got, want.Sign())
		}
	})
}

// ParseDate reads YYYY-MM-DD without time.Parse; it must accept, reject
// and read exactly as time.Parse(DateLayout) does.
func FuzzParseDateMatchesTimeParse(f *testing.F) {
	for _, s := range []string{"2026-11-27", "2024-02-29", "2026-02-29", "2026-02-30", "2026-13-01", "2026-00-10",
		"2026-01-00", "2026-04-31", "0000-01-01", "9999-12-31", "2026-1-27", "2026/11/27", "2026-11-27T00:00:00Z",
		"+026-11-27", "2026-11-2a", " 2026-11-2", "", "2100-02-29", "2000-02-29"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, werr := time.Parse(sfdc.DateLayout, s)
		got, err := sfdc.ParseDate(s)
		if (err == nil) != (werr == nil) {
			t.Fatalf("ParseDate(%q): error %v; time.Parse: %v", s, err, werr)
		}
		if err == nil && (!got.Valid || !got.Time.Equal(want) || got.Time.Location() != time.UTC) {
			t.Fatalf("ParseDate(%q) = %v, time.Parse gives %v", s, got.Time, want)
		}
	})
}
