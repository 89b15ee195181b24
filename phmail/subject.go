package phmail

import "strings"

// stripReplyPrefixes removes reply and forward prefixes ("RE:", "Fwd:",
// "AW: WG:", ...) from the start of subject, repeatedly and in any case,
// with any spaces around them; "RE[2]:" counts as well.
func stripReplyPrefixes(subject string, prefixes []string) string {
	s := strings.TrimSpace(subject)
	for range 64 { // bounded: each round removes at least one prefix
		stripped := false
		for _, p := range prefixes {
			if len(s) < len(p) || !strings.EqualFold(s[:len(p)], p) {
				continue
			}
			rest := strings.TrimLeft(s[len(p):], " \t")
			if strings.HasPrefix(rest, "[") {
				if k := strings.IndexByte(rest, ']'); k > 0 && k < 6 {
					rest = strings.TrimLeft(rest[k+1:], " \t")
				}
			}
			if strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "：") {
				_, after, _ := strings.Cut(rest, ":")
				if strings.HasPrefix(rest, "：") {
					after = strings.TrimPrefix(rest, "：")
				}
				s = strings.TrimSpace(after)
				stripped = true
				break
			}
		}
		if !stripped {
			return s
		}
	}
	return s
}

// isPHSubject reports whether the subject (without reply prefixes) starts
// with the PH prefix, in any case and with any run of spaces in it.
func isPHSubject(s, prefix string) bool {
	words := strings.Fields(prefix)
	fields := strings.Fields(s)
	if len(fields) < len(words) {
		return false
	}
	for i, w := range words {
		if i == len(words)-1 {
			// The last word may be followed directly by punctuation ("Provisioned-").
			if len(fields[i]) < len(w) || !strings.EqualFold(fields[i][:len(w)], w) {
				return false
			}
			continue
		}
		if !strings.EqualFold(fields[i], w) {
			return false
		}
	}
	return true
}
