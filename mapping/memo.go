package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// Memo keeps the values that the plans of one Input with several rule
// files compute alike, so that each is computed once: the value of every
// expression whose result the files share. Two expressions share a result
// when they are the same text, read the same vars defined alike, see the
// same params' values, payload fields, time zones and memory budget, read
// the same steps (ref.NAME) with the same of them made so far, and, for
// one that reads the foreach item, iterate the same list at the same
// position. A group of fields whose values are all kept is kept as one
// map, and the exception record of a step whose match values are kept is
// kept whole. An expression that reads $env, or vars, ref or ph as a whole, is
// computed in each plan; so is one that fails, so that each rule file
// reports its own error. The warnings of a warnings section that is the
// same are kept too.
//
// Impact plans each record with the rules in use and with new rules,
// which mostly share their expressions; within one plan, an expression
// that each step of a foreach (or each exception) evaluates alike is
// computed once as well. A plan is the same with or without a Memo, but
// plans made with one Memo may share values: treat them as read-only.
//
// A Memo belongs to one Input at a time (Reset makes it empty for the
// next); it is not safe for concurrent use.
type Memo struct {
	vals     map[memoKey]any
	warnings map[string][]string
}

// memoKey names a kept value: the fingerprint of an expression (or of a
// group of fields), the foreach item's position for one that reads the
// item (else -1), and which of the steps it reads (ref.NAME, in sorted
// order) the plan has made so far, one bit each: ref.NAME of a step not
// made is nil.
type memoKey struct {
	fp   [16]byte
	item int
	refs uint64
}

// maxMemoRefs is how many steps an expression may read and still be kept.
const maxMemoRefs = 64

// groupMemo is what a Memo needs of a group of fields (a step's match,
// fields, on_insert or on_update, an exception's match or fields) or of a
// value made of groups: shared when every value in it can be kept, then
// fp names it, and perItem and refs are its fields' together.
type groupMemo struct {
	fp      [16]byte
	shared  bool
	perItem bool
	refs    []string
}

// The groups of a step's fields, as stepDef.groups holds them, and of an
// exception's, as exceptionDef.groups does.
const (
	groupMatch = iota
	groupFields
	groupOnInsert
	groupOnUpdate
	groupExcMatch
	groupExcFields
)

// NewMemo returns an empty Memo for the plans of one Input.
func NewMemo() *Memo {
	return &Memo{vals: map[memoKey]any{}, warnings: map[string][]string{}}
}

// Reset empties m for the plans of another Input, keeping its memory.
func (m *Memo) Reset() {
	clear(m.vals)
	clear(m.warnings)
}

