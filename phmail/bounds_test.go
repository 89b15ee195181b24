package phmail_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/phmail"
)

// TestMessageBounds checks the bounds on one message: its decoded size and
// the PDFs checked in it, and that the limits are judged when a Parser is
// made.
func TestMessageBounds(t *testing.T) {
	three := []byte(mixed(headers(stdSubject, "bounds@ph.example.com"), "bb",
		textPart("bb", "utf-8", "7bit", stdBody),
		filePart("bb", "application/pdf", "attachment", "a.pdf", contractPDF),
		filePart("bb", "application/pdf", "attachment", "b.pdf", contractPDF),
		filePart("bb", "application/pdf", "attachment", "c.pdf", contractPDF)))

	p, err := phmail.NewParser(phmail.WithLimits(phmail.Limits{MaxPDFs: 2}))
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Parse(three)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 3 || !m.Attachments[0].Usable || !m.Attachments[1].Usable || m.Attachments[2].Usable ||
		!strings.Contains(strings.Join(m.Attachments[2].Warnings, " "), "could not be checked: the message has more than 2 PDFs") {
		t.Fatalf("MaxPDFs: %+v", m.Attachments)
	}

	small := int64(len(contractPDF)*2 + len(stdBody))
	p, err = phmail.NewParser(phmail.WithLimits(phmail.Limits{MaxDecodedBytes: small, MaxAttachmentBytes: small}))
	if err != nil {
		t.Fatal(err)
	}
	var le *phmail.LimitError
	if _, err := p.Parse(three); !errors.As(err, &le) || le.Limit != phmail.LimitDecodedSize || le.Got <= le.Max || !phmail.IsRejection(err) {
		t.Fatalf("MaxDecodedBytes: %v", err)
	}

	// The checks of one message share MaxPDFCheckTime and the caller's
	// context; the PDFs past either are kept, not usable, and the fields
	// still come through.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	p, err = phmail.NewParser(phmail.WithLimits(phmail.Limits{MaxPDFCheckTime: time.Nanosecond}))
	if err != nil {
		t.Fatal(err)
	}
	for name, parse := range map[string]func() (*phmail.Message, error){
		"MaxPDFCheckTime": func() (*phmail.Message, error) { return p.Parse(three) },
		"context ended":   func() (*phmail.Message, error) { return phmail.ParseContext(ended, three) },
	} {
		m, err := parse()
		if err != nil || m.ECCID != "0001234567" || len(m.Attachments) != 3 {
			t.Fatalf("%s: %v %+v", name, err, m)
		}
		for _, a := range m.Attachments {
			if a.Usable || !strings.Contains(strings.Join(a.Warnings, " "), "could not be checked: the time for the PDF checks of this email ran out") {
				t.Errorf("%s: %s usable=%v %q", name, a.FileName, a.Usable, a.Warnings)
			}
		}
	}

	_, err = phmail.NewParser(phmail.WithLimits(phmail.Limits{PDFCheckMemory: 1 << 20, MaxDecodedBytes: 1 << 20}))
	for _, want := range []string{"PDFCheckMemory: at least 16 MiB", "MaxDecodedBytes: must be at least MaxAttachmentBytes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewParser: %v, want %q", err, want)
		}
	}
}

// TestShowInline checks the one rule for what opens in a browser, on its
// own and on the verdicts of the hostile fixtures.
func TestShowInline(t *testing.T) {
	cases := []struct {
		ct     string
		usable bool
		want   bool
	}{
		{"application/pdf", true, true},
		{"application/pdf", false, false},
		{"application/zip", true, false},
		{"application/octet-stream", true, false},
		{"text/html", true, false},
		{"image/svg+xml", true, false},
	}
	for _, c := range cases {
		if got := phmail.ShowInline(c.ct, c.usable); got != c.want {
			t.Errorf("ShowInline(%q, %v) = %v", c.ct, c.usable, got)
		}
	}
	m, err := phmail.Parse(readFixture(t, "17-hostile-pdfs.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var inline []string
	for _, a := range m.Attachments {
		if phmail.ShowInline(a.ContentType, a.Usable) {
			inline = append(inline, a.FileName)
		}
	}
	if strings.Join(inline, ",") != "Contract_DR00004711.pdf" {
		t.Fatalf("inline files %q, want only the real contract", inline)
	}
}
