package sfdc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Salesforce's layouts for dates and datetimes. DateTimeLayout has the UTC
// offset without a colon, as Salesforce writes it.
const (
	DateLayout     = "2006-01-02"
	DateTimeLayout = "2006-01-02T15:04:05.000-0700"
)

// dateTimeReadLayouts are accepted when reading; the first is Salesforce's
// own, the others are what other tools commonly send for the same instant.
var dateTimeReadLayouts = []string{
	DateTimeLayout,
	"2006-01-02T15:04:05-0700",
	time.RFC3339Nano,
}

var jsonNull = []byte("null")

// Date is a Salesforce date (no time, no zone). The zero value, and JSON
// null, is an absent date: Valid is false.
type Date struct {
	Time  time.Time // midnight UTC of the day
	Valid bool
}

// NewDate returns the valid date for year, month and day.
func NewDate(year int, month time.Month, day int) Date {
	return Date{Time: time.Date(year, month, day, 0, 0, 0, 0, time.UTC), Valid: true}
}

// ParseDate reads a date in Salesforce's layout (2026-11-27).
func ParseDate(s string) (Date, error) {
	if t, ok := parseDateFast(s); ok {
		return Date{Time: t, Valid: true}, nil
	}
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return Date{}, fmt.Errorf("sfdc: %q is not a date: want YYYY-MM-DD, such as 2026-11-27", s)
	}
	return Date{Time: t, Valid: true}, nil
}

// String returns the date as YYYY-MM-DD, or "" when it is absent.
func (d Date) String() string {
	if !d.Valid {
		return ""
	}
	return d.Time.Format(DateLayout)
}

// MarshalJSON writes "YYYY-MM-DD", or null when the date is absent.
func (d Date) MarshalJSON() ([]byte, error) {
	if !d.Valid {
		return jsonNull, nil
	}
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON reads "YYYY-MM-DD" or null.
func (d *Date) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, jsonNull) {
		*d = Date{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("sfdc: a date must be a string such as \"2026-11-27\", got %s", b)
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// DateTime is a Salesforce datetime. It keeps the offset it was written
// with. The zero value, and JSON null, is absent: Valid is false.
type DateTime struct {
	Time  time.Time
	Valid bool
}

// ParseDateTime reads a datetime in Salesforce's layout
// (2026-11-27T10:00:00.000+0000); RFC 3339 is accepted as well.
func ParseDateTime(s string) (DateTime, error) {
	for _, layout := range dateTimeReadLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return DateTime{Time: t, Valid: true}, nil
		}
	}
	return DateTime{}, fmt.Errorf("sfdc: %q is not a datetime: want Salesforce's form, such as 2026-11-27T10:00:00.000+0000", s)
}

// String returns the datetime in Salesforce's layout, or "" when absent.
func (d DateTime) String() string {
	if !d.Valid {
		return ""
	}
	return d.Time.Format(DateTimeLayout)
}

// MarshalJSON writes Salesforce's layout, or null when absent.
func (d DateTime) MarshalJSON() ([]byte, error) {
	if !d.Valid {
		return jsonNull, nil
	}
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON reads Salesforce's layout, RFC 3339 or null.
func (d *DateTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, jsonNull) {
		*d = DateTime{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("sfdc: a datetime must be a string such as \"2026-11-27T10:00:00.000+0000\", got %s", b)
	}
	v, err := ParseDateTime(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// parseDateFast reads YYYY-MM-DD as time.Parse(DateLayout, s) does, without
// its general layout machinery. It reports false for anything else, which
// ParseDate then hands to time.Parse for the verdict and the message.
func parseDateFast(s string) (time.Time, bool) {
	if len(s) != len(DateLayout) || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	num := func(p string) int {
		n := 0
		for i := 0; i < len(p); i++ {
			if !isDigit(p[i]) {
				return -1
			}
			n = n*10 + int(p[i]-'0')
		}
		return n
	}
	y, m, d := num(s[:4]), num(s[5:7]), num(s[8:])
	if y < 0 || m < 1 || m > 12 || d < 1 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // past the month's end: time.Date would roll over
		return time.Time{}, false
	}
	return t, true
}
