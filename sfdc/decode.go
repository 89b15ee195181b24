package sfdc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// DefaultMaxBytes is the default size limit of a payload: 6 MiB, the
// largest request body a synchronous Apex callout can send.
const DefaultMaxBytes = 6 << 20

// Conditions that make a body unreadable. Each DecodeError wraps one of
// them, so callers test with errors.Is.
var (
	ErrTooLarge     = errors.New("payload is larger than the size limit")
	ErrInvalidUTF8  = errors.New("payload is not valid UTF-8")
	ErrInvalidJSON  = errors.New("payload is not valid JSON")
	ErrNotObject    = errors.New("payload is not a JSON object")
	ErrDuplicateKey = errors.New("payload has a duplicate key")
	ErrTrailingData = errors.New("payload has data after the JSON object")
	ErrWrongShape   = errors.New("payload value does not fit the expected type")
	ErrTooManyItems = errors.New("payload has a list longer than the records limit")
)

// DecodeError says why a body could not be decoded and where.
type DecodeError struct {
	Err    error  // one of the Err* conditions above
	Offset int64  // byte offset of the problem, when known (-1 otherwise)
	Path   string // JSON Pointer of the problem, when known
	Detail string // what was found and what to send instead
	// Problems lists every value of the wrong type and every list over the
	// records limit (ErrWrongShape, ErrTooManyItems), the first of which
	// Path and Detail describe; decoding goes on past each. Omitted counts
	// those beyond MaxProblems.
	Problems []Problem
	Omitted  int
}

func (e *DecodeError) Error() string {
	msg := "sfdc: " + e.Err.Error()
	if e.Path != "" {
		msg += " at " + e.Path
	}
	if e.Offset >= 0 {
		msg += fmt.Sprintf(" (byte %d)", e.Offset)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if more := len(e.Problems) + e.Omitted - 1; more > 0 {
		msg += fmt.Sprintf(" (and %d more)", more)
	}
	return msg
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Decoded is a typed payload with the exact bytes it came from.
type Decoded[T any] struct {
	Value T
	// Raw is the body exactly as received, unknown fields included.
	Raw []byte
	// Hash is the hex SHA-256 of Raw. Salesforce serializes a record the
	// same way every time, so a redelivery has the same hash; a document
	// reformatted on the way is a different delivery of the same version.
	Hash string
}

// Option configures Decode.
type Option func(*decodeConfig)

type decodeConfig struct {
	maxBytes   int64
	maxRecords int
	validator  *Validator
}

// DefaultMaxRecords is the default records limit: the most elements one
// list of a payload (a relationship's records, such as the line items) may
// hold.
const DefaultMaxRecords = 5000

// WithMaxBytes sets the size limit (default DefaultMaxBytes).
func WithMaxBytes(n int64) Option {
	return func(c *decodeConfig) { c.maxBytes = n }
}

// WithMaxRecords sets the records limit (default DefaultMaxRecords; 0 or
// less keeps the default). A longer list is a problem with the rule
// RuleMaxRecords, and its elements past the limit are skipped unread, so
// that the list costs no more memory than the limit allows.
func WithMaxRecords(n int) Option {
	return func(c *decodeConfig) {
		if n > 0 {
			c.maxRecords = n
		}
	}
}

// WithValidator sets the Validator DecodeAndValidate applies (default: the
// package's, as Validate uses).
func WithValidator(v *Validator) Option {
	return func(c *decodeConfig) { c.validator = v }
}

func newDecodeConfig(opts []Option) decodeConfig {
	c := decodeConfig{maxBytes: DefaultMaxBytes, maxRecords: DefaultMaxRecords}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// DecodeReader reads at most the size limit from r and decodes it like
// Decode. A longer body fails with ErrTooLarge without being read further.
func DecodeReader[T any](r io.Reader, opts ...Option) (*Decoded[T], error) {
	c := newDecodeConfig(opts)
	data, err := io.ReadAll(io.LimitReader(r, c.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("sfdc: reading payload: %w", err)
	}
	return Decode[T](data, opts...)
}

// Decode checks data strictly and fills a T from it. It fails with a
// *DecodeError when data is over the size limit, is not valid UTF-8, is not
// exactly one JSON object, or repeats a key within an object. A value of
// the wrong JSON type for a field of T (or one the field's type refuses,
// such as a date that is no date) and a list over the records limit fail
// too, with ErrWrongShape or ErrTooManyItems and every such problem in
// DecodeError.Problems: decoding goes on past each. Fields T does not
// declare are ignored (they remain in Raw).
//
// DecodeAndValidate reports those problems with the rules' problems at once.
func Decode[T any](data []byte, opts ...Option) (*Decoded[T], error) {
	d, problems, err := decode[T](data, newDecodeConfig(opts))
	if err != nil {
		return nil, err
	}
	if problems.len() > 0 {
		first := problems.list[0]
		cond := ErrWrongShape
		if first.Rule == RuleMaxRecords {
			cond = ErrTooManyItems
		}
		return nil, &DecodeError{Err: cond, Offset: -1, Path: first.Path, Detail: first.Message,
			Problems: problems.list, Omitted: problems.omitted}
	}
	return d, nil
}

// decode is Decode without the verdict on the problems it found.
func decode[T any](data []byte, c decodeConfig) (*Decoded[T], *problemList, error) {
	if int64(len(data)) > c.maxBytes {
		return nil, nil, &DecodeError{Err: ErrTooLarge, Offset: -1,
			Detail: fmt.Sprintf("the limit is %d bytes; send a smaller deal or raise the limit", c.maxBytes)}
	}
	if k := firstKind(data); k != '{' {
		if err := checkUTF8(data); err != nil {
			return nil, nil, err
		}
		dec := jsontext.NewDecoder(bytes.NewReader(data))
		if _, err := dec.ReadValue(); err != nil {
			return nil, nil, syntaxError(err, dec.InputOffset())
		}
		return nil, nil, &DecodeError{Err: ErrNotObject, Offset: 0,
			Detail: "the body must be one deal object {...}, got " + describeKind(k)}
	}
	// One strict pass fills v: json v2 rejects duplicate member names,
	// invalid UTF-8 and trailing data, and matches names exactly; the
	// shape reader sees each value first and records, instead of failing
	// on, a value of the wrong type.
	var v T
	problems, err := unmarshalWithShape(data, &v, c.maxRecords)
	if err != nil {
		// Rare: classify it. json v2 accepts only valid UTF-8, so a body
		// it read needs no check of its own; a failed one is checked here.
		if err := checkUTF8(data); err != nil {
			return nil, nil, err
		}
		// The structural check names the condition and its place.
		if serr := checkStructure(data); serr != nil {
			return nil, nil, serr
		}
		return nil, nil, shapeError(err)
	}
	sum := sha256.Sum256(data)
	return &Decoded[T]{Value: v, Raw: data, Hash: hex.EncodeToString(sum[:])}, problems, nil
}

// checkUTF8 reports where data stops being UTF-8, if it does.
func checkUTF8(data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	off := int64(0)
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			off = int64(i)
			break
		}
		i += size
	}
	return &DecodeError{Err: ErrInvalidUTF8, Offset: off, Detail: "encode the body as UTF-8"}
}

// firstKind returns the kind of the first JSON token in data.
func firstKind(data []byte) jsontext.Kind {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			return '0'
		}
		return jsontext.Kind(c)
	}
	return 0
}

