package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Params reads the query parameters of one request strictly: every
// handler of the API (and the console's pages) reads its parameters
// through it, so that one rule holds everywhere.
//
//   - Every name and value is UTF-8 without NUL or another C0 control
//     character (tab, CR and LF are allowed), and the query itself is well
//     formed (no stray '%' or ';').
//   - A boolean is true or false, nothing else; absent is false.
//   - An integer is decimal digits within the parameter's range.
//   - An enumerated value is one of the parameter's words.
//   - A parameter that takes one value is given at most once, and a
//     parameter given with an empty value is a problem unless it is text.
//   - On a write route (any method other than GET and HEAD) a parameter
//     the handler does not read is a problem; read routes ignore them.
//
// The readers return the zero value (or the default) for a bad value and
// note the problem; Refuse then answers 400 listing every problem at once.
type Params struct {
	values   url.Values
	write    bool
	known    map[string]bool
	problems []string
}

// ReadParams parses the query of r and checks its characters.
func ReadParams(r *http.Request) *Params {
	p := &Params{known: map[string]bool{}, write: r.Method != http.MethodGet && r.Method != http.MethodHead}
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		p.problems = append(p.problems, "the query is not well formed ("+err.Error()+"): encode it as name=value pairs joined by &")
	}
	p.values = vals
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if msg := badText(name); msg != "" {
			p.problems = append(p.problems, fmt.Sprintf("a parameter name %s", msg))
			continue
		}
		for _, v := range vals[name] {
			if msg := badText(v); msg != "" {
				p.problems = append(p.problems, fmt.Sprintf("%s: the value %s", name, msg))
				break
			}
		}
	}
	return p
}

// badText says what is wrong with the characters of s, or "".
func badText(s string) string {
	if !utf8.ValidString(s) {
		return "is not UTF-8: percent-encode UTF-8 bytes"
	}
	for i, c := range []byte(s) {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' {
			return fmt.Sprintf("has the control character U+%04X at byte %d: send printable text", c, i)
		}
	}
	return ""
}

// one returns the single value of name; ok is false when it is absent or
// was given more than once (a problem).
func (p *Params) one(name string) (string, bool) {
	p.known[name] = true
	vs := p.values[name]
	switch len(vs) {
	case 0:
		return "", false
	case 1:
		return vs[0], true
	}
	p.problems = append(p.problems, fmt.Sprintf("%s is given %d times: give it once", name, len(vs)))
	return "", false
}

// Has reports whether name is in the query (and marks it known).
func (p *Params) Has(name string) bool {
	p.known[name] = true
	return len(p.values[name]) > 0
}

// Bool reads a boolean: true or false; absent is false.
func (p *Params) Bool(name string) bool {
	v, ok := p.one(name)
	if !ok {
		return false
	}
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	p.problems = append(p.problems, fmt.Sprintf("%s must be true or false, not %q", name, v))
	return false
}

// Int reads an integer from lo to hi; absent is def.
func (p *Params) Int(name string, lo, hi, def int) int {
	v, ok := p.one(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi || strings.TrimLeft(v, "0123456789") != "" {
		p.problems = append(p.problems, fmt.Sprintf("%s must be a whole number from %d to %d, not %q", name, lo, hi, v))
		return def
	}
	return n
}

// Text reads a text of at most maxRunes characters; absent is "".
func (p *Params) Text(name string, maxRunes int) string {
	v, ok := p.one(name)
	if !ok {
		return ""
	}
	if n := utf8.RuneCountInString(v); n > maxRunes {
		p.problems = append(p.problems, fmt.Sprintf("%s is %d characters long: at most %d", name, n, maxRunes))
		return ""
	}
	return v
}

// Duration reads a duration such as 30m or 24h, from lo to hi; absent is 0.
func (p *Params) Duration(name string, lo, hi time.Duration) time.Duration {
	v, ok := p.one(name)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		p.problems = append(p.problems, fmt.Sprintf("%s must be a duration from %s to %s such as 24h, not %q", name, lo, hi, v))
		return 0
	}
	return d
}

// Enum reads the words of a parameter that may be repeated or
// comma-separated, each one of allowed; absent is nil. A word given twice
// is kept once.
func Enum[T ~string](p *Params, name string, allowed []T) []T {
	p.known[name] = true
	var out []T
	for _, v := range p.values[name] {
		for _, w := range strings.Split(v, ",") {
			w = strings.TrimSpace(w)
			i := slices.Index(allowed, T(w))
			if i < 0 {
				p.problems = append(p.problems, fmt.Sprintf("%s: unknown value %q: use one of %s", name, w, joinWords(allowed)))
				continue
			}
			if !slices.Contains(out, allowed[i]) {
				out = append(out, allowed[i])
			}
		}
	}
	return out
}

func joinWords[T ~string](ws []T) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = string(w)
	}
	return strings.Join(s, ", ")
}

// Problems returns every problem found so far, unknown parameters of a
// write route included.
func (p *Params) Problems() []string {
	out := slices.Clone(p.problems)
	if !p.write {
		return out
	}
	var unknown []string
	for name := range p.values {
		if !p.known[name] && badText(name) == "" {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		takes := "no query parameters"
		if len(p.known) > 0 {
			names := make([]string, 0, len(p.known))
			for k := range p.known {
				names = append(names, k)
			}
			slices.Sort(names)
			takes = "only " + strings.Join(names, ", ")
		}
		out = append(out, fmt.Sprintf("unknown parameter %q: this request takes %s", name, takes))
	}
	return out
}

// Refuse answers 400 listing every problem and reports true when there
// are any; call it once the handler has read all its parameters.
func (p *Params) Refuse(w http.ResponseWriter, r *http.Request) bool {
	probs := p.Problems()
	if len(probs) == 0 {
		return false
	}
	writeError(w, r, http.StatusBadRequest, "bad_request", "bad query: "+strings.Join(probs, "; "))
	return true
}
