package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	exprast "github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	exprruntime "github.com/expr-lang/expr/vm/runtime"
	yamlast "github.com/goccy/go-yaml/ast"

	"github.com/bookbridge/bookbridge/loader"
)

// program is one compiled expression and where it came from.
type program struct {
	src   string
	node  yamlast.Node // the YAML scalar, for positions
	where string       // such as "step company, fields.u_status"
	prog  *vm.Program  // as checked: its tree gives the result's type
	run   *vm.Program  // what plans run: prog patched (see compiler.patch)
	typ   reflect.Type // the result type the checker found; nil when unknown
	// What the patched compile needs; dropped once it is done.
	sc   *scope
	kind exprKind
	lets bool
	// What a Memo needs (memo.go): the vars and steps (ref.NAME) the
	// expression reads, whether it reads the foreach item or index, and
	// whether it reads what is not the same in every plan of one Input
	// ($env, or vars, ref or ph as a whole), or failure, which only a whole
	// exception record is kept by. Rules.fingerprint sets fp, and shared
	// when its value can be kept for the other plans.
	reads   []string
	refs    []string
	perItem bool
	failure bool
	local   bool
	fp      [16]byte
	known   bool
	shared  bool
}

// exprKind says what an expression must yield.
type exprKind int

const (
	kindAny  exprKind = iota
	kindBool          // when, require checks
	kindList          // foreach, attach
	kindText          // messages
)

// scope is what an expression may use.
type scope struct {
	where string
	// vars are the types of the vars it may read.
	vars types.Map
	// refAllowed says whether ref exists here; refs maps every step name
	// to "" when ref.NAME may be used, or to the reason it may not.
	refAllowed bool
	refs       map[string]string
	// item is the foreach element's type, nil outside a foreach step.
	item types.Type
	// index is true where index (the item's position) exists.
	index bool
	// failure is true in exception fields.
	failure bool
	// selfVar is the var being compiled, if any.
	selfVar string
}

// usage is what an expression reads, found by walking its syntax tree.
type usage struct {
	vars   []nameAt
	refs   []nameAt
	idents []nameAt
	calls  []*exprast.CallNode
	// ph lists the fields read as ph.NAME; phIdents counts every use of
	// ph, so that more uses than fields mean ph is read as a whole.
	ph       []string
	phIdents int
	// lets is set when the expression declares a variable (let).
	lets bool
}

type nameAt struct {
	name string
	from int // rune offset in the expression
}

func (u *usage) Visit(node *exprast.Node) {
	switch n := (*node).(type) {
	case *exprast.MemberNode:
		id, ok := n.Node.(*exprast.IdentifierNode)
		if !ok {
			return
		}
		prop, ok := n.Property.(*exprast.StringNode)
		if !ok {
			return
		}
		switch id.Value {
		case "vars":
			u.vars = append(u.vars, nameAt{prop.Value, prop.Location().From})
		case "ref":
			u.refs = append(u.refs, nameAt{prop.Value, prop.Location().From})
		case "ph":
			u.ph = append(u.ph, prop.Value)
		}
	case *exprast.IdentifierNode:
		u.idents = append(u.idents, nameAt{n.Value, n.Location().From})
		if n.Value == "ph" {
			u.phIdents++
		}
	case *exprast.CallNode:
		u.calls = append(u.calls, n)
	case *exprast.VariableDeclaratorNode:
		u.lets = true
	}
}

// memoUse says what of a plan's environment an expression depends on,
// for the Memo: the vars and steps it reads by name (sorted), whether it
// reads item or index, and whether it reads something a Memo cannot key
// on. A name it declares with let counts as the name it shadows, which
// errs on the safe side.
func (u *usage) memoUse() (reads, refs []string, perItem, failure, local bool) {
	varsIdents, refIdents := 0, 0
	for _, id := range u.idents {
		switch id.name {
		case "item", "index":
			perItem = true
		case "failure":
			failure = true
		case "$env":
			local = true
		case "vars":
			varsIdents++
		case "ref":
			refIdents++
		}
	}
	// ph as a whole is a map of the plan's own (planMaps), which no other
	// plan may keep.
	if varsIdents > len(u.vars) || refIdents > len(u.refs) || u.phIdents > len(u.ph) {
		local = true
	}
	names := func(list []nameAt) []string {
		var out []string
		for _, n := range list {
			if !slices.Contains(out, n.name) {
				out = append(out, n.name)
			}
		}
		slices.Sort(out)
		return out
	}
	reads, refs = names(u.vars), names(u.refs)
	if len(refs) > maxMemoRefs {
		local = true
	}
	return reads, refs, perItem, failure, local
}

