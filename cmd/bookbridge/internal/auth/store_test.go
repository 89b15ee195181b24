package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/cmd/bookbridge/internal/auth"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newStore(t *testing.T, db *bun.DB) (*auth.Store, *clock) {
	t.Helper()
	ctx := context.Background()
	if err := auth.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := auth.Migrate(ctx, db); err != nil { // twice is harmless
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	return auth.New(db, c.now), c
}

func TestAPIKeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, _ := newStore(t, db)
		k1, err := s.CreateKey(ctx, "salesforce", auth.RoleIntake)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := s.CreateKey(ctx, "salesforce-next", auth.RoleIntake)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(k1, auth.KeyPrefix) || k1 == k2 || len(k1) < 40 {
			t.Fatalf("keys %q %q", k1, k2)
		}
		if _, err := s.CreateKey(ctx, "salesforce", auth.RoleAdmin); !errors.Is(err, auth.ErrExists) {
			t.Fatalf("duplicate name: %v", err)
		}
		if _, err := s.CreateKey(ctx, "x", "root"); err == nil {
			t.Fatal("unknown role accepted")
		}
		for _, k := range []string{k1, k2} {
			got, err := s.CheckKey(ctx, k)
			if err != nil || got.Role != auth.RoleIntake {
				t.Fatalf("CheckKey: %v %+v", err, got)
			}
		}
		for _, bad := range []string{"", "bbk_nope", k1 + "x", strings.ToUpper(k1)} {
			if _, err := s.CheckKey(ctx, bad); !errors.Is(err, auth.ErrUnknownKey) {
				t.Errorf("CheckKey(%q) = %v", bad, err)
			}
		}
		// Rotation: revoke the old key, the new one still works.
		if err := s.RevokeKey(ctx, "salesforce"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CheckKey(ctx, k1); !errors.Is(err, auth.ErrUnknownKey) {
			t.Fatalf("revoked key still accepted: %v", err)
		}
		if _, err := s.CheckKey(ctx, k2); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeKey(ctx, "salesforce"); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("revoke twice: %v", err)
		}
		keys, err := s.ListKeys(ctx)
		if err != nil || len(keys) != 2 || keys[0].RevokedAt == nil {
			t.Fatalf("list: %v %+v", err, keys)
		}
		// Nothing stored equals the key itself.
		var n int
		if err := db.NewSelect().Model((*auth.APIKey)(nil)).ColumnExpr("count(*)").Where("hash = ? OR prefix = ?", k2, k2).Scan(ctx, &n); err != nil || n != 0 {
			t.Fatalf("plain key stored: %d %v", n, err)
		}
	})
}

func TestUsersAndSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, clk := newStore(t, db)
		if err := s.AddUser(ctx, "olga", "short", auth.RoleOperator); !errors.Is(err, auth.ErrWeakPassword) {
			t.Fatalf("weak password: %v", err)
		}
		if err := s.AddUser(ctx, "olga", "correct horse battery", auth.RoleOperator); err != nil {
			t.Fatal(err)
		}
		if err := s.AddUser(ctx, "olga", "correct horse battery", auth.RoleViewer); !errors.Is(err, auth.ErrExists) {
			t.Fatalf("duplicate user: %v", err)
		}
		if _, _, err := s.Login(ctx, "olga", "wrong password!!", time.Hour); !errors.Is(err, auth.ErrBadLogin) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, _, err := s.Login(ctx, "nobody", "correct horse battery", time.Hour); !errors.Is(err, auth.ErrBadLogin) {
			t.Fatalf("unknown user: %v", err)
		}
		token, sess, err := s.Login(ctx, "olga", "correct horse battery", time.Hour)
		if err != nil || sess.CSRF == "" || sess.User.Role != auth.RoleOperator {
			t.Fatalf("login: %v %+v", err, sess)
		}
		got, err := s.Session(ctx, token)
		if err != nil || got.User.Name != "olga" || got.CSRF != sess.CSRF {
			t.Fatalf("session: %v %+v", err, got)
		}
		clk.t = clk.t.Add(2 * time.Hour)
		if _, err := s.Session(ctx, token); !errors.Is(err, auth.ErrNoSession) {
			t.Fatalf("expired session: %v", err)
		}
		token, _, _ = s.Login(ctx, "olga", "correct horse battery", time.Hour)
		if err := s.Logout(ctx, token); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, token); !errors.Is(err, auth.ErrNoSession) {
			t.Fatalf("after logout: %v", err)
		}
		if err := s.SetUser(ctx, "olga", "", auth.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		users, _ := s.ListUsers(ctx)
		if len(users) != 1 || users[0].Role != auth.RoleAdmin || strings.Contains(users[0].PasswordHash, "horse") {
			t.Fatalf("users %+v", users)
		}
	})
}

func TestRoles(t *testing.T) {
	cases := []struct {
		have, need auth.Role
		ok         bool
	}{
		{auth.RoleIntake, auth.RoleIntake, true},
		{auth.RoleIntake, auth.RoleViewer, false},
		{auth.RoleViewer, auth.RoleIntake, false},
		{auth.RoleViewer, auth.RoleOperator, false},
		{auth.RoleOperator, auth.RoleViewer, true},
		{auth.RoleOperator, auth.RoleIntake, true},
		{auth.RoleAdmin, auth.RoleOperator, true},
		{auth.RoleOperator, auth.RoleAdmin, false},
		{"", auth.RoleViewer, false},
	}
	for _, c := range cases {
		if got := c.have.Allows(c.need); got != c.ok {
			t.Errorf("%q.Allows(%q) = %v", c.have, c.need, got)
		}
	}
}

