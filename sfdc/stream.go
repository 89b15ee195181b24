package sfdc

import (
	"fmt"

	"github.com/go-json-experiment/json/jsontext"
)

// Decode reads payloads with json v2, which calls these methods with the
// decoder itself: a date, datetime or number is read as one token, without
// copying the value out and decoding it a second time as UnmarshalJSON must.
// Each accepts and rejects exactly what its UnmarshalJSON does.

// UnmarshalJSONFrom reads "YYYY-MM-DD" or null.
func (d *Date) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	s, null, err := readStringOrNull(dec, `a date must be a string such as "2026-11-27"`)
	if err != nil || null {
		*d = Date{}
		return err
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalJSONFrom reads Salesforce's layout, RFC 3339 or null.
func (d *DateTime) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	s, null, err := readStringOrNull(dec, `a datetime must be a string such as "2026-11-27T10:00:00.000+0000"`)
	if err != nil || null {
		*d = DateTime{}
		return err
	}
	v, err := ParseDateTime(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalJSONFrom reads a number, a string holding a number, or null.
func (d *Decimal) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	var s string
	switch dec.PeekKind() {
	case 'n', '"':
		var null bool
		var err error
		if s, null, err = readStringOrNull(dec, ""); err != nil || null {
			*d = Decimal{}
			return err
		}
	default:
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		s = string(v)
	}
	v, err := ParseDecimal(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// readStringOrNull reads one value that must be a string or null; any
// other value is read whole and rejected with want.
func readStringOrNull(dec *jsontext.Decoder, want string) (s string, null bool, err error) {
	switch dec.PeekKind() {
	case 'n':
		_, err := dec.ReadToken()
		return "", true, err
	case '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return "", false, err
		}
		return tok.String(), false, nil
	}
	v, err := dec.ReadValue()
	if err != nil {
		return "", false, err
	}
	if want == "" {
		return string(v), false, nil
	}
	return "", false, fmt.Errorf("sfdc: %s, got %s", want, v)
}
