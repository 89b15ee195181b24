// Package examples embeds bookbridge's sample deals and Provisioning Hub
// emails, so "bookbridge demo" can stage them from any directory.
package examples

import (
	"embed"
	"io/fs"
	"path"
	"sort"
)

//go:embed payloads/deal-*.json emails/*.eml
var samples embed.FS

// Sample is one embedded file.
type Sample struct {
	Name string // such as payloads/deal-full.json
	Data []byte
}

// Payloads returns the valid sample deals (payloads/deal-*.json), by name.
func Payloads() []Sample { return list("payloads", "deal-*.json") }

// Emails returns the sample PH emails (emails/*.eml), by name.
func Emails() []Sample { return list("emails", "*.eml") }

func list(dir, pattern string) []Sample {
	names, err := fs.Glob(samples, path.Join(dir, pattern))
	if err != nil {
		panic(err) // the patterns are constants
	}
	sort.Strings(names)
	out := make([]Sample, 0, len(names))
	for _, n := range names {
		b, err := samples.ReadFile(n)
		if err != nil {
			panic(err)
		}
		out = append(out, Sample{Name: n, Data: b})
	}
	return out
}
