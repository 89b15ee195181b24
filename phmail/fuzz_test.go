package phmail_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/bookbridge/bookbridge/phmail"
)

// FuzzParse feeds arbitrary messages through Parse: each must end in a
// Message or one of the documented errors, never a panic, and a parsed
// message must respect the limits and carry safe attachment names.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, name := range files {
		f.Add(readFixture(f, filepath.Base(name)))
	}
	for _, s := range []string{"", "\n\n", "Subject: To Be Provisioned - X DR00000001\n\nECC ID: 1\n",
		"Subject: RE: fw: To Be Provisioned\nContent-Type: multipart/mixed; boundary=a\n\n--a\n\n--a--\n",
		"Content-Type: text/html\nSubject: To Be Provisioned - A DR00000002\n\n<table><tr><td>ECC ID:<td>5</table>"} {
		f.Add([]byte(s))
	}
	lim := phmail.Limits{MaxMessageBytes: 1 << 20, MaxDepth: 4, MaxParts: 20, MaxAttachmentBytes: 1 << 19, MaxHeaderBytes: 8 << 10}
	p, err := phmail.NewParser(phmail.WithLimits(lim))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := p.Parse(raw)
		var (
			mf *phmail.MissingFieldsError
			le *phmail.LimitError
			me *phmail.MalformedError
		)
		switch {
		case err == nil:
		case errors.Is(err, phmail.ErrNotPH):
			if m == nil {
				t.Fatal("ErrNotPH without a message")
			}
			return
		case errors.As(err, &mf):
			if len(mf.Fields) == 0 || len(mf.Fields) != len(mf.Labels) || m == nil {
				t.Fatalf("bad MissingFieldsError %+v", mf)
			}
		case errors.As(err, &le):
			if le.Limit == "" || le.Got <= le.Max {
				t.Fatalf("bad LimitError %+v", le)
			}
			return
		case errors.As(err, &me):
			return
		default:
			t.Fatalf("Parse returned %T: %v", err, err)
		}
		if len(m.ContentHash) != 64 || m.Size != len(raw) {
			t.Fatalf("hash %q size %d", m.ContentHash, m.Size)
		}
		for _, a := range m.Attachments {
			if a.FileName == "" || a.FileName != phmail.SanitizeFileName(a.FileName, "x") || a.Size > lim.MaxAttachmentBytes {
				t.Fatalf("unsafe attachment %q (%d bytes)", a.FileName, a.Size)
			}
			if a.Size != int64(len(a.Data)) || len(a.SHA256) != 64 {
				t.Fatalf("attachment %q: size %d, %d bytes, sha %q", a.FileName, a.Size, len(a.Data), a.SHA256)
			}
		}
	})
}
