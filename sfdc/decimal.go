package sfdc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

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

// ParseDecimal reads a decimal number such as "12500.00", "-3" or "1.5e3":
// a JSON number whose exponents apd can represent. It reads the text once,
// in time linear in its length, and never expands an exponent.
func ParseDecimal(s string) (Decimal, error) {
	if _, ok := scanNumber(s); !ok {
		return Decimal{}, fmt.Errorf("sfdc: %s is not a decimal number", clip(strconv.Quote(s)))
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
	n, _ := scanNumber(d.text) // checked when the value was read
	return n.sign()
}

// Digits returns how many digits the value has before the decimal point
// and how many after it, leading zeros before and trailing zeros after
// not counted, with the exponent applied: 1.5e3 has 4 and 0, 0.025 has 0
// and 3. An absent value has 0 and 0. It never expands an exponent, so
// 1e100000 costs no more than 1e1.
func (d Decimal) Digits() (before, after int64) {
	n, ok := scanNumber(d.text)
	if !ok || n.digits == 0 {
		return 0, 0
	}
	// The value is C * 10^exp, where C has n.digits digits of which the
	// last n.trailingZeros are zeros.
	before = max(n.digits+n.exp, 0)
	after = max(-(n.exp + n.trailingZeros), 0)
	return before, after
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

// apdMaxExponent is apd's limit of an exponent (apd.MaxExponent): it
// cannot represent a number whose adjusted exponent is beyond it.
const apdMaxExponent = apd.MaxExponent

// number is what scanNumber reads from a JSON number.
type number struct {
	neg bool
	// digits counts the coefficient's digits (integer and fraction part
	// together) without leading zeros; 0 when the value is zero.
	digits int64
	// trailingZeros counts the zeros that end a nonzero coefficient.
	trailingZeros int64
	// exp is the exponent of the coefficient's last digit: the written
	// exponent minus the number of fraction digits.
	exp int64
}

func (n number) sign() int {
	switch {
	case n.digits == 0:
		return 0
	case n.neg:
		return -1
	}
	return 1
}

// scanNumber reads s as a JSON number, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?,
// and reports false for anything else or for a number whose exponents are
// out of apd's range (the written exponent, the fraction's length, their
// difference and the adjusted exponent each within ±apd.MaxExponent), so
// that every number it accepts is one apd reads. It does one pass over s
// and allocates nothing.
func scanNumber(s string) (n number, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		n.neg = true
		i++
	}
	zeros := int64(0) // zeros seen since the last nonzero digit
	digit := func(c byte) {
		switch {
		case c != '0':
			n.digits += zeros + 1
			zeros = 0
		case n.digits > 0:
			zeros++
		}
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			digit(s[i])
			i++
		}
	default:
		return number{}, false
	}
	frac := int64(0)
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && isDigit(s[i]) {
			digit(s[i])
			i++
		}
		if i == start {
			return number{}, false
		}
		frac = int64(i - start)
	}
	exp := int64(0)
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		start := i
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		digits := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == digits || i != len(s) {
			return number{}, false
		}
		e, err := strconv.ParseInt(s[start:i], 10, 32)
		if err != nil || e > apdMaxExponent || e < -apdMaxExponent {
			return number{}, false
		}
		exp = e
	}
	if i != len(s) || frac > apdMaxExponent {
		return number{}, false
	}
	if n.digits > 0 {
		n.digits += zeros
		n.trailingZeros = zeros
	}
	n.exp = exp - frac
	if n.exp > apdMaxExponent || n.exp < -apdMaxExponent {
		return number{}, false // apd checks the resulting exponent too
	}
	coeffDigits := max(n.digits, 1) // apd counts zero as one digit
	if adj := n.exp + coeffDigits - 1; adj > apdMaxExponent || adj < -apdMaxExponent {
		return number{}, false
	}
	return n, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