// parsed is an expression after parsing, before type checking.
type parsed struct {
	src  string
	node yamlast.Node
	tree *parser.Tree
	use  usage
}

// parseExpr reads the expression of a YAML scalar and walks it; it
// reports syntax errors.
func (c *compiler) parseExpr(n yamlast.Node, what string) *parsed {
	n = c.unwrap(n)
	src, ok := c.exprText(n, what)
	if !ok {
		return nil
	}
	if strings.TrimSpace(src) == "" {
		c.problem(nodePos(n), "%s: the expression is empty; write nil to leave the value out or '\"\"' for an empty text", what)
		return nil
	}
	tree, err := parser.Parse(src)
	if err != nil {
		c.exprProblem(n, src, err, what, nil)
		return nil
	}
	p := &parsed{src: src, node: n, tree: tree}
	exprast.Walk(&tree.Node, &p.use)
	if c.phRead == nil {
		c.phRead = map[string]bool{}
	}
	for _, f := range p.use.ph {
		c.phRead[f] = true
	}
	if p.use.phIdents > len(p.use.ph) {
		c.phWhole = true
	}
	for _, id := range p.use.idents {
		if id.name == "$env" {
			c.rawEnv = true
		}
	}
	return p
}

// at returns the file position of rune offset k of p's expression.
func (c *compiler) at(n yamlast.Node, k int) pos {
	return c.src.offsetPos(n, k)
}

// compileExpr checks what p reads against sc and compiles it.
func (c *compiler) compileExpr(p *parsed, sc *scope, kind exprKind) *program {
	if p == nil {
		return nil
	}
	bad := false
	for _, v := range p.use.vars {
		switch {
		case v.name == sc.selfVar:
			c.problem(c.at(p.node, v.from), "%s: var %s refers to itself", sc.where, v.name)
			bad = true
		case !contains(c.varNames, v.name):
			msg := fmt.Sprintf("%s: unknown var %q", sc.where, v.name)
			if s := closest(v.name, c.varNames); s != "" {
				msg += fmt.Sprintf("; did you mean vars.%s?", s)
			} else {
				msg += "; declare it under vars:"
			}
			c.problem(c.at(p.node, v.from), "%s", msg)
			bad = true
		}
	}
	for _, r := range p.use.refs {
		reason, known := sc.refs[r.name]
		switch {
		case !sc.refAllowed:
			c.problem(c.at(p.node, r.from), "%s: ref.%s cannot be used here: vars and warnings are computed before any step; use ref in a step or the exception", sc.where, r.name)
			bad = true
		case !known:
			msg := fmt.Sprintf("%s: unknown step %q in ref.%s", sc.where, r.name, r.name)
			if s := closest(r.name, c.stepNames); s != "" {
				msg += fmt.Sprintf("; did you mean ref.%s?", s)
			}
			c.problem(c.at(p.node, r.from), "%s", msg)
			bad = true
		case reason != "":
			c.problem(c.at(p.node, r.from), "%s: ref.%s: %s", sc.where, r.name, reason)
			bad = true
		}
	}
	for _, id := range p.use.idents {
		switch {
		case id.name == "item" && sc.item == nil:
			c.problem(c.at(p.node, id.from), "%s: item exists only in a step with foreach (and in the exception)", sc.where)
			bad = true
		case id.name == "index" && !sc.index:
			c.problem(c.at(p.node, id.from), "%s: index exists only in a step or warning with foreach (the item's position in the list, from 0)", sc.where)
			bad = true
		case id.name == "failure" && !sc.failure:
			c.problem(c.at(p.node, id.from), "%s: failure exists only in exception fields", sc.where)
			bad = true
		}
	}
	if !c.prepareCalls(p, sc) {
		bad = true
	}
	if bad {
		return nil
	}
	opts := append([]expr.Option{expr.Env(c.env(sc))}, c.opts...)
	if kind == kindBool {
		opts = append(opts, expr.AsBool())
	}
	prog, err := expr.Compile(p.src, opts...)
	if err != nil {
		c.exprProblem(p.node, p.src, err, sc.where, sc)
		return nil
	}
	typ := prog.Node().Type()
	if typ != nil {
		k := typ.Kind()
		switch {
		case kind == kindList && k != reflect.Slice && k != reflect.Array && k != reflect.Interface:
			c.problem(nodePos(p.node), "%s must yield a list, but this expression yields %s; use a list such as vars.lines or filter(...)", sc.where, typeName(typ))
			return nil
		case kind == kindText && k != reflect.String && k != reflect.Interface:
			c.problem(nodePos(p.node), "%s must yield text, but this expression yields %s", sc.where, typeName(typ))
			return nil
		}
	}
	sc2 := *sc
	out := &program{src: p.src, node: p.node, where: sc.where, prog: prog, run: prog, typ: typ, sc: &sc2, kind: kind, lets: p.use.lets}
	out.reads, out.refs, out.perItem, out.failure, out.local = p.use.memoUse()
	c.programs = append(c.programs, out)
	return out
}

