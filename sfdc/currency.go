package sfdc

import (
	"reflect"
	"sync"

	"github.com/go-playground/validator/v10"
)

// MaxAmountDigits is the most digits before the decimal point that the
// amount rule accepts in a quantity, price or total.
const MaxAmountDigits = 18

// MaxAmountText is the longest text of a quantity, price or total that the
// amount rule accepts: room for every amount in range, and no padding of
// zeros (1e000…01, 1.000…0) that would carry megabytes into a plan.
const MaxAmountText = 40

// minorUnitsOther lists the ISO 4217 currencies whose minor unit is not 2
// digits; every other code has 2. The precious metals, special drawing
// rights and testing codes have no minor unit (-1): any number of digits
// after the point fits them.
var minorUnitsOther = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
	"XAG": -1, "XAU": -1, "XBA": -1, "XBB": -1, "XBC": -1, "XBD": -1, "XDR": -1,
	"XPD": -1, "XPT": -1, "XSU": -1, "XTS": -1, "XUA": -1, "XXX": -1,
}

// minorUnits returns the digits after the decimal point that an amount in
// the currency code may have; known is false for a code that is not an
// ISO 4217 currency with a minor unit (the iso4217 rule reports a wrong
// code), so that only the digits before the point are checked then.
func minorUnits(code string) (digits int, known bool) {
	if d, ok := minorUnitsOther[code]; ok {
		return d, d >= 0
	}
	if !isISO4217(code) {
		return 0, false
	}
	return 2, true
}

var (
	iso4217Check = validator.New()
	// iso4217Known holds the codes found valid, a set no larger than ISO
	// 4217's list, so that each deal's amounts do not ask the validator
	// again.
	iso4217Known sync.Map
)

// isISO4217 reports whether code is an ISO 4217 currency code, by the
// validator's own list that the iso4217 rule uses.
func isISO4217(code string) bool {
	if _, ok := iso4217Known.Load(code); ok {
		return true
	}
	if code == "" || iso4217Check.Var(code, "iso4217") != nil {
		return false
	}
	iso4217Known.Store(code, true)
	return true
}

// currencyOf returns the currency that the amount rule's parameter names:
// the field of that Go name in the amount's own struct, else in the
// payload's top-level struct.
func currencyOf(fl validator.FieldLevel) string {
	name := fl.Param()
	for _, s := range []reflect.Value{fl.Parent(), fl.Top()} {
		if c, ok := stringField(s, name); ok {
			return c
		}
	}
	return ""
}

// stringField reads the string field name of the struct s holds.
func stringField(s reflect.Value, name string) (string, bool) {
	for s.Kind() == reflect.Pointer || s.Kind() == reflect.Interface {
		if s.IsNil() {
			return "", false
		}
		s = s.Elem()
	}
	if s.Kind() != reflect.Struct {
		return "", false
	}
	f := s.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.String {
		return "", false
	}
	return f.String(), true
}
