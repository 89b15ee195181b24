package mapping

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/expr-lang/expr/checker/nature"
	"github.com/expr-lang/expr/types"
	yamlast "github.com/goccy/go-yaml/ast"

	"github.com/bookbridge/bookbridge/sfdc"
)

// sfObject is a Salesforce object as rules see it under sfdc: its fields by
// API name (the json names of sfdc.Opportunity and the types it holds).
// Expressions read the raw payload, so the tree only decides which paths
// compile; it does not change what a path yields.
type sfObject struct {
	fields map[string]*sfField
}

// sfField is one field of an sfObject: a leaf (text, number, date, ...), an
// object, or a list of objects (the records of a child relationship).
type sfField struct {
	obj  *sfObject // nil for a leaf
	list bool      // obj describes each element of a list
}

// customTypes are the types a custom_fields entry may name. They document
// what the field holds; like every leaf of the payload, its value reaches
// expressions as decoded JSON (text, json.Number, true/false) or nil when
// the payload lacks it, so only the path is checked.
var customTypes = []string{"string", "number", "date", "datetime", "bool", "any"}

// sfNameRE is what a Salesforce API name looks like.
var sfNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// opportunityObject is the tree of sfdc.Opportunity, built once.
var opportunityObject = sync.OnceValue(func() *sfObject {
	return objectOf(reflect.TypeFor[sfdc.Opportunity]())
})

