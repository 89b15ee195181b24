package sfdc

import (
	"errors"
	"sort"
	"strings"
)

// DecodeAndValidate decodes data like Decode and validates the value like
// Validate, and reports every problem of both at once in one
// *ValidationError: values of the wrong type, lists over the records
// limit, strings holding a control character other than tab, CR and LF
// (member names and undeclared members included), and the rules' problems.
// A rule problem at the place of a decoding problem, or above it, is left
// out: it only repeats that the value is missing.
//
// It fails with a *DecodeError only when data is no JSON object at all
// (over the size limit, malformed, invalid UTF-8, a duplicate key, not an
// object).
func DecodeAndValidate[T any](data []byte, opts ...Option) (*Decoded[T], error) {
	c := newDecodeConfig(opts)
	d, problems, err := decode[T](data, c)
	if err != nil {
		return nil, err
	}
	// Places of decoding problems and every place above them.
	var covered map[string]bool
	if len(problems.list) > 0 {
		covered = make(map[string]bool, 2*len(problems.list))
		for _, p := range problems.list {
			for path := p.Path; path != ""; {
				covered[path] = true
				i := strings.LastIndexByte(path, '/')
				if i < 0 {
					break
				}
				path = path[:i]
			}
		}
	}
	controlProblems(data, problems)
	v := c.validator
	if v == nil {
		v = defaultValidatorInstance()
	}
	if err := v.Validate(&d.Value); err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return nil, err
		}
		for _, p := range ve.Problems {
			if !covered[p.Path] {
				problems.add(p)
			}
		}
		problems.omitted += ve.Omitted
	}
	if problems.len() == 0 {
		return d, nil
	}
	sort.SliceStable(problems.list, func(i, j int) bool { return problems.list[i].Path < problems.list[j].Path })
	return nil, &ValidationError{Problems: problems.list, Omitted: problems.omitted}
}
