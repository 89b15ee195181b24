package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
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

// sfdcFromStrictJSON reads raw with jsontext when it is one JSON object in
// strict JSON (valid UTF-8, no repeated key). For such a document it
// yields exactly what encoding/json does, in a single pass over the bytes;
// ok is false for anything else, which sfdcFromJSON then reads.
func sfdcFromStrictJSON(raw []byte) (m map[string]any, ok bool) {
	sd := strictDecoders.Get().(*strictDecoder)
	defer sd.release()
	sd.buf = *bytes.NewBuffer(raw)
	dec := &sd.dec
	dec.Reset(&sd.buf, jsontext.AllowDuplicateNames(true))
	if dec.PeekKind() != '{' {
		return nil, false
	}
	v, ok := sd.read(0)
	if !ok {
		return nil, false
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, false
	}
	return v.(map[string]any), true
}

// strictDecoder is what sfdcFromStrictJSON reads one payload with; the
// decoders are kept in strictDecoders, so that each payload does not
// allocate a decoder of its own.
type strictDecoder struct {
	buf   bytes.Buffer
	dec   jsontext.Decoder
	names map[string]string // payloadNames
	// texts holds the short texts of the payload being read, each as one
	// value to share: a payload repeats its dates, currency and record
	// types on every line item.
	texts map[string]any
}

// maxSharedText is the longest text that texts holds.
const maxSharedText = 32

// text returns the text of raw, a JSON string: the one value already made
// for the same short text of this payload, if any.
func (sd *strictDecoder) text(raw jsontext.Value) (any, bool) {
	b := raw[1 : len(raw)-1]
	if bytes.IndexByte(b, '\\') >= 0 {
		u, err := jsontext.AppendUnquote(nil, raw)
		if err != nil {
			return nil, false
		}
		return string(u), true
	}
	if len(b) > maxSharedText {
		return string(b), true
	}
	if v, ok := sd.texts[string(b)]; ok {
		return v, true
	}
	s := string(b)
	v := any(s)
	sd.texts[s] = v
	return v, true
}

var strictDecoders = sync.Pool{New: func() any {
	return &strictDecoder{dec: *jsontext.NewDecoder(bytes.NewBuffer(nil)), names: payloadNames(), texts: map[string]any{}}
}}

// release lets go of the payload read and gives sd back to the pool.
func (sd *strictDecoder) release() {
	sd.buf = bytes.Buffer{}
	sd.dec.Reset(&sd.buf)
	clear(sd.texts)
	strictDecoders.Put(sd)
}

// read reads one JSON value as encoding/json decodes it into an interface
// with UseNumber. The decoder lets a name repeat (checking names costs
// the decoder a set of its own per object); read tells a repeated name by
// the map not growing and then gives up.
func (sd *strictDecoder) read(depth int) (any, bool) {
	dec := &sd.dec
	switch dec.PeekKind() {
	case '{':
		if depth >= strictMaxDepth {
			return nil, false
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, false
		}
		m := map[string]any{}
		for dec.PeekKind() == '"' {
			// A raw value is valid only until the next read.
			raw, err := dec.ReadValue()
			if err != nil {
				return nil, false
			}
			name, ok := nameOf(raw, sd.names)
			if !ok {
				return nil, false
			}
			v, ok := sd.read(depth + 1)
			if !ok {
				return nil, false
			}
			n := len(m)
			if m[name] = v; len(m) == n {
				return nil, false // a repeated name
			}
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, false
		}
		return m, true
	case '[':
		if depth >= strictMaxDepth {
			return nil, false
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, false
		}
		list := []any{}
		for k := dec.PeekKind(); k != ']'; k = dec.PeekKind() {
			if k == 0 {
				return nil, false
			}
			v, ok := sd.read(depth + 1)
			if !ok {
				return nil, false
			}
			list = append(list, v)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, false
		}
		return list, true
	case '"':
		raw, err := dec.ReadValue()
		if err != nil {
			return nil, false
		}
		return sd.text(raw)
	case '0':
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, false
		}
		return json.Number(tok.String()), true
	case 't', 'f':
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, false
		}
		return tok.Bool(), true
	case 'n':
		if _, err := dec.ReadToken(); err != nil {
			return nil, false
		}
		return nil, true
	}
	return nil, false
}

// nameOf returns the member name raw (a JSON string) stands for; the
// field names of the payload type (names, see payloadNames) are shared
// strings, so that the same names of every record and line item are not
// allocated again.
func nameOf(raw jsontext.Value, names map[string]string) (string, bool) {
	if len(raw) < 2 {
		return "", false
	}
	if b := raw[1 : len(raw)-1]; bytes.IndexByte(b, '\\') < 0 {
		if s, ok := names[string(b)]; ok {
			return s, true
		}
		return string(b), true
	}
	b, err := jsontext.AppendUnquote(nil, raw)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// payloadNames are the json names of sfdc.Opportunity and the objects it
// holds, with Salesforce's record envelope names.
var payloadNames = sync.OnceValue(func() map[string]string {
	names := map[string]string{}
	for _, n := range []string{"attributes", "type", "url", "totalSize", "done", "records"} {
		names[n] = n
	}
	var walk func(o *sfObject)
	walk = func(o *sfObject) {
		for name, f := range o.fields {
			names[name] = name
			if f.obj != nil {
				walk(f.obj)
			}
		}
	}
	walk(opportunityObject())
	return names
})

// fillPH fills m with the ph map expressions see: every PHFields key
// present.
func fillPH(m map[string]any, ph map[string]string) {
	for _, k := range PHFields {
		m[k] = ph[k]
	}
}
