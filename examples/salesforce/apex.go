package salesforce

import (
	"fmt"
	"strings"
)

// InlineQuery returns the one inline SOQL query ([SELECT ... FROM from ...])
// in Apex source whose top-level FROM object is from (case-insensitive).
// Comments inside the brackets are blanked out. It is an error when there
// is no such query, or more than one, so that a check reading the result
// knows which query it checks.
func InlineQuery(apex, from string) (string, error) {
	var found []string
	for _, q := range inlineQueries(apex) {
		parsed, err := ParseQuery(q.text)
		if err != nil {
			return "", fmt.Errorf("inline SOQL query at byte %d: %w", q.pos, err)
		}
		if strings.EqualFold(parsed.From, from) {
			found = append(found, q.text)
		}
	}
	switch len(found) {
	case 0:
		return "", &SyntaxError{0, fmt.Sprintf("no inline [SELECT ... FROM %s] query; the query must be inline SOQL, not a string for Database.query", from)}
	case 1:
		return found[0], nil
	default:
		return "", &SyntaxError{0, fmt.Sprintf("%d inline queries FROM %s; keep the payload query in one place", len(found), from)}
	}
}

type inline struct {
	text string
	pos  int
}

// inlineQueries scans Apex source, skipping comments and string literals,
// and returns the text between the brackets of every [SELECT ...] (SOSL
// [FIND ...] and list indexes are ignored).
func inlineQueries(src string) []inline {
	var out []inline
	for i := 0; i < len(src); {
		switch {
		case strings.HasPrefix(src[i:], "//"):
			i = skipLine(src, i)
		case strings.HasPrefix(src[i:], "/*"):
			i = skipBlock(src, i)
		case src[i] == '\'':
			i = skipString(src, i)
		case src[i] == '[':
			j := i + 1
			for j < len(src) && strings.ContainsRune(" \t\r\n", rune(src[j])) {
				j++
			}
			if len(src)-j >= 6 && strings.EqualFold(src[j:j+6], "SELECT") && (len(src) == j+6 || !isWordPart(src[j+6])) {
				text, end := bracketBody(src, i)
				out = append(out, inline{text: text, pos: i})
				i = end
				continue
			}
			i++
		default:
			i++
		}
	}
	return out
}

// bracketBody returns the text inside the bracket that opens at open, with
// comments replaced by spaces, and the index after the closing bracket.
func bracketBody(src string, open int) (string, int) {
	var b strings.Builder
	depth := 0
	for i := open; i < len(src); {
		switch {
		case strings.HasPrefix(src[i:], "//"):
			end := skipLine(src, i)
			b.WriteByte(' ')
			i = end
		case strings.HasPrefix(src[i:], "/*"):
			end := skipBlock(src, i)
			b.WriteByte(' ')
			i = end
		case src[i] == '\'':
			end := skipString(src, i)
			b.WriteString(src[i:end])
			i = end
		case src[i] == '[':
			if depth > 0 {
				b.WriteByte('[')
			}
			depth++
			i++
		case src[i] == ']':
			depth--
			if depth == 0 {
				return b.String(), i + 1
			}
			b.WriteByte(']')
			i++
		default:
			b.WriteByte(src[i])
			i++
		}
	}
	return b.String(), len(src)
}

func skipLine(src string, i int) int {
	if j := strings.IndexByte(src[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(src)
}

func skipBlock(src string, i int) int {
	if j := strings.Index(src[i+2:], "*/"); j >= 0 {
		return i + 2 + j + 2
	}
	return len(src)
}

// skipString returns the index after the Apex string literal at i.
func skipString(src string, i int) int {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '\'':
			return j + 1
		}
	}
	return len(src)
}