// fingerprint sets the fingerprints of r's expressions, groups of fields,
// vars and warnings section: two rule files give the same fingerprint
// only where they compute the same value from the same Input.
func (r *Rules) fingerprint(c *compiler) {
	var env strings.Builder
	field := func(b *strings.Builder, s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	field(&env, "budget="+strconv.FormatUint(uint64(r.budget), 10))
	for _, k := range sorted(mapKeys(r.values)) {
		field(&env, k)
		field(&env, r.values[k])
	}
	zones := mapKeys(c.h.zones)
	slices.Sort(zones)
	env.WriteString("zones")
	for _, z := range zones {
		field(&env, z)
	}
	env.WriteString("sfdc")
	if c.sfdcObj != nil {
		c.sfdcObj.writeTo(&env)
	}
	sum := func(s string) [32]byte { return sha256.Sum256([]byte(s)) }
	envFP := sum(env.String())
	// fps holds each var's fingerprint in hex, "" for a var whose value
	// cannot be shared.
	fps := map[string]string{}
	// share sets p's fingerprint when its value can be shared, or, for an
	// expression that reads failure, could be given the failure; foreach
	// is the list its item comes from, if any.
	share := func(p, foreach *program) {
		if p == nil || p.local || (p.perItem && (foreach == nil || !foreach.shared)) {
			return
		}
		var b strings.Builder
		b.Write(envFP[:])
		field(&b, strconv.Itoa(int(p.kind)))
		field(&b, p.src)
		for _, name := range p.reads {
			fp, ok := fps[name]
			if !ok || fp == "" {
				return
			}
			field(&b, name)
			field(&b, fp)
		}
		b.WriteString("refs")
		for _, name := range p.refs {
			field(&b, name)
		}
		if p.perItem {
			b.WriteString("item")
			b.Write(foreach.fp[:])
		}
		h := sum(b.String())
		copy(p.fp[:], h[:])
		p.known = true
		p.shared = !p.failure
	}
	// shareGroup sets the fingerprint of a group of fields whose values
	// can all be kept; kind tells the groups apart.
	shareGroup := func(g *groupMemo, kind int, fs []fieldDef) {
		var b strings.Builder
		b.Write(envFP[:])
		field(&b, "group "+strconv.Itoa(kind))
		for _, f := range fs {
			if f.prog == nil || !f.prog.shared {
				return
			}
			field(&b, f.name)
			b.Write(f.prog.fp[:])
			g.perItem = g.perItem || f.prog.perItem
			g.refs = append(g.refs, f.prog.refs...)
		}
		slices.Sort(g.refs)
		g.refs = slices.Compact(g.refs)
		if len(g.refs) > maxMemoRefs {
			return
		}
		h := sum(b.String())
		copy(g.fp[:], h[:])
		g.shared = true
	}
	for _, v := range r.vars {
		share(v.prog, nil)
		if v.prog != nil && v.prog.shared {
			v.fp = hex.EncodeToString(v.prog.fp[:])
		}
		fps[v.name] = v.fp
	}
	// The warnings are kept only when every var they may read has a
	// fingerprint.
	warningsShared := true
	var b strings.Builder
	b.Write(envFP[:])
	for _, name := range sorted(mapKeys(fps)) {
		if fps[name] == "" {
			warningsShared = false
		}
		field(&b, name)
		field(&b, fps[name])
	}
	for _, w := range r.warnings {
		b.WriteString("warning")
		for _, p := range []*program{w.foreach, w.when, w.message} {
			if p == nil {
				b.WriteString("-")
				continue
			}
			field(&b, p.src)
		}
		share(w.foreach, nil)
		share(w.when, w.foreach)
		share(w.message, w.foreach)
	}
	if h := sum(b.String()); warningsShared {
		r.warningsFP = hex.EncodeToString(h[:])
	}
	for _, s := range r.steps {
		share(s.foreach, nil)
		for _, p := range s.programs() {
			share(p, s.foreach)
		}
		for kind, fs := range [][]fieldDef{s.match, s.fields, s.onInsert, s.onUpdate} {
			shareGroup(&s.groups[kind], kind, fs)
		}
		match := &s.groups[groupMatch]
		if ins := &s.groups[groupOnInsert]; ins.shared && match.shared {
			s.withMatch = joinGroups(sum, "on_insert with match", nil, ins, match)
		}
		e := s.exception
		if e == nil {
			continue
		}
		shareGroup(&e.groups[0], groupExcMatch, e.match)
		shareGroup(&e.groups[1], groupExcFields, e.fields)
		// A whole exception record is kept for a step whose match values
		// are kept: its failure (for several matches) is made of the
		// step's name, table, position and match values alone.
		if !match.shared {
			continue
		}
		var b strings.Builder
		b.Write(envFP[:])
		for _, t := range []string{s.name, s.table, string(s.onMultiple), e.table, strconv.FormatBool(e.stop), strconv.FormatBool(s.foreach != nil)} {
			field(&b, t)
		}
		field(&b, strings.Join(e.matchFields, ","))
		exc := &groupMemo{perItem: s.foreach != nil}
		known := true
		for _, g := range [][]fieldDef{e.match, e.fields} {
			b.WriteString("group")
			for _, f := range g {
				if f.prog == nil || !f.prog.known {
					known = false
					break
				}
				field(&b, f.name)
				b.Write(f.prog.fp[:])
				exc.refs = append(exc.refs, f.prog.refs...)
			}
		}
		if known {
			s.excMemo = joinGroups(sum, b.String(), exc, match)
		}
	}
}

// joinGroups returns the groupMemo of a value made from groups gs (and
// from what base and text name): shared when every group is.
func joinGroups(sum func(string) [32]byte, text string, base *groupMemo, gs ...*groupMemo) groupMemo {
	out := groupMemo{}
	if base != nil {
		out.perItem = base.perItem
		out.refs = slices.Clone(base.refs)
	}
	var b strings.Builder
	b.WriteString(text)
	for _, g := range gs {
		if !g.shared {
			return groupMemo{}
		}
		b.Write(g.fp[:])
		out.perItem = out.perItem || g.perItem
		out.refs = append(out.refs, g.refs...)
	}
	slices.Sort(out.refs)
	out.refs = slices.Compact(out.refs)
	if len(out.refs) > maxMemoRefs {
		return groupMemo{}
	}
	h := sum(b.String())
	copy(out.fp[:], h[:])
	out.shared = true
	return out
}

// programs lists the expressions of step s but its foreach, exception
// fields included.
func (s *stepDef) programs() []*program {
	out := []*program{s.when, s.label, s.attach}
	for _, rq := range s.require {
		out = append(out, rq.check, rq.message)
	}
	for _, g := range [][]fieldDef{s.match, s.fields, s.onInsert, s.onUpdate} {
		for _, f := range g {
			out = append(out, f.prog)
		}
	}
	if e := s.exception; e != nil {
		for _, g := range [][]fieldDef{e.match, e.fields} {
			for _, f := range g {
				out = append(out, f.prog)
			}
		}
	}
	return out
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// warningsOf returns the warnings kept for fingerprint fp; m may be nil,
// and fp "" is never kept.
func (m *Memo) warningsOf(fp string) ([]string, bool) {
	if m == nil || fp == "" {
		return nil, false
	}
	ws, ok := m.warnings[fp]
	return ws, ok
}
