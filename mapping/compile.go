package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/expr-lang/expr/types"
	"github.com/goccy/go-yaml"
	yamlast "github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/bookbridge/bookbridge/loader"
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reserved names cannot name a var or step: they would shadow nothing but
// confuse readers of ref.NAME and vars.NAME.
var topKeys = []string{"version", "description", "params", "custom_fields", "vars", "steps", "exception", "warnings", "ph_not_loaded"}

var stepKeys = []string{"name", "description", "label", "table", "when", "foreach", "require", "match",
	"fields", "on_insert", "on_update", "on_multiple", "exception", "attach"}

var exceptionKeys = []string{"description", "table", "match", "fields", "stop"}

// compile runs every check and returns the rules; the caller discards them
// when problems were reported.
func (c *compiler) compile(data []byte) *Rules {
	r := &Rules{}
	f, err := parseYAML(data)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
			c.problem(nodePosToken(ye), "this is not valid YAML: %s", ye.GetMessage())
		} else {
			c.problem(pos{1, 1}, "this is not valid YAML: %v", err)
		}
		return r
	}
	var body yamlast.Node
	docs := 0
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		docs++
		if docs == 1 {
			body = d.Body
		} else {
			c.problem(nodePos(d.Body), "a rule file holds one YAML document; remove the second one (after ---)")
		}
	}
	if body == nil {
		c.problem(pos{1, 1}, "the rule file is empty; it starts with version: 1, then vars and steps")
		return r
	}
	if _, ok := c.unwrap(body).(*yamlast.MappingNode); !ok {
		if _, ok := c.unwrap(body).(*yamlast.MappingValueNode); !ok {
			c.problem(nodePos(body), "a rule file is a mapping with the keys %s; got %s", strings.Join(topKeys, ", "), nodeKind(c.unwrap(body)))
			return r
		}
	}
	top := c.checkKeys(c.mapping(body, "the rule file"), "the rule file", topKeys...)

	if v, ok := top["version"]; !ok {
		c.problem(pos{1, 1}, "the rule file has no version; add version: %d as its first line", Version)
	} else if s, _ := c.text(v.value, "version"); s != fmt.Sprint(Version) {
		c.problem(nodePos(v.value), "version %q is not supported; this bookbridge reads version: %d", s, Version)
	}
	if d, ok := top["description"]; ok {
		c.text(d.value, "description")
	}

	r.params = c.compileParams(top["params"])
	r.values = c.paramValues
	r.paramsEnv = make(map[string]any, len(r.values))
	for k, v := range r.values {
		r.paramsEnv[k] = v
	}
	cf, hasCustom := top["custom_fields"]
	c.compileCustomFields(cf, hasCustom)
	c.phType = types.Map{}
	for _, k := range PHFields {
		c.phType[k] = types.String
	}

	// Names first, so that every reference can be checked.
	varEntries := c.mapping(top["vars"].value, "vars")
	for _, e := range varEntries {
		c.varNames = append(c.varNames, e.key)
	}
	stepNodes := c.sequence(top["steps"].value, "steps")
	if _, ok := top["steps"]; !ok || len(stepNodes) == 0 {
		c.problem(pos{1, 1}, "the rule file has no steps; add steps: with at least one step (name, table, match, fields)")
	}
	stepEntries := make([]map[string]entry, len(stepNodes))
	stepIsForeach := map[string]bool{}
	for i, sn := range stepNodes {
		what := fmt.Sprintf("step %d", i+1)
		stepEntries[i] = c.checkKeys(c.mapping(sn, what), what, stepKeys...)
		ne, ok := stepEntries[i]["name"]
		if !ok {
			c.problem(nodePos(sn), "%s has no name; add name: (letters, digits and _), which ref.NAME uses", what)
			continue
		}
		name, _ := c.text(ne.value, "the step name")
		switch {
		case !identRE.MatchString(name):
			c.problem(nodePos(ne.value), "step name %q must be letters, digits and _ (starting with a letter), so that ref.%s can name it", name, name)
		case contains(c.stepNames, name):
			c.problem(nodePos(ne.value), "step name %q is used twice; step names must be unique", name)
		}
		c.stepNames = append(c.stepNames, name)
		_, stepIsForeach[name] = stepEntries[i]["foreach"]
	}

	r.vars = c.compileVars(varEntries)
	varTypes := types.Map{}
	for _, v := range r.vars {
		varTypes[v.name] = typeOf(v.prog)
	}

	// The exception is compiled once per step that may raise it (its refs
	// differ), but its shape is read here.
	var topExc *excNodes
	if e, ok := top["exception"]; ok {
		topExc = c.readException(e.value, "exception")
	}

	for i, se := range stepEntries {
		if i >= len(c.stepNames) || se["name"].value == nil {
			continue
		}
		refs := map[string]string{}
		for j, other := range c.stepNames {
			switch {
			case j == i:
				refs[other] = "a step cannot reference its own record"
			case j > i:
				refs[other] = fmt.Sprintf("step %s comes later in the file; a step can only reference earlier steps, so move it up (steps referencing each other form a cycle)", other)
			case stepIsForeach[other]:
				refs[other] = fmt.Sprintf("step %s is a foreach step with one record per item; reference a step that makes one record", other)
			default:
				refs[other] = ""
			}
		}
		excRefs := map[string]string{}
		for j, other := range c.stepNames {
			excRefs[other] = refs[other]
			if j >= i && !stepIsForeach[other] {
				// Later steps are not planned yet when this step's exception
				// is made: their ref reads as nil there.
				excRefs[other] = ""
			}
		}
		s := c.compileStep(c.stepNames[i], stepNodes[i], se, varTypes, refs, excRefs, topExc)
		if s != nil {
			r.steps = append(r.steps, s)
		}
	}
	if e, ok := top["warnings"]; ok {
		r.warnings = c.compileWarnings(e.value, varTypes)
	}
	r.phUnread = c.phUnread(top["ph_not_loaded"])
	return r
}

