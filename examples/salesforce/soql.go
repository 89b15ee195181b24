package salesforce

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// FieldPath is a field as the JSON of a queried record nests it: Account.Name
// is {"Account", "Name"}, and a field of a subquery starts with the
// relationship name, as in {"OpportunityLineItems", "PricebookEntry",
// "Product2", "Family"}.
type FieldPath []string

// String joins the path with dots.
func (p FieldPath) String() string { return strings.Join(p, ".") }

// key is the case-insensitive form used to compare paths: Salesforce API
// names are case-insensitive, and so is encoding/json when it decodes them.
func (p FieldPath) key() string { return strings.ToLower(p.String()) }

// Query is a parsed SOQL SELECT: its object (or, in a subquery, its child
// relationship), the fields it selects and its subqueries.
type Query struct {
	// From is the object after FROM; in a subquery, the child relationship.
	From string
	// Fields are the selected fields in order, relationship fields as paths.
	Fields []FieldPath
	// Subqueries are the parenthesized child-relationship queries in order.
	Subqueries []*Query
}

// Paths returns every selected field, the fields of each subquery prefixed
// with its relationship name, in query order.
func (q *Query) Paths() []FieldPath {
	out := append([]FieldPath(nil), q.Fields...)
	for _, sub := range q.Subqueries {
		for _, p := range sub.Paths() {
			out = append(out, append(FieldPath{sub.From}, p...))
		}
	}
	return out
}

// ErrSyntax is wrapped by every error of ParseQuery and InlineQuery.
var ErrSyntax = errors.New("soql syntax")

// SyntaxError says where a query could not be read.
type SyntaxError struct {
	// Offset is the byte offset into the text that was parsed.
	Offset int
	// Msg says what was expected.
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("soql: at byte %d: %s", e.Offset, e.Msg) }

// Unwrap lets errors.Is(err, ErrSyntax) match.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

type tokenKind int

const (
	tokWord tokenKind = iota // identifier or dotted path
	tokLParen
	tokRParen
	tokComma
	tokString
	tokOther
	tokEOF
)

type token struct {
	kind tokenKind
	text string
	pos  int
}

func isWordStart(r byte) bool { return r == '_' || unicode.IsLetter(rune(r)) }
func isWordPart(r byte) bool {
	return r == '_' || r == '.' || unicode.IsLetter(rune(r)) || unicode.IsDigit(rune(r))
}

// lex splits a SOQL text into tokens. Only what the select list needs is
// told apart; everything else (operators, numbers, binds) is tokOther.
func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{tokLParen, "(", i})
			i++
		case c == ')':
			out = append(out, token{tokRParen, ")", i})
			i++
		case c == ',':
			out = append(out, token{tokComma, ",", i})
			i++
		case c == '\'':
			start := i
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(s) {
				return nil, &SyntaxError{start, "string literal is not closed"}
			}
			i++
			out = append(out, token{tokString, s[start:i], start})
		case c < 0x80 && isWordStart(c):
			start := i
			for i < len(s) && s[i] < 0x80 && isWordPart(s[i]) {
				i++
			}
			out = append(out, token{tokWord, s[start:i], start})
		default:
			out = append(out, token{tokOther, string(c), i})
			i++
		}
	}
	return append(out, token{tokEOF, "", len(s)}), nil
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func isKeyword(t token, kw string) bool { return t.kind == tokWord && strings.EqualFold(t.text, kw) }

// ParseQuery reads a SOQL SELECT: the fields of its select list (plain and
// relationship paths), its FROM object and its subqueries. Clauses after
// FROM are skipped. Constructs whose JSON shape differs from the field
// names (aggregates, TYPEOF, aliases) are errors, so a check built on the
// result cannot pass by accident.
func ParseQuery(soql string) (*Query, error) {
	toks, err := lex(soql)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, &SyntaxError{t.pos, fmt.Sprintf("unexpected %q after the query", t.text)}
	}
	return q, nil
}