// patch compiles every program of the file once more, for plans to run,
// with changes that keep every result: chains of + between texts are one
// call (joinPatcher); string(x) does not format a text (textPatcher);
// vars.NAME and ref.NAME are read as names of their own (flatPatcher);
// members of objects are read without reflection (memberPatcher) and
// some helpers are called without an argument slice (callPatcher), both
// through functions a plan puts in the environment with the flat names
// (Rules.flatEnv). Nothing is added to the environment of a file that
// reads $env, whose keys would show it, and names are not flattened in an
// expression that declares variables with let, which could be named vars
// or ref. The first compile keeps deciding errors and types; a program
// whose second compile fails runs as first compiled.
func (c *compiler) patch() {
	for _, p := range c.programs {
		p.run = c.patched(p)
		p.sc = nil
	}
	c.programs = nil
}

func (c *compiler) patched(p *program) *vm.Program {
	flat := !c.rawEnv && !p.lets && (strings.Contains(p.src, "vars") || strings.Contains(p.src, "ref"))
	if c.asChecked || (!flat && !strings.ContainsAny(p.src, "+.[") && !strings.Contains(p.src, "string")) {
		return p.prog
	}
	j, f, t, m, cp := &joinPatcher{}, &flatPatcher{}, &textPatcher{}, &memberPatcher{}, &callPatcher{}
	env := c.env(p.sc)
	opts := []expr.Option{expr.Env(env)}
	if flat {
		addFlatNames(env, p.sc)
		opts = append(opts, expr.Patch(f))
	}
	opts = append(opts, expr.Patch(t), expr.Patch(j))
	if !c.rawEnv {
		// Last: the join patcher reads the types the checker gives
		// members, which a member call would hide.
		for _, f := range envFuncs {
			env[f.name] = types.TypeOf(f.fn)
		}
		opts = append(opts, expr.Patch(m), expr.Patch(cp))
	}
	opts = append(opts, c.opts...)
	if p.kind == kindBool {
		opts = append(opts, expr.AsBool())
	}
	out, err := expr.Compile(p.src, opts...)
	if err != nil || (!j.patched && !f.patched && !t.patched && !m.patched && !cp.patched) {
		return p.prog
	}
	return out
}

// addFlatNames adds to env the names flatPatcher gives vars.NAME and
// ref.NAME, with their types.
func addFlatNames(env types.Map, sc *scope) {
	if vars, ok := env["vars"].(types.Map); ok {
		for k, t := range vars {
			env[flatName("vars", k)] = t
		}
	}
	if refs, ok := env["ref"].(types.Map); ok {
		for k, t := range refs {
			env[flatName("ref", k)] = t
		}
	}
}

