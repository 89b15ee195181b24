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
