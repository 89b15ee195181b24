package sfdc_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bookbridge/bookbridge/sfdc"
)

// BenchmarkDecodeValidate measures Decode and Validate on the full example
// deal (12 line items, 4 sales-team members).
func BenchmarkDecodeValidate(b *testing.B) {
	raw := readPayload(b, "deal-full.json")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		d, err := sfdc.Decode[sfdc.Opportunity](raw)
		if err != nil {
			b.Fatal(err)
		}
		if err := sfdc.Validate(&d.Value); err != nil {
			b.Fatal(err)
		}
	}
}

// hostileDeals are the costliest deals of about 6 MiB (the default size
// limit) that the tests could make: each must cost time and memory in
// proportion to its size, and its problems must stay bounded.
func hostileDeals(b *testing.B) map[string][]byte {
	const size = sfdc.DefaultMaxBytes - 4096
	full := readPayload(b, "deal-full.json")
	fill := func(prefix, unit, suffix string) []byte {
		n := (size - len(prefix) - len(suffix)) / len(unit)
		return []byte(prefix + strings.Repeat(unit, n)[:n*len(unit)-1] + suffix)
	}
	return map[string][]byte{
		"empty line items":      fill(`{"OpportunityLineItems":{"records":[`, `{},`, `]}}`),
		"bad records in limit":  lineItems(b, sfdc.DefaultMaxRecords, `{"Name__c":"\u0000","Quantity":"x","TotalPrice":[1],"New_Contract_Start_Date__c":1,"New_Contract_End_Date__c":"2026-13-01","PricebookEntry":"x","Adobe_SKU__c":{}}`),
		"control characters":    fill(`{"Custom__c":[`, `"\u0000",`, `]}`),
		"a 6 MiB number":        edit(b, full, `"Quantity": 1,`, `"Quantity": `+strings.Repeat("7", size-len(full))+`,`),
		"a 6 MiB exponent":      edit(b, full, `"Quantity": 1,`, `"Quantity": 1e`+strings.Repeat("0", size-len(full))+`1,`),
		"wrong types":           fill(`{"OpportunityLineItems":{"records":[`, `1,`, `]},"Account":"x"}`),
		"many unknown members":  members(size),
		"line items of strings": fill(`{"OpportunityLineItems":{"records":[`, `"",`, `]}}`),
	}
}

// members is a deal of one unknown object of as many members as fit size.
func members(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"Custom__c":{"k":0`)
	for i := 0; b.Len() < size-32; i++ {
		fmt.Fprintf(&b, `,"k%d":0`, i)
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

// BenchmarkHostileDeals reports the time and the bytes allocated for
// DecodeAndValidate of each hostile deal.
func BenchmarkHostileDeals(b *testing.B) {
	for name, body := range hostileDeals(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				_, err := sfdc.DecodeAndValidate[sfdc.Opportunity](body)
				var ve *sfdc.ValidationError
				if !errors.As(err, &ve) || len(ve.Problems) > sfdc.MaxProblems {
					b.Fatalf("want bounded problems, got %v", err)
				}
			}
		})
	}
}