// flatName is the name vars.NAME or ref.NAME is read by in a patched
// program: not a name an expression can write.
func flatName(root, name string) string { return root + "." + name }

// flatPatcher turns vars.NAME and ref.NAME into names of their own.
type flatPatcher struct{ patched bool }

func (f *flatPatcher) Visit(node *exprast.Node) {
	n, ok := (*node).(*exprast.MemberNode)
	if !ok || n.Optional || n.Method {
		return
	}
	id, ok := n.Node.(*exprast.IdentifierNode)
	if !ok || (id.Value != "vars" && id.Value != "ref") {
		return
	}
	name, ok := n.Property.(*exprast.StringNode)
	if !ok {
		return
	}
	exprast.Patch(node, &exprast.IdentifierNode{Value: flatName(id.Value, name.Value)})
	f.patched = true
}

// joinFn names the function joinTexts is registered as: not a name an
// expression can write, so rule files cannot call it.
const joinFn = "+join"

var textType = reflect.TypeOf("")

// joinPatcher turns a + whose operands are both text (or joins already)
// into one joinFn call over all the operands.
type joinPatcher struct{ patched bool }

func (j *joinPatcher) Visit(node *exprast.Node) {
	n, ok := (*node).(*exprast.BinaryNode)
	if !ok || n.Operator != "+" {
		return
	}
	var parts []exprast.Node
	for _, side := range []exprast.Node{n.Left, n.Right} {
		if call, isJoin := side.(*exprast.CallNode); isJoin && isJoinCall(call) {
			parts = append(parts, call.Arguments...)
			continue
		}
		if side.Type() != textType {
			return
		}
		parts = append(parts, side)
	}
	exprast.Patch(node, &exprast.CallNode{Callee: &exprast.IdentifierNode{Value: joinFn}, Arguments: parts})
	j.patched = true
}

func isJoinCall(n *exprast.CallNode) bool {
	id, ok := n.Callee.(*exprast.IdentifierNode)
	return ok && id.Value == joinFn
}

// joinTexts is a + b + c + ... of texts. Were an operand not text after
// all, it adds them one by one as + does, with +'s error.
func joinTexts(args ...any) (out any, err error) {
	n := 0
	for _, a := range args {
		s, ok := a.(string)
		if !ok {
			return addEach(args)
		}
		n += len(s)
	}
	var b strings.Builder
	b.Grow(n)
	for _, a := range args {
		b.WriteString(a.(string))
	}
	return b.String(), nil
}

func addEach(args []any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%v", r)
		}
	}()
	out = args[0]
	for _, a := range args[1:] {
		out = exprruntime.Add(out, a)
	}
	return out, nil
}

// textFn names the function textOf is registered as: not a name an
// expression can write, so rule files cannot call it.
const textFn = "+text"

// textPatcher turns the builtin string(x) into a textFn call, which gives
// the same text without formatting a value that is text already.
type textPatcher struct{ patched bool }

func (t *textPatcher) Visit(node *exprast.Node) {
	n, ok := (*node).(*exprast.BuiltinNode)
	if !ok || n.Name != "string" || len(n.Arguments) != 1 {
		return
	}
	exprast.Patch(node, &exprast.CallNode{Callee: &exprast.IdentifierNode{Value: textFn}, Arguments: n.Arguments})
	t.patched = true
}

// textOf is expr's string(x), which formats x with fmt's %v: text (and a
// json.Number, whose %v is its text) is returned as it is.
func textOf(args ...any) (any, error) {
	switch v := args[0].(type) {
	case string:
		return args[0], nil
	case json.Number:
		return string(v), nil
	}
	return fmt.Sprintf("%v", args[0]), nil
}

// memberFn is the name under which a plan's environment holds memberOf.
const memberFn = "+member"

// memberCall is memberOf as a function of the environment.
var memberCall = envFunc{memberFn, "", memberOf}

