package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// Memo keeps what the plans of one Input with several rule files compute
// alike, so that it is computed once: the value of each var whose
// definition is the same in those files (its expression, the vars it
// reads, the params' values, the payload fields the file declares, the
// time zones it loaded and the memory budget), and the warnings of a
// warnings section that is the same. Impact plans each record with the
// rules in use and with new rules, which mostly share their vars. A plan is
// the same with or without a Memo; an expression that fails is not kept,
// so each rule file reports its own error.
//
// A Memo belongs to one Input; it is not safe for concurrent use.
type Memo struct {
	vars     map[string]any
	warnings map[string][]string
}

// NewMemo returns an empty Memo for the plans of one Input.
func NewMemo() *Memo {
	return &Memo{vars: map[string]any{}, warnings: map[string][]string{}}
}

// fingerprint sets the fingerprints of r's vars and warnings section:
// two rule files give the same fingerprint only where they compute the
// same value from the same Input.
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
	sum := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return hex.EncodeToString(h[:])
	}
	envFP := sum(env.String())
	fps := map[string]string{}
	for _, v := range r.vars {
		var b strings.Builder
		field(&b, envFP)
		field(&b, v.name)
		if v.prog != nil {
			field(&b, v.prog.src)
		}
		for _, d := range v.deps {
			field(&b, d)
			field(&b, fps[d])
		}
		v.fp = sum(b.String())
		fps[v.name] = v.fp
	}
	var b strings.Builder
	field(&b, envFP)
	for _, name := range sorted(mapKeys(fps)) {
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
	}
	r.warningsFP = sum(b.String())
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// warningsOf returns the warnings kept for fingerprint fp; m may be nil.
func (m *Memo) warningsOf(fp string) ([]string, bool) {
	if m == nil {
		return nil, false
	}
	ws, ok := m.warnings[fp]
	return ws, ok
}
