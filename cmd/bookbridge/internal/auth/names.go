package auth

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxNameLen is the longest user or API key name, in characters.
const MaxNameLen = 64

// ErrBadName is the rule every new user and API key name follows. Names
// appear in logs, history entries and pages; keeping them to this set
// means no one has to think about how to quote them.
var ErrBadName = errors.New("auth: a name is 1 to 64 characters, each a letter (a-z, A-Z), a digit, '.', '_', '-' or '@'")

// CheckName reports whether name follows the rule of ErrBadName; what
// names (such as "user" or "API key") goes into the error.
func CheckName(what, name string) error {
	bad := name == "" || len(name) > MaxNameLen
	for i := 0; !bad && i < len(name); i++ {
		bad = !nameChar(name[i])
	}
	if !bad {
		return nil
	}
	return fmt.Errorf("%w; the %s name %s is not", ErrBadName, what, quoteName(name))
}

func nameChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return b == '.' || b == '_' || b == '-' || b == '@'
}

// quoteName quotes a rejected name for an error, cut short when it is long.
func quoteName(name string) string {
	if name == "" {
		return "(empty)"
	}
	if utf8.RuneCountInString(name) > MaxNameLen {
		r := []rune(name)
		return fmt.Sprintf("%q… (%d characters)", string(r[:MaxNameLen]), len(r))
	}
	return fmt.Sprintf("%q", name)
}
