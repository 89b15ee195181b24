package salesforce

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// maxDepth bounds the walk over nested types, so a type that refers to
// itself ends in an error instead of a stack overflow.
const maxDepth = 16

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// RequiredPaths lists every JSON field that decoding into t can fill, as the
// paths a SOQL query must select: nested objects (a *Account) add their
// fields under their key, relationship lists (a struct with "totalSize" and
// a "records" slice, such as sfdc.Records[T]) add the fields of T under
// theirs, "attributes" objects are skipped, and a type with its own
// UnmarshalJSON (a date, a decimal) is one field. The result is sorted.
func RequiredPaths(t reflect.Type) ([]FieldPath, error) {
	var out []FieldPath
	if err := walk(t, nil, &out, 0); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out, nil
}

func walk(t reflect.Type, prefix FieldPath, out *[]FieldPath, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("salesforce: %s nests more than %d levels; does a type refer to itself?", prefix, maxDepth)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return fmt.Errorf("salesforce: %v at %q is not a struct", t, prefix.String())
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			if err := walk(f.Type, prefix, out, depth+1); err != nil {
				return err
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.EqualFold(name, "attributes") {
			continue
		}
		path := append(append(FieldPath(nil), prefix...), name)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if elem, ok := relationshipElem(ft); ok {
			if err := walk(elem, path, out, depth+1); err != nil {
				return err
			}
			continue
		}
		if isScalar(ft) {
			*out = append(*out, path)
			continue
		}
		if ft.Kind() == reflect.Struct {
			if err := walk(ft, path, out, depth+1); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("salesforce: field %s has type %v, which no SOQL field maps to (a list must be a relationship with totalSize and records)", path, f.Type)
	}
	return nil
}

// relationshipElem recognizes a relationship list by its JSON shape: a
// struct with a "totalSize" field and a "records" slice. It returns the
// element type of the slice.
func relationshipElem(t reflect.Type) (reflect.Type, bool) {
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	var elem reflect.Type
	hasTotal := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "records":
			if f.Type.Kind() == reflect.Slice {
				elem = f.Type.Elem()
			}
		case "totalSize":
			hasTotal = true
		}
	}
	return elem, elem != nil && hasTotal
}

// isScalar reports whether values of t are one JSON value: basic kinds and
// types that decode themselves.
func isScalar(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	pt := reflect.PointerTo(t)
	return t.Implements(jsonUnmarshaler) || pt.Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || pt.Implements(textUnmarshaler)
}

// Missing returns the paths of RequiredPaths(t) that q does not select,
// compared case-insensitively, sorted. An empty result means the query
// reads everything t can hold.
func Missing(q *Query, t reflect.Type) ([]FieldPath, error) {
	required, err := RequiredPaths(t)
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool)
	for _, p := range q.Paths() {
		have[p.key()] = true
	}
	var missing []FieldPath
	for _, p := range required {
		if !have[p.key()] {
			missing = append(missing, p)
		}
	}
	return missing, nil
}
