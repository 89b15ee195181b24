package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// PHFields are the Provisioning Hub email's field names that rules see
// under ph (ph.deploy_to_email, ...). A key missing from Input.PH reads as
// "" in an expression; any other key is a compile error, so a typo is
// caught when the rules load.
var PHFields = []string{
	"company_name", "dr_number", "ecc_id", "sales_order_number",
	"deploy_to_email", "tenant_id", "ims_org_id", "ticket_link",
	"message_id", "subject", "from", "date",
}

// Input is everything a plan is made from: one staged record. The caller
// (the server, a test, the CLI) fills it; Plan reads nothing else.
type Input struct {
	// SFDC is the raw Salesforce payload as decoded JSON objects, with
	// numbers kept exact as json.Number (see SFDCFromJSON). Empty for a
	// record created from an email alone.
	SFDC map[string]any
	// PH holds the Provisioning Hub email's fields under the PHFields
	// keys; it may be nil.
	PH map[string]string
	// Record is the staged record's metadata.
	Record RecordInfo
	// Now is the clock value of the load. Expressions see it as now; no
	// expression reads the system clock.
	Now time.Time
	// Memo, when set, shares what plans of this Input with several rule
	// files compute alike (see Memo); nil: each plan computes everything.
	Memo *Memo
}

// RecordInfo is the staged record as expressions see it under record
// (record.number, record.attachments, ...).
type RecordInfo struct {
	ID          string           `expr:"id" json:"id"`
	Number      string           `expr:"number" json:"number"`
	State       string           `expr:"state" json:"state"`
	Attachments []AttachmentInfo `expr:"attachments" json:"attachments"`
}

// AttachmentInfo is one file kept on the staged record. Only attachments
// with Usable set ever reach a plan: the planner drops the others from an
// attach list with a warning.
type AttachmentInfo struct {
	ID          string `expr:"id" json:"id"`
	FileName    string `expr:"file_name" json:"file_name"`
	ContentType string `expr:"content_type" json:"content_type"`
	SHA256      string `expr:"sha256" json:"sha256"`
	Size        int64  `expr:"size" json:"size"`
	// Usable is false for a file kept only as evidence, such as a PDF that
	// failed the PDF check or carries active content.
	Usable   bool     `expr:"usable" json:"usable"`
	Warnings []string `expr:"warnings" json:"warnings,omitempty"`
}

// SFDCFromJSON decodes a payload into the form Input.SFDC holds: objects
// as map[string]any, arrays as []any and numbers as json.Number, so no
// amount passes through a float. It does not validate the payload (the
// sfdc package does); it only requires one JSON object.
func SFDCFromJSON(raw []byte) (map[string]any, error) {
	if m, ok := sfdcFromStrictJSON(raw); ok {
		return m, nil
	}
	return sfdcFromJSON(raw)
}

// sfdcFromJSON is SFDCFromJSON with encoding/json, which also reads what
// strict JSON does not allow (a repeated key: the last one counts; invalid
// UTF-8: replaced) and says why a payload cannot be read.
func sfdcFromJSON(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("mapping: the payload is not a JSON object: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("mapping: the payload is null; pass a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("mapping: the payload has data after its JSON object")
	}
	return m, nil
}

// strictMaxDepth bounds the nesting sfdcFromStrictJSON reads; deeper
// payloads take encoding/json's path.
const strictMaxDepth = 1000

// sfdcFromStrictJSON reads raw when it is one JSON object in strict JSON:
// valid UTF-8, no repeated key, no escaped surrogate. For such a document
// it yields exactly what encoding/json does, in a single pass over the
// bytes; ok is false for anything else, which sfdcFromJSON then reads.
func sfdcFromStrictJSON(raw []byte) (m map[string]any, ok bool) {
	r := strictReader{b: raw}
	r.space()
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return nil, false
	}
	v, ok := r.value(0)
	if !ok {
		return nil, false
	}
	r.space()
	if r.i != len(r.b) {
		return nil, false
	}
	return v.(map[string]any), true
}

// strictReader reads JSON values from b at i, as encoding/json decodes
// them into an interface with UseNumber.
type strictReader struct {
	b []byte
	i int
}