// envFunc is a function a plan's environment holds (see Rules.flatEnv)
// for patched programs to call: a func(any) any or func(any, any) any,
// which expr calls directly, without reflection or the argument slice
// that a function given as an option needs for every call.
type envFunc struct {
	name   string // its name in the environment: not one an expression can write
	helper string // the helper it is called for, or "" (memberOf)
	fn     any
}

// envFuncs are memberOf and the helpers callPatcher calls typed. A typed
// helper returns the helper's result as the helper boxed it, and panics
// with the helper's error, which the VM reports as it reports an error
// returned.
var envFuncs = []envFunc{
	memberCall,
	{"+text.typed", textFn, func(v any) any { return must(textOf(v)) }},
	{"+omitEmpty", "omitEmpty", func(v any) any { return must(omitEmptyFn(v)) }},
	{"+weekday", "weekday", func(v any) any { return must(weekdayFn(v)) }},
	{"+moneyText", "moneyText", func(cur, amount any) any { return must(moneyTextFn(cur, amount)) }},
}

// must is a helper's result, or its error as a panic.
func must(out any, err error) any {
	if err != nil {
		panic(err)
	}
	return out
}

// callee is f as the callee of a patched call. It is typed here, not
// only by the checker: the checker leaves a callee untyped in some places
// (an argument of a function given by an option), and expr makes an
// untyped call by reflection.
func (f envFunc) callee(at file.Location) *exprast.IdentifierNode {
	id := &exprast.IdentifierNode{Value: f.name}
	id.SetType(reflect.TypeOf(f.fn))
	id.SetLocation(at)
	return id
}

// memberPatcher turns a read of a member (a.b, a["b"], a[i]) of a value
// whose type the checker does not know, or of a map[string]any (the
// payload, its records, a foreach item), into a call of memberOf. expr
// reads such members by reflection, which allocates for every read. An
// optional read (a?.b) is left to expr, which skips the rest of its chain
// when a is nil; the reads after it in the chain stay right, as the skip
// jumps past their calls too.
type memberPatcher struct{ patched bool }

var anyType = reflect.TypeOf((*any)(nil)).Elem()

func (m *memberPatcher) Visit(node *exprast.Node) {
	n, ok := (*node).(*exprast.MemberNode)
	if !ok || n.Optional || n.Method {
		return
	}
	switch t := n.Node.Type(); {
	case t == nil || t == anyType:
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem() == anyType:
	case t.Kind() == reflect.Slice && t.Elem() == anyType:
	default:
		return // a struct's field or a typed map: expr reads those without reflection
	}
	exprast.Patch(node, &exprast.CallNode{Callee: memberCall.callee(n.Location()), Arguments: []exprast.Node{n.Node, n.Property}})
	m.patched = true
}

// callPatcher makes a call of a helper in envFuncs a call of its typed
// form. A call with an argument of a pointer type stays as it is: expr
// follows such a pointer for a helper that takes text or a date, and the
// typed forms take any value.
type callPatcher struct{ patched bool }

func (c *callPatcher) Visit(node *exprast.Node) {
	n, ok := (*node).(*exprast.CallNode)
	if !ok {
		return
	}
	id, ok := n.Callee.(*exprast.IdentifierNode)
	if !ok {
		return
	}
	i := slices.IndexFunc(envFuncs, func(f envFunc) bool { return f.helper != "" && f.helper == id.Value })
	if i < 0 || reflect.TypeOf(envFuncs[i].fn).NumIn() != len(n.Arguments) {
		return
	}
	for _, a := range n.Arguments {
		if a.Type().Kind() == reflect.Pointer {
			return
		}
	}
	n.Callee = envFuncs[i].callee(n.Callee.Location())
	c.patched = true
}

// memberOf is expr's a.b and a[i]: an object's member and a list's
// element in range are read directly, anything else as expr reads it,
// with expr's panic for a read that fails, which the VM reports at the
// member's position.
func memberOf(from, key any) any {
	switch v := from.(type) {
	case map[string]any:
		if k, ok := key.(string); ok {
			return v[k]
		}
	case []any:
		if i, ok := key.(int); ok && i >= 0 && i < len(v) {
			return v[i]
		}
	}
	return exprruntime.Fetch(from, derefKey(key))
}

