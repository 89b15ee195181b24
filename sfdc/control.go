package sfdc

import (
	"bytes"
	"fmt"

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

// controlProblems adds a problem for every string of data, a valid JSON
// document, that holds a refused control character: member names too,
// whether or not the payload's type declares the member.
func controlProblems(data []byte, l *problemList) {
	if !mayHoldControl(data) {
		return
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return // the end, or a fault Decode has reported already
		}
		if tok.Kind() != '"' {
			continue
		}
		s := tok.String()
		for i, r := range s {
			if !isRefusedControl(r) {
				continue
			}
			what := "the string"
			if dec.StackDepth() > 0 {
				if k, n := dec.StackIndex(dec.StackDepth()); k == '{' && n%2 == 1 {
					what = "the member name"
				}
			}
			l.add(Problem{Path: string(dec.StackPointer()), Rule: RuleControlChar,
				Message: fmt.Sprintf("%s holds the control character U+%04X at byte %d; remove it (only tab, CR and LF are accepted)", what, r, i)})
			break
		}
	}
}