// query reads SELECT ... FROM name, then skips the rest of the query up to
// the closing parenthesis of a subquery or the end of the text.
func (p *parser) query() (*Query, error) {
	t := p.next()
	if !isKeyword(t, "SELECT") {
		return nil, &SyntaxError{t.pos, fmt.Sprintf("expected SELECT, found %q", t.text)}
	}
	q := &Query{}
	for {
		if err := p.selectItem(q); err != nil {
			return nil, err
		}
		t := p.next()
		if t.kind == tokComma {
			continue
		}
		if isKeyword(t, "FROM") {
			break
		}
		return nil, &SyntaxError{t.pos, fmt.Sprintf("expected a comma or FROM, found %q", t.text)}
	}
	from := p.next()
	if from.kind != tokWord || strings.Contains(from.text, ".") {
		return nil, &SyntaxError{from.pos, fmt.Sprintf("expected an object name after FROM, found %q", from.text)}
	}
	q.From = from.text
	depth := 0
	for {
		t := p.peek()
		switch t.kind {
		case tokEOF:
			if depth > 0 {
				return nil, &SyntaxError{t.pos, "a parenthesis is not closed"}
			}
			return q, nil
		case tokLParen:
			depth++
		case tokRParen:
			if depth == 0 {
				return q, nil
			}
			depth--
		}
		p.next()
	}
}

// selectItem reads one field, relationship path or subquery.
func (p *parser) selectItem(q *Query) error {
	t := p.next()
	switch {
	case t.kind == tokLParen:
		sub, err := p.query()
		if err != nil {
			return err
		}
		if c := p.next(); c.kind != tokRParen {
			return &SyntaxError{c.pos, "expected ) after the subquery"}
		}
		q.Subqueries = append(q.Subqueries, sub)
		return nil
	case isKeyword(t, "TYPEOF"):
		return &SyntaxError{t.pos, "TYPEOF is not supported: its fields depend on the record type"}
	case t.kind == tokWord:
		if n := p.peek(); n.kind == tokLParen {
			return p.function(q, t)
		}
		if bad := fieldProblem(t.text); bad != "" {
			return &SyntaxError{t.pos, bad}
		}
		if n := p.peek(); n.kind == tokWord && !strings.EqualFold(n.text, "FROM") {
			return &SyntaxError{n.pos, fmt.Sprintf("alias %q after %s is not supported: the JSON key would change", n.text, t.text)}
		}
		q.Fields = append(q.Fields, FieldPath(strings.Split(t.text, ".")))
		return nil
	default:
		return &SyntaxError{t.pos, fmt.Sprintf("expected a field or a subquery, found %q", t.text)}
	}
}

// function accepts the field functions that keep the field's JSON key
// (toLabel, convertCurrency, format) and refuses aggregates.
func (p *parser) function(q *Query, name token) error {
	switch strings.ToLower(name.text) {
	case "tolabel", "convertcurrency", "format":
	default:
		return &SyntaxError{name.pos, fmt.Sprintf("%s() is not supported: aggregates and their aliases do not keep the field names", name.text)}
	}
	p.next() // (
	arg := p.next()
	if arg.kind != tokWord || fieldProblem(arg.text) != "" {
		return &SyntaxError{arg.pos, fmt.Sprintf("expected a field inside %s()", name.text)}
	}
	if c := p.next(); c.kind != tokRParen {
		return &SyntaxError{c.pos, fmt.Sprintf("expected ) after %s(%s", name.text, arg.text)}
	}
	q.Fields = append(q.Fields, FieldPath(strings.Split(arg.text, ".")))
	return nil
}

// fieldProblem says what is wrong with a dotted field path, or "".
func fieldProblem(path string) string {
	for _, part := range strings.Split(path, ".") {
		if part == "" {
			return fmt.Sprintf("field path %q has an empty part", path)
		}
	}
	switch strings.ToUpper(path) {
	case "FROM", "SELECT", "WHERE":
		return fmt.Sprintf("expected a field, found the keyword %s", path)
	}
	return ""
}