// checkStructure reads data with jsontext, which rejects duplicate object
// member names and invalid UTF-8, and checks that it is exactly one object.
// Decode calls it to say precisely why a body could not be read.
func checkStructure(data []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	switch k := dec.PeekKind(); k {
	case '{':
	case 0:
		_, err := dec.ReadToken()
		return syntaxError(err, dec.InputOffset())
	default:
		return &DecodeError{Err: ErrNotObject, Offset: 0,
			Detail: "the body must be one deal object {...}, got " + describeKind(k)}
	}
	if _, err := dec.ReadValue(); err != nil {
		return syntaxError(err, dec.InputOffset())
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return &DecodeError{Err: ErrTrailingData, Offset: dec.InputOffset(),
			Detail: "send exactly one JSON object per request"}
	}
	return nil
}

func describeKind(k jsontext.Kind) string {
	switch k {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return k.String()
}

func syntaxError(err error, off int64) error {
	var se *jsontext.SyntacticError
	path := ""
	if errors.As(err, &se) {
		off, path = se.ByteOffset, string(se.JSONPointer)
	}
	switch {
	case errors.Is(err, jsontext.ErrDuplicateName):
		name := path[strings.LastIndexByte(path, '/')+1:]
		return &DecodeError{Err: ErrDuplicateKey, Offset: off, Path: path,
			Detail: fmt.Sprintf("the key %q appears more than once in the same object; send it once", name)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &DecodeError{Err: ErrInvalidJSON, Offset: off, Path: path, Detail: "the body ends before the JSON object is complete"}
	}
	detail := err.Error()
	if se != nil && se.Err != nil {
		detail = se.Err.Error()
	}
	return &DecodeError{Err: ErrInvalidJSON, Offset: off, Path: path, Detail: detail}
}

func shapeError(err error) error {
	var se *jsonv2.SemanticError
	if errors.As(err, &se) {
		de := &DecodeError{Err: ErrWrongShape, Offset: se.ByteOffset, Path: string(se.JSONPointer)}
		switch {
		case se.Err != nil:
			de.Detail = se.Err.Error()
		case se.GoType != nil:
			de.Detail = fmt.Sprintf("got %s, want %s", describeKind(se.JSONKind), jsonKind(se.GoType.Kind().String()))
		default:
			de.Detail = err.Error()
		}
		return de
	}
	return &DecodeError{Err: ErrWrongShape, Offset: -1, Detail: err.Error()}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "struct", "map", "ptr":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "true or false"
	default:
		return "a number"
	}
}
