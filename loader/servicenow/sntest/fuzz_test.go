package sntest

import "testing"

// FuzzParseQuery: the double's reading of encoded queries never panics,
// and a query without ^ is one group of one term at most.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"a=1^b=2", "a=1^ORb=2^NQcISEMPTY", "aIN1,2,3^ORDERBYa", "^^NQ^OR", "NOT IN", "a!=^EQ"} {
		f.Add(s)
	}
	fields := map[string]bool{"a": true, "b": true, "c": true}
	f.Fuzz(func(t *testing.T, s string) {
		q := parseQuery(s, fields)
		_ = q.matches(map[string]string{"a": "1", "b": "2"}, true)
		_ = q.matches(map[string]string{}, false)
		for _, g := range q.groups {
			for _, term := range g {
				if len(term) == 0 {
					t.Fatalf("empty term in %q", s)
				}
			}
		}
	})
}
