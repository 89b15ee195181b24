package sfdc

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Rules of the problems that Decode itself finds, beside the validator's.
const (
	// RuleType: a value of the wrong JSON type, or one its field cannot
	// hold (a date that is no date, a number out of range).
	RuleType = "type"
	// RuleMaxRecords: a list longer than the records limit.
	RuleMaxRecords = "max_records"
	// RuleControlChar: a string holding a C0 control character other than
	// tab, CR and LF.
	RuleControlChar = "control_char"
)

// shapeReader is the caller-side unmarshaler Decode hands json v2. It sees
// every value before json v2 stores it: a value of the wrong type is
// recorded as a problem and skipped, so that decoding goes on and finds the
// next one; a list longer than the records limit is counted but not kept.
type shapeReader struct {
	maxRecords int
	problems   problemList
}

// read is called for every value that decodes into a Go value. It returns
// jsonv2.SkipFunc to let json v2 decode a value of the right kind itself.
func (s *shapeReader) read(dec *jsontext.Decoder, v any) error {
	k := dec.PeekKind()
	switch p := v.(type) {
	case *string:
		if k == '"' || k == 'n' {
			return jsonv2.SkipFunc
		}
		return s.wrongType(dec, k, "a string")
	case *Date:
		return s.readWith(dec, p)
	case *DateTime:
		return s.readWith(dec, p)
	case *Decimal:
		return s.readWith(dec, p)
	case *bool:
		if k == 't' || k == 'f' || k == 'n' {
			return jsonv2.SkipFunc
		}
		return s.wrongType(dec, k, "true or false")
	}
	if k == 'n' {
		return jsonv2.SkipFunc // null leaves every Go value as zero
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return jsonv2.SkipFunc
	}
	if u, ok := v.(jsonv2.UnmarshalerFrom); ok {
		return s.readWith(dec, u)
	}
	if _, ok := v.(json.Unmarshaler); ok {
		return jsonv2.SkipFunc // a v1 method checks its own input
	}
	if u, ok := v.(encoding.TextUnmarshaler); ok {
		if k != '"' {
			return s.wrongType(dec, k, "a string")
		}
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if err := u.UnmarshalText([]byte(tok.String())); err != nil {
			s.add(dec, RuleType, "is not accepted: "+err.Error())
		}
		return nil
	}
	t := rv.Type().Elem()
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		if k != '{' {
			return s.wrongType(dec, k, "an object")
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 { // []byte: base64 text
			if k != '"' {
				return s.wrongType(dec, k, "a string")
			}
			return jsonv2.SkipFunc
		}
		if k != '[' {
			return s.wrongType(dec, k, "an array")
		}
		return s.readList(dec, rv.Elem())
	case reflect.Array:
		if k != '[' {
			return s.wrongType(dec, k, "an array")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return s.readNumber(dec, k, func(text string) error {
			n, err := strconv.ParseInt(text, 10, t.Bits())
			if err == nil {
				rv.Elem().SetInt(n)
			}
			return err
		}, "a whole number")
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return s.readNumber(dec, k, func(text string) error {
			n, err := strconv.ParseUint(text, 10, t.Bits())
			if err == nil {
				rv.Elem().SetUint(n)
			}
			return err
		}, "a whole number of 0 or more")
	case reflect.Float32, reflect.Float64:
		return s.readNumber(dec, k, func(text string) error {
			f, err := strconv.ParseFloat(text, t.Bits())
			if err == nil {
				rv.Elem().SetFloat(f)
			}
			return err
		}, "a number")
	}
	return jsonv2.SkipFunc
}

// readWith lets a type's own UnmarshalJSONFrom read the value; when it
// refuses a value it has read whole, the refusal is recorded as a problem
// and decoding goes on.
func (s *shapeReader) readWith(dec *jsontext.Decoder, u jsonv2.UnmarshalerFrom) error {
	depth := dec.StackDepth()
	_, before := dec.StackIndex(depth)
	err := u.UnmarshalJSONFrom(dec)
	if err == nil || isReadError(err) {
		return err
	}
	if _, after := dec.StackIndex(dec.StackDepth()); dec.StackDepth() != depth || after != before+1 {
		return err // the method stopped inside the value: nothing to go on from
	}
	s.addAt(pointerOfLast(dec), RuleType, problemText(err))
	return nil
}

// readNumber reads a JSON number into a Go integer or float through set,
// recording a value of another kind, or out of the Go type's range, as a
// problem.
func (s *shapeReader) readNumber(dec *jsontext.Decoder, k jsontext.Kind, set func(string) error, want string) error {
	if k != '0' {
		return s.wrongType(dec, k, want)
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if err := set(string(v)); err != nil {
		s.addAt(pointerOfLast(dec), RuleType, "must be "+want+" in range; got "+clip(string(v)))
	}
	return nil
}

// readList reads a JSON array into the slice sl element by element. Once
// it holds maxRecords elements the rest are only counted; a longer list is
// recorded as a problem and left empty, so that its size never costs more
// than maxRecords elements.
func (s *shapeReader) readList(dec *jsontext.Decoder, sl reflect.Value) error {
	if s.maxRecords <= 0 {
		return jsonv2.SkipFunc
	}
	if _, err := dec.ReadToken(); err != nil { // [
		return err
	}
	list := sl.Slice(0, 0)
	n := 0
	for dec.PeekKind() != ']' {
		if n < s.maxRecords {
			list = reflect.Append(list, reflect.Zero(list.Type().Elem()))
			if err := jsonv2.UnmarshalDecode(dec, list.Index(n).Addr().Interface()); err != nil {
				return err
			}
		} else if err := dec.SkipValue(); err != nil {
			return err
		}
		n++
	}
	if _, err := dec.ReadToken(); err != nil { // ]
		return err
	}
	if n > s.maxRecords {
		sl.Set(reflect.Zero(sl.Type()))
		s.addAt(pointerOfLast(dec), RuleMaxRecords,
			fmt.Sprintf("holds %d records; at most %d are accepted: send fewer", n, s.maxRecords))
		return nil
	}
	sl.Set(list)
	return nil
}

// wrongType records a value of kind k where want belongs and skips it.
func (s *shapeReader) wrongType(dec *jsontext.Decoder, k jsontext.Kind, want string) error {
	if err := dec.SkipValue(); err != nil {
		return err
	}
	s.addAt(pointerOfLast(dec), RuleType, "must be "+want+"; got "+describeKind(k))
	return nil
}

func (s *shapeReader) add(dec *jsontext.Decoder, rule, msg string) {
	s.addAt(pointerOfLast(dec), rule, msg)
}

func (s *shapeReader) addAt(path, rule, msg string) {
	s.problems.add(Problem{Path: path, Rule: rule, Message: msg})
}

// pointerOfLast is the JSON Pointer of the value dec has just read.
func pointerOfLast(dec *jsontext.Decoder) string {
	return string(dec.StackPointer())
}

// isReadError reports whether err is the input's (malformed JSON, invalid
// UTF-8, a duplicate name) or the reader's, which end decoding, rather
// than a value's refusal by its type.
func isReadError(err error) bool {
	var se *jsontext.SyntacticError
	return errors.As(err, &se) || errors.Is(err, jsontext.ErrDuplicateName)
}

// problemText is the message of a type's refusal, without the package
// prefix of sfdc's own errors.
func problemText(err error) string {
	msg := err.Error()
	if len(msg) > 6 && msg[:6] == "sfdc: " {
		msg = msg[6:]
	}
	return clip(msg)
}
