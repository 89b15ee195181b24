package loader

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// PlanError lists every problem found in a plan. It matches
// [ErrInvalidPlan] with errors.Is.
type PlanError struct {
	Problems []string
}

func (e *PlanError) Error() string {
	return "loader: invalid plan: " + strings.Join(e.Problems, "; ")
}

// Is makes errors.Is(err, ErrInvalidPlan) true.
func (e *PlanError) Is(target error) bool { return target == ErrInvalidPlan }

var sha256Hex = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// Validate checks the rules of Plan that the executor relies on and
// reports every problem at once. Apply and Preview call it first.
func Validate(p *Plan) error {
	if p == nil {
		return &PlanError{Problems: []string{"the plan is nil"}}
	}
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	seen := map[string]int{}
	for i := range p.Steps {
		s := &p.Steps[i]
		where := fmt.Sprintf("step %d (%q)", i, s.ID)
		if s.ID == "" {
			add("step %d has no id", i)
		} else if j, dup := seen[s.ID]; dup {
			add("%s: id already used by step %d", where, j)
		}
		if s.Table == "" {
			add("%s: no table", where)
		}
		if len(s.Match) == 0 && s.Failed == "" {
			add("%s: no match fields; without them a re-run cannot find the record and would insert it again", where)
		}
		switch s.OnMultiple {
		case "", OnMultipleException, OnMultipleFail, OnMultipleSkip:
		default:
			add("%s: on_multiple %q is not one of exception, fail, skip", where, s.OnMultiple)
		}
		for _, d := range s.DependsOn {
			if _, ok := seen[d]; !ok {
				add("%s: depends_on %q is not an earlier step", where, d)
			}
		}
		checkValues := func(what string, vals map[string]Value) {
			for _, k := range sortedKeys(vals) {
				v := vals[k]
				if k == "" {
					add("%s: %s has a field with an empty name", where, what)
				}
				if v.Ref != "" {
					if _, ok := seen[v.Ref]; !ok {
						add("%s: %s.%s references %q, which is not an earlier step", where, what, k, v.Ref)
					}
				}
				if l := v.Lookup; l != nil {
					if l.Table == "" || l.Field == "" || len(l.Where) == 0 {
						add("%s: %s.%s: a lookup needs a table, a field and at least one where condition", where, what, k)
					}
					if l.Pick != PickMaxNumber && l.Pick != PickOnly {
						add("%s: %s.%s: lookup pick %q is not one of max_number, only", where, what, k, l.Pick)
					}
				}
			}
		}
		checkValues("match", s.Match)
		checkValues("fields", s.Fields)
		checkValues("on_insert", s.OnInsert)
		checkValues("on_update", s.OnUpdate)
		for _, k := range sortedKeys(s.Match) {
			for _, other := range []struct {
				what string
				vals map[string]Value
			}{{"fields", s.Fields}, {"on_insert", s.OnInsert}, {"on_update", s.OnUpdate}} {
				if v, ok := other.vals[k]; ok && !valueEqual(v, s.Match[k]) {
					add("%s: %s.%s differs from match.%s; a record written with it would not be found again", where, other.what, k, k)
				}
			}
		}
		if e := s.Exception; e != nil {
			if e.Table == "" {
				add("%s: exception has no table", where)
			}
			checkValues("exception.match", e.Match)
			checkValues("exception.fields", e.Fields)
		}
		for j, a := range s.Attach {
			if a.ID == "" || a.FileName == "" {
				add("%s: attach[%d] needs an id and a file name", where, j)
			}
			if !sha256Hex.MatchString(a.SHA256) {
				add("%s: attach[%d] (%q): sha256 must be 64 hex digits", where, j, a.FileName)
			}
		}
		if s.ID != "" {
			if _, dup := seen[s.ID]; !dup {
				seen[s.ID] = i
			}
		}
	}
	// Two steps that match the same literal values would resolve to one
	// record; a load would insert it once and update it from both.
	// Items of one foreach step may share a match (the last one writes
	// the record); distinct steps may not.
	type key struct{ table, match string }
	same := map[key]*Step{}
	for i := range p.Steps {
		s := &p.Steps[i]
		lit, ok := literalMatch(s.Match)
		if !ok || len(s.Match) == 0 || s.Failed != "" {
			continue
		}
		k := key{s.Table, lit}
		if other, dup := same[k]; dup && !(other.Item != nil && s.Item != nil && other.Name == s.Name) {
			add("steps %q and %q match the same %s record (%s); add a field that tells them apart to the rule's match", other.ID, s.ID, s.Table, lit)
			continue
		}
		same[k] = s
	}
	if len(probs) > 0 {
		return &PlanError{Problems: probs}
	}
	return nil
}

func valueEqual(a, b Value) bool {
	return a.Literal == b.Literal && a.Ref == b.Ref && reflect.DeepEqual(a.Lookup, b.Lookup)
}

func literalMatch(m map[string]Value) (string, bool) {
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		v := m[k]
		if v.Ref != "" || v.Lookup != nil {
			return "", false
		}
		fmt.Fprintf(&b, "%s=%q ", k, v.Literal)
	}
	return strings.TrimSpace(b.String()), true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