// parseYAML parses a rule file. The parser is third-party code fed with
// arbitrary text: a panic inside it is turned into an error.
func parseYAML(data []byte) (f *yamlast.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this file (%v); check its indentation and quoting", p)
		}
	}()
	return parser.ParseBytes(data, 0)
}

func nodePosToken(e yaml.Error) pos {
	p := e.GetToken().Position
	return pos{max(p.Line, 1), max(p.Column, 1)}
}

func (c *compiler) compileParams(e entry) []Param {
	c.paramValues = map[string]string{}
	c.paramType = types.Map{}
	var out []Param
	entries := c.mapping(e.value, "params")
	for _, pe := range entries {
		if !identRE.MatchString(pe.key) {
			c.problem(pe.pos, "param name %q must be letters, digits and _", pe.key)
			continue
		}
		p := Param{Name: pe.key}
		v := c.unwrap(pe.value)
		switch v.(type) {
		case nil, *yamlast.NullNode:
			p.Required = true
		case *yamlast.MappingNode, *yamlast.MappingValueNode:
			keys := c.checkKeys(c.mapping(v, "param "+pe.key), "param "+pe.key, "default", "description")
			if d, ok := keys["default"]; ok {
				if dn := c.unwrap(d.value); dn == nil {
					p.Required = true
				} else if _, isNull := dn.(*yamlast.NullNode); isNull {
					p.Required = true
				} else {
					p.Default, _ = c.text(d.value, "the default of param "+pe.key)
				}
			} else {
				p.Required = true
			}
			if d, ok := keys["description"]; ok {
				p.Description, _ = c.text(d.value, "the description of param "+pe.key)
			}
		default:
			p.Default, _ = c.text(v, "the default of param "+pe.key)
		}
		p.Value = p.Default
		if o, ok := c.overrides[pe.key]; ok {
			p.Value = o
		} else if p.Required {
			c.problem(pe.pos, "param %s has no default and no value was given; pass it (WithParams, or --param %s=VALUE) or give it a default", pe.key, pe.key)
		}
		c.paramNames = append(c.paramNames, pe.key)
		c.paramValues[pe.key] = p.Value
		c.paramType[pe.key] = types.String
		out = append(out, p)
	}
	var unknown []string
	for k := range c.overrides {
		if !contains(c.paramNames, k) {
			unknown = append(unknown, k)
		}
	}
	for _, k := range sorted(unknown) {
		at := pos{1, 1}
		if e.value != nil {
			at = e.pos
		}
		c.problem(at, "a value was given for param %q, which the rule file does not declare; declare it under params: or drop the setting", k)
	}
	return out
}