// objectOf describes a payload struct by its json names. Types that decode
// themselves (dates, decimals) are leaves, like strings and numbers.
func objectOf(t reflect.Type) *sfObject {
	o := &sfObject{fields: map[string]*sfField{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		o.fields[name] = fieldOf(f.Type)
	}
	return o
}

func fieldOf(t reflect.Type) *sfField {
	list := false
	if t.Kind() == reflect.Slice {
		list, t = true, t.Elem()
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return &sfField{}
	}
	return &sfField{obj: objectOf(t), list: list}
}

// clone copies o deeply, so that custom fields extend a copy.
func (o *sfObject) clone() *sfObject {
	c := &sfObject{fields: make(map[string]*sfField, len(o.fields))}
	for k, f := range o.fields {
		cf := *f
		if f.obj != nil {
			cf.obj = f.obj.clone()
		}
		c.fields[k] = &cf
	}
	return c
}

// records returns the element object of a child relationship (an object
// in Salesforce's {"totalSize", "done", "records": [...]} shape), or nil.
func (o *sfObject) records() *sfObject {
	if r := o.fields["records"]; r != nil && r.list && r.obj != nil {
		return r.obj
	}
	return nil
}

// exprType is the type the expression checker sees for o: a map whose
// keys are exactly o's fields, so that a misspelt path is a compile error.
func (o *sfObject) exprType() types.Map {
	m := make(types.Map, len(o.fields))
	for k, f := range o.fields {
		switch {
		case f.obj == nil:
			m[k] = types.Any
		case f.list:
			m[k] = types.Array(f.obj.exprType())
		default:
			m[k] = f.obj.exprType()
		}
	}
	return m
}

// names adds every field name of o and the objects below it to seen.
func (o *sfObject) names(seen map[string]bool) {
	for k, f := range o.fields {
		seen[k] = true
		if f.obj != nil {
			f.obj.names(seen)
		}
	}
}

// compileCustomFields reads the custom_fields section: Salesforce fields an
// org sends beyond sfdc.Opportunity. A name maps to a type (a leaf) or to a
// mapping of fields: under a known object (Account) they extend it, under a
// child relationship (OpportunityLineItems, Adobe_Sales_Team__r) they extend
// each of its records, under a new name they declare a new object.
func (c *compiler) compileCustomFields(e entry, present bool) {
	base := opportunityObject()
	if present {
		base = base.clone()
		c.addCustomFields(base, c.mapping(e.value, "custom_fields"), "sfdc")
	}
	c.sfdcObj = base
	c.sfdcType = base.exprType()
	seen := map[string]bool{}
	base.names(seen)
	c.sfdcNames = make([]string, 0, len(seen))
	for k := range seen {
		c.sfdcNames = append(c.sfdcNames, k)
	}
	sort.Strings(c.sfdcNames)
}

func (c *compiler) addCustomFields(o *sfObject, entries []entry, path string) {
	for _, e := range entries {
		at := path + "." + e.key
		if !sfNameRE.MatchString(e.key) {
			c.problem(e.pos, "custom_fields: %q is not a Salesforce API name (letters, digits and _, starting with a letter)", e.key)
			continue
		}
		have := o.fields[e.key]
		switch v := c.unwrap(e.value).(type) {
		case *yamlast.MappingNode, *yamlast.MappingValueNode:
			if have == nil {
				have = &sfField{obj: &sfObject{fields: map[string]*sfField{}}}
				o.fields[e.key] = have
			} else if have.obj == nil {
				c.problem(e.pos, "custom_fields: %s is a field of the payload, not an object; give it a type (%s)", at, strings.Join(customTypes, ", "))
				continue
			}
			target := have.obj
			if r := target.records(); r != nil && !have.list {
				// A child relationship: the fields are those of each record.
				target, at = r, at+".records"
			}
			c.addCustomFields(target, c.mapping(v, "custom_fields "+at), at)
		default:
			typ, ok := c.text(v, "custom_fields "+at)
			if !ok {
				c.problem(e.pos, "custom_fields: %s has no type; give one of %s", at, strings.Join(customTypes, ", "))
				continue
			}
			if !contains(customTypes, typ) {
				msg := fmt.Sprintf("custom_fields: %s: unknown type %q", at, typ)
				if s := closest(typ, customTypes); s != "" {
					msg += fmt.Sprintf("; did you mean %s?", s)
				} else {
					msg += "; use one of " + strings.Join(customTypes, ", ")
				}
				c.problem(nodePos(v), "%s", msg)
				continue
			}
			if have != nil && have.obj != nil {
				c.problem(e.pos, "custom_fields: %s is an object of the payload; declare its extra fields as a mapping under it (%s: {Field__c: string})", at, e.key)
				continue
			}
			if have == nil {
				o.fields[e.key] = &sfField{}
			}
		}
	}
}

// natureType lets an expression's checked type, with the fields of the
// payload objects it carries, be the type of a var or of item: a var
// holding sfdc.OpportunityLineItems?.records keeps its elements' fields.
type natureType struct{ n nature.Nature }

func (t natureType) Nature() nature.Nature { return t.n }

func (t natureType) Equal(o types.Type) bool {
	if o == types.Any {
		return true
	}
	ot, ok := o.(natureType)
	return ok && ot.n.String() == t.n.String()
}

func (t natureType) String() string { return t.n.String() }

// hasFields reports whether n is, or is a list of, a map with known keys.
func hasFields(n *nature.Nature) bool {
	for n != nil {
		switch n.Kind {
		case reflect.Map:
			return n.Strict && n.TypeData != nil && n.Fields != nil
		case reflect.Slice, reflect.Array:
			n = n.Ref
		default:
			return false
		}
	}
	return false
}

// typeOf is the type other expressions see for p's result: its checked
// nature when that carries payload fields, otherwise as typeFor.
func typeOf(p *program) types.Type {
	if p == nil {
		return types.Any
	}
	if n := p.prog.Node().Nature(); hasFields(n) {
		return natureType{*n}
	}
	return typeFor(p.typ)
}

// itemType is the type of item in a foreach step over p's list.
func itemType(p *program) types.Type {
	if p == nil {
		return types.Any
	}
	if n := p.prog.Node().Nature(); n.Kind == reflect.Slice || n.Kind == reflect.Array {
		if hasFields(n.Ref) {
			return natureType{*n.Ref}
		}
	}
	return elemType(p.typ)
}

// pathRE matches the member path that ends an expression's text, such as
// sfdc.OpportunityLineItems?.records[0] or item.
var pathRE = regexp.MustCompile(`(?:^|[^\w.?\]])([A-Za-z_]\w*)((?:\??\.[A-Za-z_]\w*|\[[^\[\]]*\])*)$`)

var segmentRE = regexp.MustCompile(`\??\.([A-Za-z_]\w*)|\[[^\[\]]*\]`)

// fieldsAt returns the known keys of the map that the path ending before
// (text ending just before a member name) reads, and the path's first
// name; ok is false when the path cannot be followed through sc's types.
func (c *compiler) fieldsAt(before string, sc *scope) (keys []string, root string, ok bool) {
	m := pathRE.FindStringSubmatch(before)
	if m == nil {
		return nil, "", false
	}
	root = m[1]
	var t types.Type
	if sc != nil {
		t = c.env(sc)[root]
	}
	if t == nil {
		return nil, root, false
	}
	n := t.Nature()
	for _, seg := range segmentRE.FindAllStringSubmatch(m[2], -1) {
		switch {
		case seg[1] == "" && (n.Kind == reflect.Slice || n.Kind == reflect.Array) && n.Ref != nil:
			n = *n.Ref
		case seg[1] != "" && n.Kind == reflect.Map && n.TypeData != nil && n.Fields != nil:
			f, found := n.Fields[seg[1]]
			if !found {
				return nil, root, false
			}
			n = f
		default:
			return nil, root, false
		}
	}
	if n.Kind != reflect.Map || !n.Strict || n.TypeData == nil {
		return nil, root, false
	}
	for k := range n.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, root, true
}

// writeTo writes o's tree in a canonical form, for fingerprints.
func (o *sfObject) writeTo(b *strings.Builder) {
	keys := make([]string, 0, len(o.fields))
	for k := range o.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteByte('{')
	for _, k := range keys {
		f := o.fields[k]
		fmt.Fprintf(b, "%d:%s", len(k), k)
		switch {
		case f.obj == nil:
			b.WriteByte('.')
		case f.list:
			b.WriteByte('[')
			f.obj.writeTo(b)
		default:
			f.obj.writeTo(b)
		}
	}
	b.WriteByte('}')
}
