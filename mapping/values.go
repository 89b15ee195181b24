package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/bookbridge/bookbridge/loader"
)

// ListSeparator joins the elements of a list result into the one text
// field ServiceNow holds (several account managers, for example).
const ListSeparator = ", "

// DateLayout is how a time.Time result is sent: the calendar date in the
// value's own location.
const DateLayout = "2006-01-02"

// Money is an exact amount in a currency, made by the money helper. It is
// sent as "<ISO code>;<amount>" with two decimals ("EUR;495000.75").
type Money struct {
	Currency string
	Amount   *apd.Decimal
}

// moneyContext rounds an amount with more than two decimals half up.
var moneyContext = func() *apd.Context {
	c := apd.BaseContext.WithPrecision(60)
	c.Rounding = apd.RoundHalfUp
	return c
}()

// String returns the ServiceNow currency form, such as "USD;12500.00".
func (m Money) String() string {
	var q apd.Decimal
	if _, err := moneyContext.Quantize(&q, m.Amount, -2); err != nil {
		// Quantize fails only beyond 60 digits, which no amount reaches.
		return m.Currency + ";" + m.Amount.Text('f')
	}
	return m.Currency + ";" + q.Text('f')
}

// Text returns the amount for people: the currency, a space and the
// amount with two decimals and its thousands separated by commas, such as
// "EUR 25,000.00". Plan warnings use it (through the moneyText helper);
// field values use String.
func (m Money) Text() string {
	_, amount, _ := strings.Cut(m.String(), ";")
	sign := ""
	if strings.HasPrefix(amount, "-") {
		sign, amount = "-", amount[1:]
	}
	whole, frac, _ := strings.Cut(amount, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	out := m.Currency + " " + sign + b.String()
	if frac != "" {
		out += "." + frac
	}
	return out
}

// exactDecimal reads a number result exactly: json.Number and numeric
// strings by their text, integers as they are, floats by their shortest
// decimal form.
func exactDecimal(v any) (*apd.Decimal, error) {
	var s string
	switch n := v.(type) {
	case json.Number:
		s = n.String()
	case string:
		s = strings.TrimSpace(n)
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, fmt.Errorf("%v is not a number that can be sent", n)
		}
		s = strconv.FormatFloat(n, 'f', -1, 64)
	case float32:
		s = strconv.FormatFloat(float64(n), 'f', -1, 32)
	case int:
		s = strconv.Itoa(n)
	case int64:
		s = strconv.FormatInt(n, 10)
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			s = strconv.FormatInt(rv.Int(), 10)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			s = strconv.FormatUint(rv.Uint(), 10)
		default:
			return nil, fmt.Errorf("%s is not a number", describe(v))
		}
	}
	d, _, err := apd.NewFromString(s)
	if err != nil || d.Form != apd.Finite {
		return nil, fmt.Errorf("%q is not a decimal number", s)
	}
	return d, nil
}

// decimalText writes a number without exponent and without trailing
// zeros after the point: "1.0" -> "1", "2.50" -> "2.5", "1E+2" -> "100".
func decimalText(d *apd.Decimal) string {
	var r apd.Decimal
	r.Reduce(d)
	return r.Text('f')
}

// isPlainInteger reports whether s is 0 or a whole number without
// leading zeros, sign aside: the text decimalText would write for it.
func isPlainInteger(s string) bool {
	if s == "0" {
		return true
	}
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	if s == "" || s[0] < '1' || s[0] > '9' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// toValue turns an expression result into the Value sent to the target.
// ok is false for nil: the field is left out. The rules are documented in
// the package doc under "Values".
func toValue(v any) (val loader.Value, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return loader.Value{}, false, nil
	case *loader.Value:
		if x == nil {
			return loader.Value{}, false, nil
		}
		return *x, true, nil
	case loader.Value:
		return x, true, nil
	case *Money:
		if x == nil {
			return loader.Value{}, false, nil
		}
		return loader.Lit(x.String()), true, nil
	case Money:
		return loader.Lit(x.String()), true, nil
	}
	s, ok, err := toText(v)
	if err != nil || !ok {
		return loader.Value{}, ok, err
	}
	return loader.Lit(s), true, nil
}

// toText renders a result that is not a reference as the text sent.
func toText(v any) (string, bool, error) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return x, true, nil
	case bool:
		if x {
			return "true", true, nil
		}
		return "false", true, nil
	case int:
		// A whole number is its own shortest form.
		return strconv.Itoa(x), true, nil
	case int64:
		return strconv.FormatInt(x, 10), true, nil
	case json.Number:
		if isPlainInteger(string(x)) {
			return string(x), true, nil
		}
		d, err := exactDecimal(x)
		if err != nil {
			return "", false, err
		}
		return decimalText(d), true, nil
	case float64, float32:
		d, err := exactDecimal(x)
		if err != nil {
			return "", false, err
		}
		return decimalText(d), true, nil
	case time.Time:
		return x.Format(DateLayout), true, nil
	case *Money:
		if x == nil {
			return "", false, nil
		}
		return x.String(), true, nil
	case Money:
		return x.String(), true, nil
	case *loader.Value, loader.Value:
		return "", false, fmt.Errorf("a reference to another step's record cannot be part of a list or text; use ref.STEP alone as the field's value")
	case []string:
		return strings.Join(x, ListSeparator), true, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		d, err := exactDecimal(v)
		if err != nil {
			return "", false, err
		}
		return decimalText(d), true, nil
	case reflect.String:
		return rv.String(), true, nil
	case reflect.Slice, reflect.Array:
		parts := make([]string, 0, rv.Len())
		for i := 0; i < rv.Len(); i++ {
			s, ok, err := toText(rv.Index(i).Interface())
			if err != nil {
				return "", false, fmt.Errorf("list element %d: %w", i, err)
			}
			if ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ListSeparator), true, nil
	}
	return "", false, fmt.Errorf("%s cannot be sent as a field value; pick a member of it or turn it into text", describe(v))
}

// describe names a value's kind for error messages.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "text"
	case bool:
		return "true/false"
	case json.Number, float64, int:
		return "a number"
	}
	t := reflect.TypeOf(v)
	switch t.Kind() {
	case reflect.Map:
		return "an object (" + t.String() + ")"
	case reflect.Slice, reflect.Array:
		return "a list (" + t.String() + ")"
	case reflect.Struct, reflect.Pointer:
		return "a " + t.String()
	}
	return "a " + t.String()
}
