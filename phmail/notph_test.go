package phmail_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/bookbridge/bookbridge/phmail"
)

// NotPH agrees with Parse on every fixture that has a readable header.
func TestNotPHAgreesWithParse(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.eml")
	p, err := phmail.NewParser()
	if err != nil {
		t.Fatal(err)
	}
	notPH := 0
	for _, f := range files {
		raw := readFixture(t, filepath.Base(f))
		_, perr := p.Parse(raw)
		got := p.NotPH(raw)
		if want := errors.Is(perr, phmail.ErrNotPH); got != want {
			t.Errorf("%s: NotPH = %v, Parse says not PH = %v (%v)", f, got, want, perr)
		}
		if got {
			notPH++
		}
	}
	if notPH == 0 {
		t.Fatal("no fixture is a non-PH email: the test proves nothing")
	}
	for _, subject := range []string{"=?utf-8?q?RE=3A_fw=3A__To_Be_Provisioned_-_Acme_DR00000001?=", "AW: WG: to be   provisioned - X DR00000001"} {
		if p.NotPH([]byte("Subject: " + subject + "\r\n\r\nbody\r\n")) {
			t.Errorf("%q judged not PH", subject)
		}
	}
}