// TestDisableEnableRemoveUser: disabling ends every session of the user at
// once and refuses their login like a wrong password; enabling lets them
// log in again; removing deletes them and their sessions. Other users'
// sessions are untouched.
func TestDisableEnableRemoveUser(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, _ := newStore(t, db)
		const pw = "correct horse battery"
		for _, name := range []string{"olga", "victor"} {
			if err := s.AddUser(ctx, name, pw, auth.RoleOperator); err != nil {
				t.Fatal(err)
			}
		}
		login := func(name string) string {
			t.Helper()
			token, _, err := s.Login(ctx, name, pw, time.Hour)
			if err != nil {
				t.Fatalf("login %s: %v", name, err)
			}
			return token
		}
		live := func(token string) bool {
			t.Helper()
			_, err := s.Session(ctx, token)
			if err != nil && !errors.Is(err, auth.ErrNoSession) {
				t.Fatal(err)
			}
			return err == nil
		}
		olga1, olga2, victor := login("olga"), login("olga"), login("victor")

		if err := s.DisableUser(ctx, "olga"); err != nil {
			t.Fatal(err)
		}
		if live(olga1) || live(olga2) || !live(victor) {
			t.Fatalf("after disabling olga: sessions %v %v, victor's %v", live(olga1), live(olga2), live(victor))
		}
		_, _, err := s.Login(ctx, "olga", pw, time.Hour)
		_, _, wrong := s.Login(ctx, "olga", "not her password", time.Hour)
		if !errors.Is(err, auth.ErrBadLogin) || err.Error() != wrong.Error() {
			t.Fatalf("disabled login: %v, want the same as a wrong password (%v)", err, wrong)
		}
		if err := s.DisableUser(ctx, "olga"); err != nil {
			t.Fatalf("disable twice: %v", err)
		}
		users, err := s.ListUsers(ctx)
		if err != nil || len(users) != 2 || !users[0].Disabled || users[1].Disabled {
			t.Fatalf("list: %v %+v", err, users)
		}

		if err := s.EnableUser(ctx, "olga"); err != nil {
			t.Fatal(err)
		}
		if olga3 := login("olga"); !live(olga3) || live(olga1) {
			t.Fatal("after enabling: a new login has no session, or an old one came back")
		}

		olga4 := login("olga")
		if err := s.RemoveUser(ctx, "olga"); err != nil {
			t.Fatal(err)
		}
		if live(olga4) || !live(victor) {
			t.Fatal("after removing olga: her session lives, or victor's ended")
		}
		if _, _, err := s.Login(ctx, "olga", pw, time.Hour); !errors.Is(err, auth.ErrBadLogin) {
			t.Fatalf("removed user's login: %v", err)
		}
		var sessions int
		if err := db.NewSelect().Model((*auth.Session)(nil)).ColumnExpr("count(*)").Scan(ctx, &sessions); err != nil || sessions != 1 {
			t.Fatalf("%d sessions left (%v), want victor's only", sessions, err)
		}
		if err := s.AddUser(ctx, "olga", pw, auth.RoleViewer); err != nil {
			t.Fatalf("the name of a removed user is free again: %v", err)
		}

		for name, fn := range map[string]func(context.Context, string) error{"disable": s.DisableUser, "enable": s.EnableUser, "remove": s.RemoveUser} {
			if err := fn(ctx, "nobody"); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("%s nobody: %v", name, err)
			}
		}
	})
}

// TestSessionsByUserIndex: the second migration adds the index that
// ending a user's sessions looks them up by.
func TestSessionsByUserIndex(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		newStore(t, db)
		q := "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'bb_sessions_user_idx'"
		if db.Dialect().Name().String() == "pg" {
			q = "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'bb_sessions_user_idx'"
		}
		var n int
		if err := db.NewRaw(q).Scan(ctx, &n); err != nil || n != 1 {
			t.Fatalf("index bb_sessions_user_idx: %d (%v)", n, err)
		}
	})
}

// TestNames: user and API key names are 1 to 64 letters, digits, '.',
// '_', '-' or '@', checked when the user or key is made; the error says
// the rule.
func TestNames(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"olga", true},
		{"o", true},
		{"olga.berg@example.com", true},
		{"salesforce-prod_2", true},
		{"ABC.xyz-09_@", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"olga berg", false},
		{"<img src=x onerror=alert(1)>", false},
		{"olga\n", false},
		{"Müller", false},
		{"a/b", false},
		{"a:b", false},
		{"a\x00", false},
	}
	valid := 0
	for _, c := range cases {
		if c.ok {
			valid++
		}
	}
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s, _ := newStore(t, db)
		for i, c := range cases {
			userErr := s.AddUser(ctx, c.name, "correct horse battery", auth.RoleViewer)
			_, keyErr := s.CreateKey(ctx, c.name, auth.RoleIntake)
			for what, err := range map[string]error{"user": userErr, "API key": keyErr} {
				if c.ok && err != nil {
					t.Errorf("%d: %s %q refused: %v", i, what, c.name, err)
				}
				if !c.ok && (!errors.Is(err, auth.ErrBadName) || !strings.Contains(err.Error(), "1 to 64 characters") || !strings.Contains(err.Error(), what+" name")) {
					t.Errorf("%d: %s %q: %v, want the rule", i, what, c.name, err)
				}
			}
		}
		users, _ := s.ListUsers(ctx)
		keys, _ := s.ListKeys(ctx)
		if len(users) != valid || len(keys) != valid {
			t.Fatalf("%d users and %d keys stored, want %d of each", len(users), len(keys), valid)
		}
	})
}
