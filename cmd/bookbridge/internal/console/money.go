package console

import (
	"strings"
)

// FormatMoney writes an amount with its ISO 4217 currency for people,
// grouping the digits of the whole part with commas: FormatMoney("EUR",
// "495000.75") is "EUR 495,000.75". The digits are exactly those of amount,
// the payload's text, never rounded through a float. An amount that is not
// a plain decimal (an exponent, say) is shown as it is.
func FormatMoney(currency, amount string) string {
	amount = strings.TrimSpace(amount)
	if amount == "" {
		return ""
	}
	out := groupDigits(amount)
	if currency = strings.TrimSpace(currency); currency != "" {
		out = currency + " " + out
	}
	return out
}

// groupDigits puts commas between the thousands of a plain decimal number
// (-?digits[.digits]) and returns anything else unchanged.
func groupDigits(s string) string {
	sign, rest := "", s
	if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
		sign, rest = rest[:1], rest[1:]
	}
	whole, frac, hasFrac := strings.Cut(rest, ".")
	if whole == "" || !allDigits(whole) || (hasFrac && (frac == "" || !allDigits(frac))) {
		return s
	}
	var b strings.Builder
	b.WriteString(sign)
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
