package servicenow

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/bookbridge/bookbridge/loader"
)

var (
	namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	idPattern   = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)
)

// checkName accepts table and field names as ServiceNow spells them:
// lowercase letters, digits and underscores.
func checkName(kind, name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("servicenow: %s name %q is not a ServiceNow name (lowercase letters, digits, _)", kind, name)
	}
	return nil
}

func checkID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("servicenow: %q is not a sys_id", id)
	}
	return nil
}

// checkValue rejects the values an encoded query cannot carry exactly.
//
// ServiceNow has no escape for ^, which separates conditions (a value
// "x^ORname=y" would add a condition); a line break ends the query in some
// clients; a value starting with "javascript:" is run as a script by the
// instance instead of being compared. Everything else is sent as it is.
func checkValue(field, v string) error {
	switch {
	case strings.Contains(v, "^"):
		return fmt.Errorf("%w: %s=%q contains ^, which ServiceNow encoded queries cannot escape; match on another field", loader.ErrUnsupportedValue, field, v)
	case strings.ContainsAny(v, "\r\n"):
		return fmt.Errorf("%w: %s=%q contains a line break; match on another field", loader.ErrUnsupportedValue, field, v)
	case strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "javascript:"):
		return fmt.Errorf("%w: %s=%q starts with javascript:, which ServiceNow would run as a script", loader.ErrUnsupportedValue, field, v)
	}
	return nil
}

// encodeQuery writes the alternatives of where as an encoded query: one
// alternative as conditions joined by ^; several that differ in one field
// only as the shared conditions plus fieldIN (when no value holds a comma
// or is empty, and none has spaces at its ends); otherwise the alternatives joined by ^NQ. An empty value
// becomes fieldISEMPTY (no value, or an empty string).
func encodeQuery(where []map[string]string) (string, error) {
	if len(where) == 0 {
		return "", fmt.Errorf("servicenow: a query needs at least one condition")
	}
	for _, w := range where {
		if len(w) == 0 {
			return "", fmt.Errorf("servicenow: a query alternative has no condition; it would match every record")
		}
		for k, v := range w {
			if err := checkName("field", k); err != nil {
				return "", err
			}
			if err := checkValue(k, v); err != nil {
				return "", err
			}
		}
	}
	if q, ok := encodeIn(where); ok {
		return q, nil
	}
	groups := make([]string, 0, len(where))
	seen := map[string]bool{}
	for _, w := range where {
		g := conjunction(w)
		if !seen[g] {
			seen[g] = true
			groups = append(groups, g)
		}
	}
	return strings.Join(groups, "^NQ"), nil
}

func condition(field, value string) string {
	if value == "" {
		return field + "ISEMPTY"
	}
	return field + "=" + value
}

func conjunction(w map[string]string) string {
	keys := sortedKeys(w)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = condition(k, w[k])
	}
	return strings.Join(parts, "^")
}

// encodeIn writes alternatives that share every field but one as
// "shared^fieldINa,b,c".
func encodeIn(where []map[string]string) (string, bool) {
	if len(where) < 2 {
		return conjunction(where[0]), len(where) == 1
	}
	keys := sortedKeys(where[0])
	varying := ""
	for _, w := range where[1:] {
		if !slices.Equal(sortedKeys(w), keys) {
			return "", false
		}
		for _, k := range keys {
			if w[k] != where[0][k] {
				if varying != "" && varying != k {
					return "", false
				}
				varying = k
			}
		}
	}
	if varying == "" {
		return conjunction(where[0]), true
	}
	var values []string
	for _, w := range where {
		v := w[varying]
		if v == "" || strings.Contains(v, ",") || v != strings.TrimSpace(v) {
			return "", false
		}
		if !slices.Contains(values, v) {
			values = append(values, v)
		}
	}
	var parts []string
	for _, k := range keys {
		if k != varying {
			parts = append(parts, condition(k, where[0][k]))
		}
	}
	parts = append(parts, varying+"IN"+strings.Join(values, ","))
	return strings.Join(parts, "^"), true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
