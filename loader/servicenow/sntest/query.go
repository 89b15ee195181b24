package sntest

import (
	"fmt"
	"strings"
)

// query is a parsed encoded query: groups joined by ^NQ (any group may
// match), each a list of terms that must all hold, each term a list of
// conditions joined by ^OR (any may hold).
type query struct {
	groups [][][]cond
	// invalid: a condition was dropped (unknown field or operator).
	invalid    bool
	violations []string
}

type cond struct {
	field, op string
	values    []string
}

// operators the double knows, longest first so that "NOT IN" wins over
// "IN" and "!=" over "=".
var operators = []string{"ISNOTEMPTY", "ISEMPTY", "NOT IN", "STARTSWITH", "ENDSWITH", "NOTLIKE", "LIKE", "IN", "!=", "="}

// parseQuery parses an encoded query against the fields of a table.
// Conditions on unknown fields or with unknown operators are dropped, as
// ServiceNow does by default.
func parseQuery(s string, fields map[string]bool) query {
	var q query
	if s == "" {
		return q
	}
	for _, g := range strings.Split(s, "^NQ") {
		var terms [][]cond
		for _, part := range strings.Split(g, "^") {
			if part == "" || part == "EQ" || strings.HasPrefix(part, "ORDERBY") {
				continue
			}
			or := false
			if rest, ok := strings.CutPrefix(part, "OR"); ok {
				or, part = true, rest
			}
			c, ok := parseCond(part)
			if ok && !fields[c.field] {
				ok = false
			}
			if !ok {
				q.invalid = true
				continue
			}
			for _, v := range c.values {
				if strings.HasPrefix(strings.ToLower(v), "javascript:") {
					q.violations = append(q.violations, fmt.Sprintf("query value %q would run as a script on ServiceNow", v))
				}
			}
			if or && len(terms) > 0 {
				terms[len(terms)-1] = append(terms[len(terms)-1], c)
			} else {
				terms = append(terms, []cond{c})
			}
		}
		q.groups = append(q.groups, terms)
	}
	return q
}

func parseCond(s string) (cond, bool) {
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9' || s[i] == '_' || s[i] == '.') {
		i++
	}
	field, rest := s[:i], s[i:]
	if field == "" {
		return cond{}, false
	}
	for _, op := range operators {
		v, ok := strings.CutPrefix(rest, op)
		if !ok {
			continue
		}
		c := cond{field: field, op: op}
		switch op {
		case "ISEMPTY", "ISNOTEMPTY":
			if v != "" {
				return cond{}, false
			}
		case "IN", "NOT IN":
			c.values = strings.Split(v, ",")
		default:
			c.values = []string{v}
		}
		return c, true
	}
	return cond{}, false
}

func (q query) matches(rec map[string]string, fold bool) bool {
	if len(q.groups) == 0 {
		return true
	}
	for _, g := range q.groups {
		ok := true
		for _, term := range g {
			any := false
			for _, c := range term {
				if c.holds(rec[c.field], fold) {
					any = true
					break
				}
			}
			if !any {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (c cond) holds(v string, fold bool) bool {
	eq := func(a, b string) bool {
		if fold {
			return strings.EqualFold(a, b)
		}
		return a == b
	}
	lower := func(s string) string {
		if fold {
			return strings.ToLower(s)
		}
		return s
	}
	switch c.op {
	case "ISEMPTY":
		return v == ""
	case "ISNOTEMPTY":
		return v != ""
	case "=":
		return eq(v, c.values[0])
	case "!=":
		return !eq(v, c.values[0])
	case "IN":
		for _, x := range c.values {
			if eq(v, x) {
				return true
			}
		}
		return false
	case "NOT IN":
		for _, x := range c.values {
			if eq(v, x) {
				return false
			}
		}
		return true
	case "LIKE":
		return strings.Contains(lower(v), lower(c.values[0]))
	case "NOTLIKE":
		return !strings.Contains(lower(v), lower(c.values[0]))
	case "STARTSWITH":
		return strings.HasPrefix(lower(v), lower(c.values[0]))
	case "ENDSWITH":
		return strings.HasSuffix(lower(v), lower(c.values[0]))
	}
	return false
}

// Matches reports whether a record with fields rec matches the encoded
// query q as the double evaluates it, on a table with the given fields.
// Tests of query encoders use it.
func Matches(q string, fields []string, rec map[string]string, caseSensitive bool) bool {
	known := map[string]bool{}
	for _, f := range fields {
		known[f] = true
	}
	return parseQuery(q, known).matches(rec, !caseSensitive)
}
