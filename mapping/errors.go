package mapping

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidRules is wrapped by every *CompileError, so callers can test
// errors.Is(err, mapping.ErrInvalidRules).
var ErrInvalidRules = errors.New("mapping: invalid rule file")

// Problem is one thing wrong in a rule file, at a line and column (both
// 1-based; the column counts characters). For a problem inside an
// expression the position points into the expression itself.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

// String writes the problem as FILE:LINE:COL: message.
func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Message)
}

// CompileError lists every problem found in a rule file, in file order.
type CompileError struct {
	Problems []Problem
}

// Error returns one FILE:LINE:COL: message line per problem.
func (e *CompileError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap makes errors.Is(err, ErrInvalidRules) true.
func (e *CompileError) Unwrap() error { return ErrInvalidRules }

// PlanError is a failure while making a plan: an expression that failed
// for this record (a missing member, a value of the wrong kind, the memory
// budget exceeded). It names the rule file position, the step (or var)
// and the field.
type PlanError struct {
	File  string
	Line  int
	Col   int
	Where string // such as "vars.product" or "step company, on_insert.u_status"
	Err   error
}

func (e *PlanError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s: %v", e.File, e.Line, e.Col, e.Where, e.Err)
}

func (e *PlanError) Unwrap() error { return e.Err }