// derefKey is the key expr's a[k] fetches with: a pointer followed to
// its value, nil for a nil one.
func derefKey(key any) any {
	v := reflect.ValueOf(key)
	if v.Kind() != reflect.Pointer {
		return key
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	return v.Interface()
}

// prepareCalls compiles the regular expressions and loads the time zones
// that helper calls name by a literal or a param, so that no expression
// does either while planning.
func (c *compiler) prepareCalls(p *parsed, sc *scope) bool {
	ok := true
	for _, call := range p.use.calls {
		id, isID := call.Callee.(*exprast.IdentifierNode)
		if !isID || len(call.Arguments) < 2 {
			continue
		}
		arg := call.Arguments[1]
		switch id.Value {
		case "regexFind":
			s, isStr := arg.(*exprast.StringNode)
			if !isStr {
				continue
			}
			re, err := regexp.Compile(s.Value)
			if err != nil {
				c.problem(c.at(p.node, s.Location().From), "%s: %q is not a valid regular expression: %v", sc.where, s.Value, err)
				ok = false
				continue
			}
			c.h.regexps[s.Value] = re
		case "dateIn":
			name, from, known, param := "", 0, false, ""
			switch a := arg.(type) {
			case *exprast.StringNode:
				name, from, known = a.Value, a.Location().From, true
			case *exprast.MemberNode:
				if pid, isID := a.Node.(*exprast.IdentifierNode); isID && pid.Value == "params" {
					if prop, isStr := a.Property.(*exprast.StringNode); isStr {
						if v, declared := c.paramValues[prop.Value]; declared {
							name, from, known, param = v, prop.Location().From, true, prop.Value
						}
					}
				}
			}
			if !known {
				continue
			}
			if _, done := c.h.zones[name]; done {
				continue
			}
			loc, err := time.LoadLocation(name)
			if err != nil || name == "" || strings.EqualFold(name, "local") {
				what := fmt.Sprintf("%q", name)
				if param != "" {
					what = fmt.Sprintf("params.%s is %q, which", param, name)
				}
				c.problem(c.at(p.node, from), "%s: %s is not a time zone name; use an IANA name such as UTC or Europe/Berlin", sc.where, what)
				ok = false
				continue
			}
			c.h.zones[name] = loc
		}
	}
	return ok
}

// env returns the types an expression in scope sc is checked against.
func (c *compiler) env(sc *scope) types.Map {
	vars := make(types.Map, len(sc.vars))
	for k, v := range sc.vars {
		vars[k] = v
	}
	m := types.Map{
		"sfdc":   c.sfdcType,
		"ph":     c.phType,
		"record": types.TypeOf(&RecordInfo{}),
		"now":    types.TypeOf(time.Time{}),
		"params": c.paramType,
		"vars":   vars,
	}
	if sc.refAllowed {
		refs := types.Map{}
		for name, reason := range sc.refs {
			if reason == "" {
				refs[name] = types.TypeOf(&loader.Value{})
			}
		}
		m["ref"] = refs
	}
	if sc.item != nil {
		m["item"] = sc.item
	}
	if sc.index {
		m["index"] = types.Int
	}
	if sc.failure {
		m["failure"] = types.TypeOf(&Failure{})
	}
	return m
}

// typeFor turns a checked result type into the type other expressions see
// (structs as pointers, which the checker handles in nested maps).
func typeFor(t reflect.Type) types.Type {
	if t == nil || t.Kind() == reflect.Interface {
		return types.Any
	}
	if t.Kind() == reflect.Struct && t != reflect.TypeOf(time.Time{}) {
		t = reflect.PointerTo(t)
	}
	return types.TypeOf(reflect.Zero(t).Interface())
}

// elemType is the type of a list's elements, for item.
func elemType(t reflect.Type) types.Type {
	if t == nil || (t.Kind() != reflect.Slice && t.Kind() != reflect.Array) {
		return types.Any
	}
	return typeFor(t.Elem())
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true/false"
	case reflect.Map:
		return "an object"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	}
	if t == reflect.TypeOf(time.Time{}) {
		return "a date"
	}
	return t.String()
}

