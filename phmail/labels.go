package phmail

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
)

// labelMatcher finds one field's labelled line.
type labelMatcher struct {
	field string
	label string // as configured, for messages
	re    *regexp.Regexp
}

// bullet and bold are what may surround a label: list markers ("-", "*",
// "•", "1.") and Markdown or enmime-style bold ("**", "*", "__").
const (
	lineStart  = `^[ \t]*(?:(?:[-*•·‣◦▪–]|\d{1,2}[.)])[ \t]*)?(?:\*\*|\*|__)?[ \t]*`
	colonPart  = `[ \t]*(?:\*\*|\*|__)?[ \t]*:[ \t]*(?:\*\*|\*|__)?[ \t]*(.*)$`
	spaceRun   = `[ \t]+`
	hyphenPart = `[ \t]*-[ \t]*`
)

// compileLabel turns a label such as "Deploy-To Email" into a pattern that
// matches it in any case, with any run of spaces or tabs between its words
// and around hyphens and the colon, after an optional bullet, with bold
// markers ignored.
func compileLabel(field, label string) (*labelMatcher, error) {
	label = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(label), ":"))
	var b strings.Builder
	b.WriteString(`(?i)` + lineStart)
	for i, word := range strings.Fields(label) {
		if i > 0 {
			b.WriteString(spaceRun)
		}
		for j, piece := range strings.Split(word, "-") {
			if j > 0 {
				b.WriteString(hyphenPart)
			}
			b.WriteString(regexp.QuoteMeta(piece))
		}
	}
	b.WriteString(colonPart)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, err
	}
	return &labelMatcher{field: field, label: label, re: re}, nil
}

// normalizeLines splits text into lines (CRLF, CR or LF), turns non-breaking
// and other odd spaces into plain ones, drops zero-width characters, and
// removes the quote markers ("> ") of forwarded or replied text.
func normalizeLines(text string) []string {
	text = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u00a0", " ", "\u2007", " ", "\u202f", " ",
		"\u200b", "", "\u200c", "", "\u200d", "", "\ufeff", "").Replace(text)
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		t := strings.TrimLeft(l, " \t")
		if strings.HasPrefix(t, ">") {
			for strings.HasPrefix(t, ">") {
				t = strings.TrimLeft(t[1:], " \t")
			}
			lines[i] = t
		}
	}
	return lines
}

// extraction is what the body gave: values by field, and warnings.
type extraction struct {
	values   map[string]string
	warnings []string
}

// extractLabels reads every configured label from lines. The first
// occurrence of a label counts; later ones with another value draw a warning
// (quoted replies repeat the body).
func (p *Parser) extractLabels(lines []string) extraction {
	ex := extraction{values: map[string]string{}}
	seen := map[string][]string{}
	for i, line := range lines {
		for _, m := range p.matchers {
			sub := m.re.FindStringSubmatch(line)
			if sub == nil {
				continue
			}
			var v string
			if m.field == FieldTicketLink {
				v = p.ticketValue(lines, i, sub[1], &ex)
			} else {
				v = strings.TrimSpace(sub[1])
				if v == "" {
					v = p.nextValueLine(lines, i)
				}
				v = firstItem(v)
			}
			v = strings.TrimSpace(strings.Trim(strings.TrimSpace(v), "*"))
			if v == "" {
				continue
			}
			seen[m.field] = append(seen[m.field], v)
			break
		}
	}
	for _, field := range dataFields {
		vals := seen[field]
		if len(vals) == 0 {
			continue
		}
		ex.values[field] = vals[0]
		for _, other := range vals[1:] {
			if other != vals[0] {
				ex.warnings = append(ex.warnings, fmt.Sprintf("label %s appears %d times with different values; the first (%q) was used", p.labelOf(field), len(vals), vals[0]))
				break
			}
		}
	}
	return ex
}

// nextValueLine returns the next non-blank line after i when it is not
// itself a labelled line: some templates put the value under its label.
func (p *Parser) nextValueLine(lines []string, i int) string {
	for j := i + 1; j < len(lines) && j <= i+2; j++ {
		t := strings.TrimSpace(lines[j])
		if t == "" {
			continue
		}
		if p.isLabelLine(t) {
			return ""
		}
		return t
	}
	return ""
}

func (p *Parser) isLabelLine(line string) bool {
	return slices.ContainsFunc(p.matchers, func(m *labelMatcher) bool { return m.re.MatchString(line) })
}

// maxTicketLines bounds how far the ticket details may run, so that a body
// repeating the label cannot make the scan quadratic.
const maxTicketLines = 20

// ticketValue is the text after the ticket label up to the configured end
// ("Best Regards"), across lines, with whitespace runs collapsed.
func (p *Parser) ticketValue(lines []string, i int, rest string, ex *extraction) string {
	var parts []string
	end := p.cfg.TicketEnd
	candidate := []string{rest}
	candidate = append(candidate, lines[i+1:min(len(lines), i+1+maxTicketLines)]...)
	for _, l := range candidate {
		if k := indexFold(l, end); k >= 0 {
			parts = append(parts, l[:k])
			return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
		}
		if len(parts) > 0 && p.isLabelLine(l) {
			break
		}
		parts = append(parts, l)
	}
	ex.warnings = append(ex.warnings, fmt.Sprintf("label %s: no %q follows the ticket details; the rest of the line was used", p.labelOf(FieldTicketLink), p.cfg.TicketEnd))
	v := strings.TrimSpace(rest)
	if v == "" {
		v = p.nextValueLine(lines, i)
	}
	return v
}

// indexFold returns the byte offset in s of the first match of sub,
// ignoring case, or -1. Unlike searching strings.ToLower(s), the offset is
// always one of s itself (lower-casing can change a string's length).
func indexFold(s, sub string) int {
	if sub == "" {
		return 0
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// firstItem returns the first item of a comma-separated list.
func firstItem(v string) string {
	if k := strings.IndexByte(v, ','); k >= 0 {
		v = v[:k]
	}
	return strings.TrimSpace(v)
}

// cleanEmail reduces "Name <a@b>" or "a@b <mailto:a@b>" to the address.
func cleanEmail(v string) (string, bool) {
	if a, err := mail.ParseAddress(v); err == nil {
		return a.Address, true
	}
	if k := strings.IndexAny(v, " <("); k > 0 {
		if a, err := mail.ParseAddress(v[:k]); err == nil {
			return a.Address, true
		}
	}
	return v, false
}

func (p *Parser) labelOf(field string) string {
	switch field {
	case FieldDRNumber:
		return "DR number (last 10 characters of the subject)"
	case FieldCompanyName:
		if len(p.cfg.Labels[field]) == 0 {
			return "company name (subject, between \"Provisioned - \" and the DR number)"
		}
	}
	if l := p.cfg.Labels[field]; len(l) > 0 {
		return strings.TrimSuffix(strings.TrimSpace(l[0]), ":") + ":"
	}
	return field
}
