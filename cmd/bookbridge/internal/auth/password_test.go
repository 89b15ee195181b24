package auth

import (
	"strings"
	"testing"
)

// A login that names no user checks the password against dummyHash, which
// must cost what checking a real hash costs: the same argon2id parameters,
// salt length and key length as hashPassword writes. It must match no
// password.
func TestDummyHashCostsWhatARealHashCosts(t *testing.T) {
	real := hashPassword("correct horse")
	form := func(h string) []string {
		parts := strings.Split(h, "$")
		if len(parts) != 6 {
			t.Fatalf("%q is not a PHC string", h)
		}
		return []string{parts[1], parts[2], parts[3], strings.Repeat("s", len(parts[4])), strings.Repeat("k", len(parts[5]))}
	}
	if got, want := form(dummyHash), form(real); strings.Join(got, "$") != strings.Join(want, "$") {
		t.Fatalf("dummy hash has the form %v, a real hash %v", got, want)
	}
	if !checkPassword(real, "correct horse") || checkPassword(real, "wrong") {
		t.Fatal("a real hash does not check as it should")
	}
	for _, pw := range []string{"", "bookbridge-not-a-password", "correct horse"} {
		if checkPassword(dummyHash, pw) {
			t.Fatalf("the dummy hash matches %q", pw)
		}
	}
}