// exprProblem reports an expr error at its position in the file, with a
// hint on how to fix the usual mistakes.
func (c *compiler) exprProblem(n yamlast.Node, src string, err error, where string, sc *scope) {
	var fe *file.Error
	if !errors.As(err, &fe) {
		c.problem(nodePos(n), "%s: %v", where, err)
		return
	}
	msg := fe.Message
	if name, isUnknown := strings.CutPrefix(msg, "unknown name "); isUnknown {
		msg += c.unknownNameHint(n, src, name, fe.From)
	} else if field, isField := strings.CutPrefix(msg, "unknown field "); isField {
		msg += c.unknownFieldHint(src, field, fe.From, sc)
	} else if strings.Contains(msg, " has no field ") {
		for _, t := range []reflect.Type{reflect.TypeOf(RecordInfo{}), reflect.TypeOf(AttachmentInfo{}), reflect.TypeOf(Failure{})} {
			if strings.Contains(msg, t.String()+" has") {
				msg += "; it has " + strings.Join(exprFields(t), ", ")
			}
		}
	}
	c.problem(c.at(n, fe.From), "%s: %s", where, msg)
}

func (c *compiler) unknownNameHint(n yamlast.Node, src, name string, from int) string {
	runes := []rune(src)
	after := ""
	if end := from + len([]rune(name)); end <= len(runes) {
		after = strings.TrimSpace(string(runes[end:]))
	}
	switch {
	case strings.HasPrefix(after, "("):
		return "; there is no function of that name: the helpers are " + strings.Join(helperNames, ", ") + ", plus expr's builtins (upper, lower, split, filter, map, first, max, ...)"
	case contains(c.varNames, name):
		return fmt.Sprintf("; did you mean vars.%s?", name)
	case contains(c.paramNames, name):
		return fmt.Sprintf("; did you mean params.%s?", name)
	case contains(c.stepNames, name):
		return fmt.Sprintf("; did you mean ref.%s?", name)
	}
	if _, isStr := n.(*yamlast.StringNode); isStr && looksLikeText(src) {
		return fmt.Sprintf("; every value is an expression: to send the text %q, write it as an expression string inside YAML quotes: '%q'", src, src)
	}
	return "; the names available are sfdc, ph, record, now, params, vars, ref (in steps), item (in foreach steps)"
}

// unknownFieldHint suggests the nearest known field when an expression
// reads a field that a map (ph, params, the payload's objects under sfdc,
// item and vars made from them) does not have. It follows the path before
// the field through the scope's types; where it cannot (a predicate's
// .Field), it suggests among every payload field name.
func (c *compiler) unknownFieldHint(src, field string, from int, sc *scope) string {
	runes := []rune(src)
	before := strings.TrimRight(string(runes[:min(from, len(runes))]), "?.")
	known, root, resolved := c.fieldsAt(before, sc)
	switch root {
	case "ph", "params":
		if !resolved {
			break
		}
		if s := closest(field, known); s != "" {
			return fmt.Sprintf("; did you mean %s.%s?", root, s)
		}
		if len(known) == 0 {
			return "; the rule file declares no params"
		}
		return "; known: " + strings.Join(known, ", ")
	}
	if !resolved {
		known = c.sfdcNames
	}
	candidates := make([]string, 0, len(known))
	for _, k := range known {
		if k != field {
			candidates = append(candidates, k)
		}
	}
	const custom = " (a Salesforce field that sfdc.Opportunity does not have can be declared under custom_fields:)"
	if s := closest(field, candidates); s != "" {
		return fmt.Sprintf("; did you mean %s?%s", s, custom)
	}
	if resolved {
		return "; known: " + strings.Join(known, ", ") + custom
	}
	return custom
}

// exprFields lists the names expressions use for a struct's fields.
func exprFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if name := t.Field(i).Tag.Get("expr"); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// looksLikeText reports whether an unquoted value reads as plain words
// rather than an expression.
func looksLikeText(src string) bool {
	return !strings.ContainsAny(src, "\"'`().[]{}?:=<>!&|") && !strings.Contains(src, "vars")
}