// compileVars compiles vars in dependency order and reports unknown
// vars and cycles.
func (c *compiler) compileVars(entries []entry) []*varDef {
	parsedVars := map[string]*parsed{}
	entryOf := map[string]entry{}
	for _, e := range entries {
		if !identRE.MatchString(e.key) {
			c.problem(e.pos, "var name %q must be letters, digits and _ (starting with a letter), so that vars.%s can name it", e.key, e.key)
			continue
		}
		entryOf[e.key] = e
		parsedVars[e.key] = c.parseExpr(e.value, "vars."+e.key)
	}
	// Depth-first order; a var met again while being visited closes a cycle.
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var order []string
	var stack []string
	inCycle := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		state[name] = visiting
		stack = append(stack, name)
		if p := parsedVars[name]; p != nil {
			for _, d := range p.use.vars {
				if _, declared := parsedVars[d.name]; !declared || d.name == name {
					continue // reported when compiled
				}
				switch state[d.name] {
				case unvisited:
					visit(d.name)
				case visiting:
					i := len(stack) - 1
					for i > 0 && stack[i] != d.name {
						i--
					}
					cycle := append(append([]string(nil), stack[i:]...), d.name)
					for _, n := range cycle {
						inCycle[n] = true
					}
					c.problem(c.at(p.node, d.from), "vars.%s: the vars %s refer to each other in a cycle; one of them must be computed without the others",
						name, strings.Join(cycle, " -> "))
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		order = append(order, name)
	}
	for _, e := range entries {
		if _, ok := parsedVars[e.key]; ok && state[e.key] == unvisited {
			visit(e.key)
		}
	}
	known := types.Map{}
	var out []*varDef
	for _, name := range order {
		v := &varDef{name: name, key: flatName("vars", name)}
		if p := parsedVars[name]; p != nil {
			for _, d := range p.use.vars {
				v.deps = append(v.deps, d.name)
			}
		}
		if !inCycle[name] {
			v.prog = c.compileExpr(parsedVars[name], &scope{where: "vars." + name, vars: known, selfVar: name}, kindAny)
		}
		known[name] = typeOf(v.prog)
		out = append(out, v)
	}
	return out
}

// excNodes is an exception block as read, before its expressions are
// compiled for a step.
type excNodes struct {
	at          pos
	table       string
	hasTable    bool
	match       []entry // mapping form
	matchFields []string
	matchList   bool
	matchAt     pos
	fields      []entry
	hasFields   bool
	stop        *bool
}

func (c *compiler) readException(n yamlast.Node, what string) *excNodes {
	x := &excNodes{at: nodePos(n)}
	keys := c.checkKeys(c.mapping(n, what), what, exceptionKeys...)
	if e, ok := keys["description"]; ok {
		c.text(e.value, what+" description")
	}
	if e, ok := keys["table"]; ok {
		x.table, x.hasTable = c.text(e.value, what+" table")
		if x.table == "" {
			c.problem(nodePos(e.value), "%s table is empty; name the table of the exception record, such as problem", what)
		}
	}
	if e, ok := keys["stop"]; ok {
		b, _ := c.text(e.value, what+" stop")
		switch b {
		case "true":
			t := true
			x.stop = &t
		case "false":
			f := false
			x.stop = &f
		default:
			c.problem(nodePos(e.value), "%s stop must be true or false, got %q", what, b)
		}
	}
	if e, ok := keys["fields"]; ok {
		x.fields, x.hasFields = c.mapping(e.value, what+" fields"), true
		if len(x.fields) == 0 {
			c.problem(e.pos, "%s fields is empty; give the exception record at least a short description", what)
		}
	}
	if e, ok := keys["match"]; ok {
		x.matchAt = e.pos
		if _, isSeq := c.unwrap(e.value).(*yamlast.SequenceNode); isSeq {
			x.matchList = true
			for _, item := range c.sequence(e.value, what+" match") {
				if s, ok := c.text(item, what+" match"); ok {
					x.matchFields = append(x.matchFields, s)
				}
			}
		} else {
			x.match = c.mapping(e.value, what+" match")
		}
	}
	return x
}

// compileException merges a step's exception block over the top-level one
// and compiles it for that step.
func (c *compiler) compileException(step string, top, own *excNodes, at pos, vars types.Map, refs map[string]string, item types.Type) *exceptionDef {
	m := excNodes{}
	if top != nil {
		m = *top
	}
	if own != nil {
		if own.hasTable {
			m.table, m.hasTable = own.table, true
		}
		if own.hasFields {
			m.fields, m.hasFields = own.fields, true
		}
		if own.match != nil || own.matchList {
			m.match, m.matchFields, m.matchList, m.matchAt = own.match, own.matchFields, own.matchList, own.matchAt
		}
		if own.stop != nil {
			m.stop = own.stop
		}
	}
	if !m.hasTable || !m.hasFields {
		c.problem(at, "step %s may raise an exception but no exception record is defined: add a top-level exception: (table and fields) or one in the step, or set on_multiple to fail or skip", step)
		return nil
	}
	x := &exceptionDef{table: m.table, stop: true}
	if m.stop != nil {
		x.stop = *m.stop
	}
	where := "exception"
	if own != nil && (own.hasFields || own.match != nil || own.matchList) {
		where = "step " + step + ", exception"
	}
	sc := &scope{where: where, vars: vars, refAllowed: true, refs: refs, item: item, index: item != nil, failure: true}
	if sc.item == nil {
		sc.item = types.Any
	}
	x.fields = c.compileFields(m.fields, sc, "exception fields")
	names := make([]string, len(m.fields))
	for i, f := range m.fields {
		names[i] = f.key
	}
	if m.matchList {
		for _, f := range m.matchFields {
			if !contains(names, f) {
				c.problem(m.matchAt, "exception match names %q, which is not one of its fields (%s); list field names from exception fields", f, strings.Join(names, ", "))
			}
		}
		x.matchFields = m.matchFields
	} else {
		x.match = c.compileFields(m.match, sc, "exception match")
	}
	return x
}

func (c *compiler) compileFields(entries []entry, sc *scope, group string) []fieldDef {
	out := make([]fieldDef, 0, len(entries))
	where := sc.where
	for _, e := range entries {
		if strings.TrimSpace(e.key) == "" {
			c.problem(e.pos, "%s: a field name is empty", where)
			continue
		}
		fsc := *sc
		fsc.where = fmt.Sprintf("%s, %s.%s", where, group, e.key)
		p := c.compileExpr(c.parseExpr(e.value, fsc.where), &fsc, kindAny)
		out = append(out, fieldDef{name: e.key, prog: p})
	}
	return out
}

func (c *compiler) compileStep(name string, node yamlast.Node, keys map[string]entry, vars types.Map, refs, excRefs map[string]string, topExc *excNodes) *stepDef {
	s := &stepDef{name: name, refKey: flatName("ref", name), pos: keys["name"].pos, onMultiple: loader.OnMultipleException}
	where := "step " + name
	if e, ok := keys["table"]; ok {
		s.table, _ = c.text(e.value, where+" table")
	}
	if s.table == "" {
		c.problem(s.pos, "%s has no table; add table: with the target table's name", where)
	}
	if e, ok := keys["description"]; ok {
		c.text(e.value, where+" description")
	}
	sc := &scope{where: where, vars: vars, refAllowed: true, refs: refs}
	if e, ok := keys["foreach"]; ok {
		fsc := *sc
		fsc.where = where + ", foreach"
		s.foreach = c.compileExpr(c.parseExpr(e.value, fsc.where), &fsc, kindList)
		sc.item = itemType(s.foreach)
		sc.index = true
	}
	sub := func(key string, kind exprKind) *program {
		e, ok := keys[key]
		if !ok {
			return nil
		}
		ssc := *sc
		ssc.where = where + ", " + key
		return c.compileExpr(c.parseExpr(e.value, ssc.where), &ssc, kind)
	}
	s.when = sub("when", kindBool)
	s.label = sub("label", kindText)
	s.attach = sub("attach", kindList)
	if e, ok := keys["require"]; ok {
		for i, rn := range c.sequence(e.value, where+" require") {
			what := fmt.Sprintf("%s, require %d", where, i+1)
			rk := c.checkKeys(c.mapping(rn, what), what, "check", "message")
			ce, hasCheck := rk["check"]
			me, hasMsg := rk["message"]
			if !hasCheck || !hasMsg {
				c.problem(nodePos(rn), "%s needs check: (a condition) and message: (an expression giving the text of the failure)", what)
				continue
			}
			rsc := *sc
			rsc.where = what + ", check"
			rd := requireDef{check: c.compileExpr(c.parseExpr(ce.value, rsc.where), &rsc, kindBool)}
			rsc.where = what + ", message"
			rd.message = c.compileExpr(c.parseExpr(me.value, rsc.where), &rsc, kindText)
			s.require = append(s.require, rd)
		}
	}
	group := func(key string) []fieldDef {
		e, ok := keys[key]
		if !ok {
			return nil
		}
		return c.compileFields(c.mapping(e.value, where+" "+key), sc, key)
	}
	s.match = group("match")
	if _, ok := keys["match"]; !ok || len(s.match) == 0 {
		if _, hasKey := keys["match"]; hasKey || s.table != "" {
			c.problem(s.pos, "%s has no match: name the fields that find its record (match: {field: expression}); without them a second load cannot find the record and would insert it again", where)
		}
	}
	s.fields = group("fields")
	s.onInsert = group("on_insert")
	s.onUpdate = group("on_update")
	seen := map[string]string{}
	for _, g := range []struct {
		name string
		fs   []fieldDef
	}{{"match", s.match}, {"fields", s.fields}, {"on_insert", s.onInsert}, {"on_update", s.onUpdate}} {
		for _, f := range g.fs {
			if prev, dup := seen[f.name]; dup && !(prev == "on_insert" && g.name == "on_update") {
				at := s.pos
				if f.prog != nil {
					at = nodePos(f.prog.node)
				}
				c.problem(at, "%s: field %s is in both %s and %s; a field is set in one place (match values are written on insert, fields on insert and update; on_insert and on_update may both name a field)", where, f.name, prev, g.name)
			}
			seen[f.name] = g.name
		}
	}
	if e, ok := keys["on_multiple"]; ok {
		v, _ := c.text(e.value, where+" on_multiple")
		switch loader.OnMultiple(v) {
		case loader.OnMultipleException, loader.OnMultipleFail, loader.OnMultipleSkip:
			s.onMultiple = loader.OnMultiple(v)
		default:
			c.problem(nodePos(e.value), "%s: on_multiple must be exception, fail or skip, got %q", where, v)
		}
	}
	var own *excNodes
	if e, ok := keys["exception"]; ok {
		own = c.readException(e.value, where+" exception")
	}
	if s.onMultiple == loader.OnMultipleException || len(s.require) > 0 || own != nil {
		if s.onMultiple == loader.OnMultipleException || topExc != nil || own != nil {
			s.exception = c.compileException(name, topExc, own, s.pos, vars, excRefs, sc.item)
		}
	}
	return s
}

func (c *compiler) compileWarnings(n yamlast.Node, vars types.Map) []*warningDef {
	var out []*warningDef
	for i, wn := range c.sequence(n, "warnings") {
		what := fmt.Sprintf("warning %d", i+1)
		keys := c.checkKeys(c.mapping(wn, what), what, "foreach", "when", "message")
		me, ok := keys["message"]
		if !ok {
			c.problem(nodePos(wn), "%s needs message: (an expression giving the text)", what)
			continue
		}
		w := &warningDef{}
		base := scope{vars: vars}
		if fe, ok := keys["foreach"]; ok {
			fsc := base
			fsc.where = what + ", foreach"
			w.foreach = c.compileExpr(c.parseExpr(fe.value, fsc.where), &fsc, kindList)
			base.item, base.index = itemType(w.foreach), true
		}
		sc := base
		sc.where = what + ", message"
		w.message = c.compileExpr(c.parseExpr(me.value, sc.where), &sc, kindText)
		if we, ok := keys["when"]; ok {
			wsc := base
			wsc.where = what + ", when"
			w.when = c.compileExpr(c.parseExpr(we.value, wsc.where), &wsc, kindBool)
		}
		out = append(out, w)
	}
	return out
}

// phUnread returns the PH fields that no expression of the rule file reads
// and that ph_not_loaded does not name: a plan warns when one of them has a
// value, so that nothing from the email is left out without a word. An
// expression that reads ph as a whole (not ph.NAME) counts as reading all.
func (c *compiler) phUnread(e entry) []string {
	ignored := map[string]bool{}
	for _, n := range c.sequence(e.value, "ph_not_loaded") {
		name, ok := c.text(n, "a ph_not_loaded entry")
		if !ok {
			continue
		}
		if !contains(PHFields, name) {
			msg := fmt.Sprintf("ph_not_loaded: %q is not a PH field", name)
			if s := closest(name, PHFields); s != "" {
				msg += fmt.Sprintf("; did you mean %s?", s)
			} else {
				msg += "; the PH fields are " + strings.Join(PHFields, ", ")
			}
			c.problem(nodePos(n), "%s", msg)
			continue
		}
		ignored[name] = true
	}
	if c.phWhole {
		return nil
	}
	var out []string
	for _, k := range PHFields {
		if !c.phRead[k] && !ignored[k] {
			out = append(out, k)
		}
	}
	return out
}
