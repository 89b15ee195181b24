package sfdc

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// isRefusedControl reports whether r is a C0 control character other than
// tab, CR and LF. No string of a deal may hold one: Postgres refuses NUL in
// text, and none of them has a meaning in a Salesforce field.
func isRefusedControl(r rune) bool {
	return r < 0x20 && r != '\t' && r != '\r' && r != '\n'
}

// mayHoldControl reports whether data, valid JSON, may have a string with
// a refused control character. JSON allows one only as an escape (\b, \f
// or \u00XX), so it looks at escapes alone; a true answer is checked by
// controlProblems.
func mayHoldControl(data []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\\')
		if j < 0 || i+j+1 >= len(data) {
			return false
		}
		i += j + 1
		switch data[i] {
		case 'b', 'f':
			return true
		case 'u':
			if i+4 < len(data) && data[i+1] == '0' && data[i+2] == '0' && (data[i+3] == '0' || data[i+3] == '1') {
				return true
			}
		}
		i++ // past the escaped character: \\ is one backslash
	}
}

// escapesRefused reports whether raw, one JSON string as written, has an
// escape of a refused control character (\b, \f, or \u00XX below 0x20
// other than tab, LF and CR).
func escapesRefused(raw []byte) bool {
	for i := 0; i+1 < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		switch raw[i] {
		case 'b', 'f':
			return true
		case 'u':
			if i+4 < len(raw) && raw[i+1] == '0' && raw[i+2] == '0' && (raw[i+3] == '0' || raw[i+3] == '1') {
				lo := strings.IndexByte("0123456789abcdef", raw[i+4]|0x20) // JSON hex digits, either case
				if lo >= 0 && isRefusedControl(rune(int(raw[i+3]-'0')*16+lo)) {
					return true
				}
			}
		}
	}
	return false
}

// controlProblems adds a problem for every string of data, a valid JSON
// document, that holds a refused control character: member names too,
// whether or not the payload's type declares the member. Once l is full
// it only counts them.
func controlProblems(data []byte, l *problemList) {
	if !mayHoldControl(data) {
		return
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	for {
		if dec.PeekKind() != '"' {
			if _, err := dec.ReadToken(); err != nil {
				return // the end, or a fault Decode has reported already
			}
			continue
		}
		// A string (or member name) read raw: a refused character in it
		// is an escape, which mayHoldControl finds without unquoting.
		raw, err := dec.ReadValue()
		if err != nil {
			return
		}
		if !escapesRefused(raw) {
			continue
		}
		if len(l.list) >= MaxProblems {
			l.omitted++ // counted, not described
			continue
		}
		text, err := jsontext.AppendUnquote(nil, raw)
		if err != nil {
			return
		}
		i := bytes.IndexFunc(text, isRefusedControl)
		what := "the string"
		if k, n := dec.StackIndex(dec.StackDepth()); k == '{' && n%2 == 1 {
			what = "the member name"
		}
		l.add(Problem{Path: string(dec.StackPointer()), Rule: RuleControlChar,
			Message: fmt.Sprintf("%s holds the control character U+%04X at byte %d; remove it (only tab, CR and LF are accepted)", what, text[i], i)})
	}
}
