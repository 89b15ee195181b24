package mapping

import (
	"fmt"
	"sort"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// pos is a 1-based line and column (in characters) of the rule file.
type pos struct{ line, col int }

// source is the rule file's text, kept to turn positions inside an
// expression into positions in the file.
type source struct {
	lines [][]rune
}

func newSource(data []byte) *source {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	parts := strings.Split(text, "\n")
	s := &source{lines: make([][]rune, len(parts))}
	for i, p := range parts {
		s.lines[i] = []rune(p)
	}
	return s
}

func nodePos(n ast.Node) pos {
	if n == nil {
		return pos{1, 1}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return pos{1, 1}
	}
	return pos{max(tk.Position.Line, 1), max(tk.Position.Column, 1)}
}

// scalar styles, for mapping an offset in a value to the file.
const (
	stylePlain = iota
	styleSingle
	styleDouble
	styleBlock
)

// contentStart returns where a scalar's value text begins in the file,
// its style and, for a block scalar, its indentation.
func (s *source) contentStart(n ast.Node) (p pos, style, indent int) {
	p = nodePos(n)
	switch v := n.(type) {
	case *ast.StringNode:
		switch v.GetToken().Type {
		case token.SingleQuoteType:
			return pos{p.line, p.col + 1}, styleSingle, 0
		case token.DoubleQuoteType:
			return pos{p.line, p.col + 1}, styleDouble, 0
		}
	case *ast.LiteralNode:
		// The value starts on the first line after the | or > indicator,
		// indented like its first non-blank line.
		for l := p.line; l < len(s.lines); l++ {
			row := s.lines[l]
			trimmed := strings.TrimLeft(string(row), " ")
			if trimmed == "" {
				continue
			}
			indent = len(row) - len([]rune(trimmed))
			break
		}
		return pos{p.line + 1, indent + 1}, styleBlock, indent
	}
	return p, stylePlain, 0
}

// offsetPos returns the file position of the k-th character (0-based) of
// scalar n's value, following YAML's quoting and line folding. When the
// text cannot be followed it returns the scalar's own position.
func (s *source) offsetPos(n ast.Node, k int) pos {
	start, style, indent := s.contentStart(n)
	l, i := start.line-1, start.col-1
	if l < 0 || l >= len(s.lines) {
		return nodePos(n)
	}
	for ; k > 0; k-- {
		if l >= len(s.lines) {
			return nodePos(n)
		}
		row := s.lines[l]
		if i >= len(row) { // a line break in the value, or a folded space
			l++
			if l >= len(s.lines) {
				return nodePos(n)
			}
			next := s.lines[l]
			i = 0
			if style == styleBlock {
				i = min(indent, len(next))
			} else {
				for i < len(next) && (next[i] == ' ' || next[i] == '\t') {
					i++
				}
			}
			continue
		}
		switch {
		case style == styleSingle && row[i] == '\'' && i+1 < len(row) && row[i+1] == '\'':
			i += 2
		case style == styleDouble && row[i] == '\\' && i+1 < len(row):
			switch row[i+1] {
			case 'x':
				i += 4
			case 'u':
				i += 6
			case 'U':
				i += 10
			default:
				i += 2
			}
		default:
			i++
		}
	}
	return pos{l + 1, i + 1}
}

// entry is one key of a YAML mapping.
type entry struct {
	key   string
	pos   pos // the key's position
	value ast.Node
}

// unwrap skips comment wrappers and reports anchors, aliases and tags,
// which rule files do not use.
func (c *compiler) unwrap(n ast.Node) ast.Node {
	for n != nil {
		switch v := n.(type) {
		case *ast.CommentGroupNode:
			return nil
		case *ast.AnchorNode:
			c.problem(nodePos(n), "anchors (&name) are not supported in rule files; write the value out or use a var")
			return nil
		case *ast.AliasNode:
			c.problem(nodePos(n), "aliases (*name) are not supported in rule files; write the value out or use a var")
			return nil
		case *ast.TagNode:
			c.problem(nodePos(n), "tags (!name) are not supported in rule files; remove the tag")
			return nil
		case *ast.DocumentNode:
			n = v.Body
			continue
		}
		return n
	}
	return nil
}

// mapping returns the entries of a mapping node in file order. A null
// node is an empty mapping; anything else is a problem.
func (c *compiler) mapping(n ast.Node, what string) []entry {
	n = c.unwrap(n)
	var values []*ast.MappingValueNode
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return nil
	case *ast.MappingNode:
		values = v.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{v}
	default:
		c.problem(nodePos(n), "%s must be a mapping of keys to values, got %s", what, nodeKind(n))
		return nil
	}
	out := make([]entry, 0, len(values))
	for _, mv := range values {
		if mv == nil || mv.Key == nil {
			continue
		}
		key, ok := c.keyText(mv.Key)
		if !ok {
			continue
		}
		out = append(out, entry{key: key, pos: nodePos(mv.Key), value: mv.Value})
	}
	return out
}

func (c *compiler) keyText(k ast.MapKeyNode) (string, bool) {
	switch v := k.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		return v.GetToken().Value, true
	}
	c.problem(nodePos(k), "a key must be plain text, got %s", nodeKind(k))
	return "", false
}

// sequence returns the elements of a sequence node.
func (c *compiler) sequence(n ast.Node, what string) []ast.Node {
	n = c.unwrap(n)
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return nil
	case *ast.SequenceNode:
		return v.Values
	}
	c.problem(nodePos(n), "%s must be a list (lines starting with -), got %s", what, nodeKind(n))
	return nil
}

// checkKeys reports keys not in allowed, with the closest allowed key as a
// suggestion, and returns the entries by key.
func (c *compiler) checkKeys(entries []entry, what string, allowed ...string) map[string]entry {
	out := make(map[string]entry, len(entries))
	for _, e := range entries {
		if !contains(allowed, e.key) {
			msg := fmt.Sprintf("unknown key %q in %s", e.key, what)
			if s := closest(e.key, allowed); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; allowed keys: " + strings.Join(sorted(allowed), ", ")
			}
			c.problem(e.pos, "%s", msg)
			continue
		}
		out[e.key] = e
	}
	return out
}

// text returns a scalar's text (for names, tables, policies, defaults).
func (c *compiler) text(n ast.Node, what string) (string, bool) {
	n = c.unwrap(n)
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true
		}
		return "", true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		return v.GetToken().Value, true
	case nil:
		return "", false
	}
	c.problem(nodePos(n), "%s must be text, got %s", what, nodeKind(n))
	return "", false
}

// exprText returns the expression source of a scalar. YAML numbers and
// booleans are expressions as they are written; null is nil.
func (c *compiler) exprText(n ast.Node, what string) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		return v.GetToken().Value, true
	case *ast.NullNode:
		return "nil", true
	case nil:
		return "nil", true
	}
	c.problem(nodePos(n), "%s must be an expression (a text value), got %s; quote it if it is meant as one expression", what, nodeKind(n))
	return "", false
}

func nodeKind(n ast.Node) string {
	switch n.(type) {
	case nil, *ast.NullNode:
		return "nothing (null)"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return "text"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "true/false"
	}
	return "a " + n.Type().String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sorted(list []string) []string {
	out := append([]string(nil), list...)
	sort.Strings(out)
	return out
}

// closest returns the candidate nearest to s when it is near enough to be
// a likely typo, or "".
func closest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if len(s) >= 4 && (strings.HasPrefix(c, s) || strings.HasPrefix(s, c)) {
			return c
		}
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= max(1, len([]rune(s))/3) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
