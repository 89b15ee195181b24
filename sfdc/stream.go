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
	return readStringInto(dec, d, `a date must be a string such as "2026-11-27"`, ParseDate)
}

// UnmarshalJSONFrom reads Salesforce's layout, RFC 3339 or null.
func (d *DateTime) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	return readStringInto(dec, d, `a datetime must be a string such as "2026-11-27T10:00:00.000+0000"`, ParseDateTime)
}

// UnmarshalJSONFrom reads a number, a string holding a number, or null.
func (d *Decimal) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch k := dec.PeekKind(); k {
	case 'n', '"':
		return readStringInto(dec, d, "", ParseDecimal)
	case '{', '[', 't', 'f':
		if err := dec.SkipValue(); err != nil {
			return err
		}
		return fmt.Errorf("sfdc: a number must be a JSON number or a string holding one, got %s", describeKind(k))
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	p, err := ParseDecimal(string(v))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// readStringInto reads one value that must be a string or null into dst:
// null as the zero value, a string through parse. Any other value is read
// whole and rejected with want.
func readStringInto[T any](dec *jsontext.Decoder, dst *T, want string, parse func(string) (T, error)) error {
	switch dec.PeekKind() {
	case 'n':
		var zero T
		*dst = zero
		_, err := dec.ReadToken()
		return err
	case '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		v, err := parse(tok.String())
		if err != nil {
			return err
		}
		*dst = v
		return nil
	}
	k := dec.PeekKind()
	if err := dec.SkipValue(); err != nil {
		return err
	}
	return fmt.Errorf("sfdc: %s, got %s", want, describeKind(k))
}