func (r *strictReader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *strictReader) value(depth int) (any, bool) {
	r.space()
	if r.i >= len(r.b) {
		return nil, false
	}
	switch c := r.b[r.i]; {
	case c == '{':
		if depth >= strictMaxDepth {
			return nil, false
		}
		r.i++
		m := map[string]any{}
		r.space()
		if r.i < len(r.b) && r.b[r.i] == '}' {
			r.i++
			return m, true
		}
		for {
			r.space()
			if r.i >= len(r.b) || r.b[r.i] != '"' {
				return nil, false
			}
			name, ok := r.text()
			if !ok {
				return nil, false
			}
			if _, dup := m[name]; dup {
				return nil, false
			}
			r.space()
			if r.i >= len(r.b) || r.b[r.i] != ':' {
				return nil, false
			}
			r.i++
			v, ok := r.value(depth + 1)
			if !ok {
				return nil, false
			}
			m[name] = v
			r.space()
			if r.i >= len(r.b) {
				return nil, false
			}
			switch r.b[r.i] {
			case ',':
				r.i++
			case '}':
				r.i++
				return m, true
			default:
				return nil, false
			}
		}
	case c == '[':
		if depth >= strictMaxDepth {
			return nil, false
		}
		r.i++
		list := []any{}
		r.space()
		if r.i < len(r.b) && r.b[r.i] == ']' {
			r.i++
			return list, true
		}
		for {
			v, ok := r.value(depth + 1)
			if !ok {
				return nil, false
			}
			list = append(list, v)
			r.space()
			if r.i >= len(r.b) {
				return nil, false
			}
			switch r.b[r.i] {
			case ',':
				r.i++
			case ']':
				r.i++
				return list, true
			default:
				return nil, false
			}
		}
	case c == '"':
		return r.text()
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number()
	case c == 't':
		return true, r.literal("true")
	case c == 'f':
		return false, r.literal("false")
	case c == 'n':
		return nil, r.literal("null")
	}
	return nil, false
}

func (r *strictReader) literal(word string) bool {
	if !bytes.HasPrefix(r.b[r.i:], []byte(word)) {
		return false
	}
	r.i += len(word)
	return true
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? as its text.
func (r *strictReader) number() (any, bool) {
	start := r.i
	digits := func() int {
		n := 0
		for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	if r.b[r.i] == '-' {
		r.i++
	}
	switch {
	case r.i < len(r.b) && r.b[r.i] == '0':
		r.i++
	case digits() == 0:
		return nil, false
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	return json.Number(r.b[start:r.i]), true
}

// text reads a string at r.i (its opening quote). Invalid UTF-8, control
// characters and escaped surrogates are left to encoding/json.
func (r *strictReader) text() (string, bool) {
	r.i++
	start := r.i
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			s := r.b[start:r.i]
			r.i++
			if !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\':
			return r.escapedText(start)
		case c < 0x20:
			return "", false
		}
		r.i++
	}
	return "", false
}

// hex4 reads the four hex digits of a \u escape at i.
func (r *strictReader) hex4(i int) (rune, bool) {
	if i+4 > len(r.b) {
		return 0, false
	}
	var c rune
	for _, h := range r.b[i : i+4] {
		switch {
		case h >= '0' && h <= '9':
			c = c<<4 | rune(h-'0')
		case h >= 'a' && h <= 'f':
			c = c<<4 | rune(h-'a'+10)
		case h >= 'A' && h <= 'F':
			c = c<<4 | rune(h-'A'+10)
		default:
			return 0, false
		}
	}
	return c, true
}

// escapedText reads the rest of a string that has an escape, from start.
func (r *strictReader) escapedText(start int) (string, bool) {
	out := append([]byte(nil), r.b[start:r.i]...)
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			if !utf8.Valid(out) {
				return "", false
			}
			return string(out), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			r.i++
			continue
		}
		if r.i+1 >= len(r.b) {
			return "", false
		}
		e := r.b[r.i+1]
		r.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			c, ok := r.hex4(r.i)
			if !ok {
				return "", false
			}
			r.i += 4
			if utf16.IsSurrogate(c) {
				// Only a pair makes a character; a lone half is left to
				// encoding/json, which replaces it.
				if r.i+6 > len(r.b) || r.b[r.i] != '\\' || r.b[r.i+1] != 'u' {
					return "", false
				}
				lo, ok := r.hex4(r.i + 2)
				if c = utf16.DecodeRune(c, lo); !ok || c == utf8.RuneError {
					return "", false
				}
				r.i += 6
			}
			out = utf8.AppendRune(out, c)
		default:
			return "", false
		}
	}
	return "", false
}

// phEnv returns the ph map expressions see: every PHFields key present.
func phEnv(ph map[string]string) map[string]any {
	m := make(map[string]any, len(PHFields))
	for _, k := range PHFields {
		m[k] = ph[k]
	}
	return m
}
