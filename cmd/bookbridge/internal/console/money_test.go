package console

import (
	"strings"
	"testing"
	"time"
)

func TestFormatMoney(t *testing.T) {
	cases := []struct{ currency, amount, want string }{
		{"EUR", "495000.75", "EUR 495,000.75"},
		{"USD", "12500.00", "USD 12,500.00"},
		{"JPY", "1200000", "JPY 1,200,000"},
		{"EUR", "999", "EUR 999"},
		{"EUR", "1000", "EUR 1,000"},
		{"EUR", "0.5", "EUR 0.5"},
		{"EUR", "-1234567.891", "EUR -1,234,567.891"},
		{"EUR", "123456789012345678901234.5", "EUR 123,456,789,012,345,678,901,234.5"},
		{"EUR", "1e5", "EUR 1e5"},
		{"EUR", "12.", "EUR 12."},
		{"EUR", ".5", "EUR .5"},
		{"EUR", "", ""},
		{"", "1500", "1,500"},
		{" CHF ", " 2500.10 ", "CHF 2,500.10"},
	}
	for _, c := range cases {
		if got := FormatMoney(c.currency, c.amount); got != c.want {
			t.Errorf("FormatMoney(%q, %q) = %q, want %q", c.currency, c.amount, got, c.want)
		}
	}
}

// FuzzFormatMoney: whatever the payload's text, the formatted amount keeps
// every character of it (only commas are added) and never panics.
func FuzzFormatMoney(f *testing.F) {
	for _, s := range []string{"495000.75", "-1", "1e9", "", "0000001", "12.", "١٢٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, amount string) {
		got := FormatMoney("EUR", amount)
		trimmed := strings.TrimSpace(amount)
		if trimmed == "" {
			if got != "" {
				t.Fatalf("empty amount gave %q", got)
			}
			return
		}
		body := strings.TrimPrefix(got, "EUR ")
		if strings.ReplaceAll(body, ",", "") != strings.ReplaceAll(trimmed, ",", "") {
			t.Fatalf("FormatMoney changed the digits: %q -> %q", amount, got)
		}
	})
}

func TestServiceNowLink(t *testing.T) {
	cases := []struct{ base, table, id, want string }{
		{"https://acme.service-now.com", "core_company", "0123456789abcdef0123456789abcdef",
			"https://acme.service-now.com/core_company.do?sys_id=0123456789abcdef0123456789abcdef"},
		{"https://acme.service-now.com/", "u_sales_skus", "abc", "https://acme.service-now.com/u_sales_skus.do?sys_id=abc"},
		{"http://127.0.0.1:4000", "problem", "p1", "http://127.0.0.1:4000/problem.do?sys_id=p1"},
		{"https://acme.example/sn/", "problem", "p1", "https://acme.example/sn/problem.do?sys_id=p1"},
		{"https://acme.service-now.com", "core_company", "(new company)", ""},
		{"https://acme.service-now.com", "core_company", "x&sysparm_view=evil", ""},
		{"https://acme.service-now.com", "core_company", "", ""},
		{"javascript:alert(1)", "core_company", "abc", ""},
		{"", "core_company", "abc", ""},
	}
	for _, c := range cases {
		if got := serviceNowLink(c.base, c.table, c.id); got != c.want {
			t.Errorf("serviceNowLink(%q, %q, %q) = %q, want %q", c.base, c.table, c.id, got, c.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	cases := map[string]string{
		"":                         "/records",
		"/records/BB0001001":       "/records/BB0001001",
		"/records?q=a&state=ready": "/records?q=a&state=ready",
		"//evil.example/":          "/records",
		"/\\evil.example":          "/records",
		"https://evil.example/":    "/records",
		"records":                  "/records",
		"/login":                   "/records",
		"/x\r\nSet-Cookie: a=b":    "/records",
	}
	for in, want := range cases {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatAge(t *testing.T) {
	cases := map[time.Duration]string{
		10 * time.Second:              "just now",
		42 * time.Minute:              "42m",
		5*time.Hour + 12*time.Minute:  "5h 12m",
		50*time.Hour + 30*time.Minute: "2d 2h",
		24 * time.Hour:                "1d",
		3 * time.Hour:                 "3h",
	}
	for d, want := range cases {
		if got := formatAge(d); got != want {
			t.Errorf("formatAge(%s) = %q, want %q", d, got, want)
		}
	}
}
