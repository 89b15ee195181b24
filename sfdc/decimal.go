package sfdc

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/apd/v3"
)

// Decimal is a JSON number kept as the exact text it arrived as, so that
// amounts never pass through float rounding. JSON null, and the zero value,
// is absent: Valid reports false.
type Decimal struct {
	text string
}

// MustDecimal returns the Decimal for s and panics when s is not a number.
// It is meant for tests and constants.
func MustDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

// ParseDecimal reads a decimal number such as "12500.00" or "-3".
func ParseDecimal(s string) (Decimal, error) {
	if _, ok := plainSign(s); ok {
		return Decimal{text: s}, nil
	}
	var v apd.Decimal
	if _, _, err := v.SetString(s); err != nil || !json.Valid([]byte(s)) {
		return Decimal{}, fmt.Errorf("sfdc: %q is not a decimal number", s)
	}
	return Decimal{text: s}, nil
}

// Valid reports whether the number is present.
func (d Decimal) Valid() bool { return d.text != "" }

// String returns the number's text as it arrived, or "" when absent.
func (d Decimal) String() string { return d.text }

// Apd returns the exact value as an apd.Decimal (zero when absent).
func (d Decimal) Apd() *apd.Decimal {
	v := new(apd.Decimal)
	if d.text != "" {
		_, _, _ = v.SetString(d.text) // checked when the value was read
	}
	return v
}

// Sign returns -1, 0 or +1; an absent value counts as 0.
func (d Decimal) Sign() int {
	if sign, ok := plainSign(d.text); ok {
		return sign
	}
	var v apd.Decimal
	if d.text != "" {
		_, _, _ = v.SetString(d.text) // checked when the value was read
	}
	return v.Sign()
}

// MarshalJSON writes the number exactly as it arrived, or null.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if d.text == "" {
		return jsonNull, nil
	}
	return []byte(d.text), nil
}

// UnmarshalJSON keeps the number's text. Salesforce sends numbers as JSON
// numbers; a string holding a number is accepted too, since some
// middleware quotes them.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, jsonNull) {
		*d = Decimal{}
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := ParseDecimal(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// plainMaxLen bounds the numbers plainSign reads; a longer one (never an
// amount or a quantity) goes through apd, which also applies its exponent
// limits.
const plainMaxLen = 40

// plainSign reports whether s is a JSON number without an exponent and of
// at most plainMaxLen bytes, -?(0|[1-9][0-9]*)(\.[0-9]+)?, and its sign.
// Salesforce's amounts and quantities have this form; apd and encoding/json
// both accept each such number, so ParseDecimal and Sign need neither for
// it.
func plainSign(s string) (sign int, ok bool) {
	if len(s) == 0 || len(s) > plainMaxLen {
		return 0, false
	}
	i, neg := 0, false
	if s[0] == '-' {
		neg, i = true, 1
	}
	nonzero := false
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		nonzero = true
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && isDigit(s[i]) {
			nonzero = nonzero || s[i] != '0'
			i++
		}
		if i == start {
			return 0, false
		}
	}
	switch {
	case i != len(s):
		return 0, false
	case !nonzero:
		return 0, true
	case neg:
		return -1, true
	}
	return 1, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
