package sfdc

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"

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
	// short interns the short strings of one payload, which repeat (the
	// attributes' types, roles, product families), as json v2 does for
	// the strings it reads itself.
	short map[string]string
	// opts holds the reader's functions. json v2 caches its choice of
	// function per Go type within one Unmarshalers value, so a reader
	// keeps its own and is reused (shapeReaders) instead of built anew
	// for every payload.
	opts jsonv2.Options
}

// shapeReaders keeps shape readers for reuse.
var shapeReaders = sync.Pool{New: func() any {
	s := &shapeReader{}
	s.opts = jsonv2.WithUnmarshalers(s.unmarshalers())
	return s
}}

// unmarshalWithShape fills v from data as jsonv2.Unmarshal does, through a
// shape reader with the records limit maxRecords, and returns the problems
// the reader found.
func unmarshalWithShape(data []byte, v any, maxRecords int) (*problemList, error) {
	s := shapeReaders.Get().(*shapeReader)
	s.maxRecords = maxRecords
	err := jsonv2.Unmarshal(data, v, s.opts)
	problems := s.problems
	s.problems = problemList{}
	clear(s.short)
	shapeReaders.Put(s)
	return &problems, err
}

// unmarshalers returns the functions json v2 calls for s: those for the
// common leaf types read the value themselves, so that json v2 goes on to
// read (the costlier general function, which json v2 hands each value as
// an interface) only for the others.
func (s *shapeReader) unmarshalers() *jsonv2.Unmarshalers {
	return jsonv2.JoinUnmarshalers(
		jsonv2.UnmarshalFromFunc(s.readString),
		jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, d *Date) error { return s.readWith(dec, d) }),
		jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, d *DateTime) error { return s.readWith(dec, d) }),
		jsonv2.UnmarshalFromFunc(func(dec *jsontext.Decoder, d *Decimal) error { return s.readWith(dec, d) }),
		jsonv2.UnmarshalFromFunc(s.readBool),
		jsonv2.UnmarshalFromFunc(s.read),
	)
}

// Bounds of the strings a shape reader interns.
const (
	shortLen   = 24
	shortCount = 256
)

// readString reads a string or null into p.
func (s *shapeReader) readString(dec *jsontext.Decoder, p *string) error {
	switch k := dec.PeekKind(); k {
	case 'n':
		*p = ""
		_, err := dec.ReadToken()
		return err
	case '"':
		raw, err := dec.ReadValue()
		if err != nil {
			return err
		}
		if bytes.IndexByte(raw, '\\') >= 0 {
			text, err := jsontext.AppendUnquote(nil, raw)
			if err != nil {
				return err
			}
			*p = string(text)
			return nil
		}
		text := raw[1 : len(raw)-1]
		if len(text) > shortLen {
			*p = string(text)
			return nil
		}
		if v, ok := s.short[string(text)]; ok {
			*p = v
			return nil
		}
		*p = string(text)
		if s.short == nil {
			s.short = make(map[string]string)
		}
		if len(s.short) < shortCount {
			s.short[*p] = *p
		}
		return nil
	default:
		return s.wrongType(dec, k, "a string")
	}
}

// readBool reads true, false or null into p.
func (s *shapeReader) readBool(dec *jsontext.Decoder, p *bool) error {
	switch k := dec.PeekKind(); k {
	case 't', 'f', 'n':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		*p = k == 't' && tok.Bool()
		return nil
	default:
		return s.wrongType(dec, k, "true or false")
	}
}

// read is called for every other value that decodes into a Go value. It
// returns jsonv2.SkipFunc to let json v2 decode a value of the right kind
// itself.
func (s *shapeReader) read(dec *jsontext.Decoder, v any) error {
	k := dec.PeekKind()
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
			s.add(dec, RuleType, "is not accepted: "+problemText(err))
		}
		return nil
	}
	t := rv.Type().Elem()
	if t.Kind() == reflect.Pointer {
		// A pointer field: json v2 allocates the value and then asks for
		// it. A value of the wrong kind is refused here, before that, so
		// that the field stays nil as if the value had been absent.
		base := t
		for base.Kind() == reflect.Pointer {
			base = base.Elem()
		}
		if want := kindWanted(base); want != "" && !kindFits(k, base) {
			return s.wrongType(dec, k, want)
		}
		return jsonv2.SkipFunc
	}
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

// kindWanted names the JSON kind a value of type t is read from, or ""
// when t reads its own input (a method) or takes any kind.
func kindWanted(t reflect.Type) string {
	p := reflect.PointerTo(t)
	for _, m := range []reflect.Type{
		reflect.TypeFor[jsonv2.UnmarshalerFrom](), reflect.TypeFor[json.Unmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler](),
	} {
		if p.Implements(m) {
			return ""
		}
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return "a string"
		}
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	}
	return ""
}

// kindFits reports whether a JSON value of kind k can fill a t for which
// kindWanted names a kind.
func kindFits(k jsontext.Kind, t reflect.Type) bool {
	switch kindWanted(t) {
	case "an object":
		return k == '{'
	case "an array":
		return k == '['
	case "a string":
		return k == '"'
	case "true or false":
		return k == 't' || k == 'f'
	case "a number":
		return k == '0'
	}
	return true
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
