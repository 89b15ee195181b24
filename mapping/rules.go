package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/types"

	"github.com/bookbridge/bookbridge/loader"
)

// Version is the rule-file format version this package reads.
const Version = 1

// DefaultMemoryBudget bounds what one expression may allocate while a
// plan is made (in expr's units: list and map elements, string
// conversions); an expression over it fails the plan with a PlanError.
const DefaultMemoryBudget uint = 1_000_000

// Rules is a compiled rule file. It is immutable: Plan may be called from
// several goroutines at once.
type Rules struct {
	name   string
	hash   string
	src    *source
	params []Param
	values map[string]string // effective param values
	// paramsEnv is values as expressions read them under params; no
	// expression can change it, so every plan shares it.
	paramsEnv map[string]any
	vars      []*varDef
	steps     []*stepDef
	warnings  []*warningDef
	// phUnread are the PH fields no rule reads and ph_not_loaded does not
	// name; a plan warns about each that has a value.
	phUnread []string
	h        *helpers
	budget   uint
	// flatEnv says plans put each var and step reference in the
	// environment under its own name (see compiler.patch).
	flatEnv bool
	// warningsFP identifies what the warnings section computes from an
	// Input (see Memo).
	warningsFP string
}

// Param is a setting a rule file declares under params; expressions read
// it as params.NAME. Callers override defaults with WithParams.
type Param struct {
	Name        string `json:"name"`
	Default     string `json:"default"`
	Required    bool   `json:"required,omitempty"` // no default: the caller must set it
	Description string `json:"description,omitempty"`
	Value       string `json:"value"` // the value in effect
}

type varDef struct {
	name string
	key  string // its name in the environment: vars.NAME
	prog *program
	deps []string // the vars it reads
	// fp identifies what the var computes from an Input (see Memo).
	fp string
}

type fieldDef struct {
	name string
	prog *program
}

type requireDef struct {
	check   *program
	message *program
}

type warningDef struct {
	foreach *program // nil: one warning, not one per element
	when    *program
	message *program
}

type exceptionDef struct {
	table       string
	matchFields []string   // list form: names of fields
	match       []fieldDef // mapping form
	fields      []fieldDef
	stop        bool
	// groups are match's and fields' for the Memo.
	groups [2]groupMemo
}

type stepDef struct {
	name       string
	refKey     string // its reference's name in the environment: ref.NAME
	table      string
	pos        pos
	foreach    *program
	when       *program
	label      *program
	require    []requireDef
	match      []fieldDef
	fields     []fieldDef
	onInsert   []fieldDef
	onUpdate   []fieldDef
	attach     *program
	onMultiple loader.OnMultiple
	exception  *exceptionDef
	// groups are match's, fields', on_insert's and on_update's for the
	// Memo (groupMatch, ...); withMatch is on_insert's with the match
	// values added, excMemo the exception record's.
	groups    [4]groupMemo
	withMatch groupMemo
	excMemo   groupMemo
}

// Option configures Compile.
type Option func(*options)

type options struct {
	params map[string]string
	budget uint
	// asChecked runs every program as first compiled, without the
	// patches that speed plans up; tests compare plans both ways.
	asChecked bool
}

// WithParams overrides the defaults of params the rule file declares.
// Naming a param the file does not declare is a compile problem.
func WithParams(p map[string]string) Option {
	return func(o *options) {
		for k, v := range p {
			o.params[k] = v
		}
	}
}

// WithMemoryBudget sets the memory budget of each expression run
// (default DefaultMemoryBudget).
func WithMemoryBudget(n uint) Option {
	return func(o *options) { o.budget = n }
}

// LoadFile reads and compiles a rule file. Problems are reported with the
// path as given.
func LoadFile(path string, opts ...Option) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mapping: reading rules: %w", err)
	}
	return Compile(path, data, opts...)
}

// Compile parses and type-checks a rule file. name is used in positions
// (FILE:LINE:COL) and in plans. On failure the error is a *CompileError
// listing every problem found.
func Compile(name string, data []byte, opts ...Option) (*Rules, error) {
	o := options{params: map[string]string{}, budget: DefaultMemoryBudget}
	for _, opt := range opts {
		opt(&o)
	}
	c := &compiler{
		file:      name,
		src:       newSource(data),
		h:         newHelpers(),
		overrides: o.params,
		asChecked: o.asChecked,
	}
	c.opts = c.h.options()
	r := c.compile(data)
	if len(c.problems) > 0 {
		sort.SliceStable(c.problems, func(i, j int) bool {
			a, b := c.problems[i], c.problems[j]
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		return nil, &CompileError{Problems: dedupe(c.problems)}
	}
	sum := sha256.Sum256(data)
	r.name = filepath.ToSlash(name)
	r.hash = hex.EncodeToString(sum[:])
	r.h = c.h
	r.src = c.src
	r.budget = o.budget
	r.fingerprint(c)
	r.flatEnv = !c.rawEnv
	c.patch()
	return r, nil
}

func dedupe(ps []Problem) []Problem {
	out := ps[:0]
	for i, p := range ps {
		if i > 0 && p == ps[i-1] {
			continue
		}
		out = append(out, p)
	}
	return out
}

// Name returns the rule file's name as given to Compile.
func (r *Rules) Name() string { return r.name }

// Hash returns the hex SHA-256 of the rule file's content.
func (r *Rules) Hash() string { return r.hash }

// Params returns the declared params with the values in effect, in file
// order.
func (r *Rules) Params() []Param { return append([]Param(nil), r.params...) }

// Steps returns the step names in rule order.
func (r *Rules) Steps() []string {
	out := make([]string, len(r.steps))
	for i, s := range r.steps {
		out[i] = s.name
	}
	return out
}

// compiler holds the state of one Compile call.
type compiler struct {
	file      string
	src       *source
	h         *helpers
	opts      []expr.Option
	overrides map[string]string
	problems  []Problem
	asChecked bool // options.asChecked

	paramNames  []string
	paramValues map[string]string
	paramType   types.Map
	phType      types.Map
	// sfdcType is the checked type of sfdc: sfdc.Opportunity's fields and
	// the rule file's custom_fields; sfdcNames lists every field name in it.
	sfdcType  types.Map
	sfdcObj   *sfObject
	sfdcNames []string
	varNames  []string
	stepNames []string
	// phRead holds the ph fields expressions read by name; phWhole is set
	// when one reads ph as a whole, so that every field may be read.
	phRead  map[string]bool
	phWhole bool
	// rawEnv is set when an expression reads $env; programs lists every
	// program compiled, for patch.
	rawEnv   bool
	programs []*program
}

func (c *compiler) problem(p pos, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: c.file, Line: p.line, Col: p.col, Message: fmt.Sprintf(format, args...)})
}
