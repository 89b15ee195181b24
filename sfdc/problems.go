package sfdc

import (
	"strconv"
	"unicode/utf8"
)

// MaxProblems is the most problems one payload's ValidationError keeps; the
// rest are counted in its Omitted field. A payload of many wrong values
// then costs bounded memory however many it has.
const MaxProblems = 1000

// problemList collects problems up to MaxProblems and counts the rest.
type problemList struct {
	list    []Problem
	omitted int
}

func (l *problemList) add(p Problem) {
	if len(l.list) >= MaxProblems {
		l.omitted++
		return
	}
	l.list = append(l.list, p)
}

func (l *problemList) len() int { return len(l.list) + l.omitted }

// clipLen is the most bytes of a value a message quotes.
const clipLen = 80

// clip shortens s, a value quoted in a message, to about clipLen bytes
// (whole UTF-8 characters) and says how long it was.
func clip(s string) string {
	if len(s) <= clipLen {
		return s
	}
	cut := clipLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}
