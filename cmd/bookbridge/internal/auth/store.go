package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// Conditions callers map to answers.
var (
	ErrUnknownKey   = errors.New("auth: unknown or revoked API key")
	ErrBadLogin     = errors.New("auth: unknown user or wrong password")
	ErrNoSession    = errors.New("auth: no valid session")
	ErrExists       = errors.New("auth: the name is taken")
	ErrNotFound     = errors.New("auth: no such name")
	ErrWeakPassword = errors.New("auth: the password needs at least 12 characters")
)

// KeyPrefix starts every API key, so leaked keys are easy to recognise.
const KeyPrefix = "bbk_"

// Store keeps keys, users and sessions in the server's database.
type Store struct {
	db  *bun.DB
	now func() time.Time

	// Active API keys are cached so the intake path does not read the
	// database on every request; a revocation takes effect within keyTTL
	// in other processes, at once in this one.
	keyTTL   time.Duration
	mu       sync.Mutex
	keys     []APIKey
	loadedAt time.Time
}

// New returns a Store over db; now is the clock.
func New(db *bun.DB, now func() time.Time) *Store {
	return &Store{db: db, now: now, keyTTL: 5 * time.Second}
}

func randomSecret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return strings.ToLower(strings.TrimRight(base32.StdEncoding.EncodeToString(b), "="))
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// CreateKey makes a new API key and returns it; only its hash is stored, so
// this is the one time it can be shown.
func (s *Store) CreateKey(ctx context.Context, name string, role Role) (string, error) {
	if _, err := ParseKeyRole(string(role)); err != nil {
		return "", err
	}
	if err := CheckName("API key", name); err != nil {
		return "", err
	}
	key := KeyPrefix + randomSecret(32)
	k := &APIKey{Name: name, Role: role, Hash: hashSecret(key), Prefix: key[:len(KeyPrefix)+6], CreatedAt: s.now().UTC()}
	if _, err := s.db.NewInsert().Model(k).Exec(ctx); err != nil {
		if isUnique(err) {
			return "", fmt.Errorf("%w: an API key named %q exists; revoke it first or choose another name", ErrExists, name)
		}
		return "", err
	}
	s.invalidate()
	return key, nil
}

// ListKeys returns every key, revoked ones included, without secrets.
func (s *Store) ListKeys(ctx context.Context) ([]APIKey, error) {
	var keys []APIKey
	err := s.db.NewSelect().Model(&keys).Order("name").Scan(ctx)
	return keys, err
}

// RevokeKey revokes the key named name.
func (s *Store) RevokeKey(ctx context.Context, name string) error {
	res, err := s.db.NewUpdate().Model((*APIKey)(nil)).Set("revoked_at = ?", s.now().UTC()).
		Where("name = ? AND revoked_at IS NULL", name).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: no active API key named %q", ErrNotFound, name)
	}
	s.invalidate()
	return nil
}

func (s *Store) invalidate() {
	s.mu.Lock()
	s.loadedAt = time.Time{}
	s.mu.Unlock()
}

func (s *Store) activeKeys(ctx context.Context) ([]APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loadedAt.IsZero() && s.now().Sub(s.loadedAt) < s.keyTTL {
		return s.keys, nil
	}
	var keys []APIKey
	if err := s.db.NewSelect().Model(&keys).Where("revoked_at IS NULL").Scan(ctx); err != nil {
		return nil, err
	}
	s.keys, s.loadedAt = keys, s.now()
	return keys, nil
}

// CheckKey finds the active key matching presented. Every stored hash is
// compared in constant time, so timing tells nothing about which key (if
// any) is close.
func (s *Store) CheckKey(ctx context.Context, presented string) (APIKey, error) {
	keys, err := s.activeKeys(ctx)
	if err != nil {
		return APIKey{}, fmt.Errorf("auth: reading API keys: %w", err)
	}
	h := []byte(hashSecret(presented))
	found := -1
	for i := range keys {
		if subtle.ConstantTimeCompare(h, []byte(keys[i].Hash)) == 1 {
			found = i
		}
	}
	if found < 0 || presented == "" {
		return APIKey{}, ErrUnknownKey
	}
	return keys[found], nil
}

// AddUser creates a console user.
func (s *Store) AddUser(ctx context.Context, name, password string, role Role) error {
	if _, err := ParseUserRole(string(role)); err != nil {
		return err
	}
	if err := CheckName("user", name); err != nil {
		return err
	}
	if len([]rune(password)) < 12 {
		return ErrWeakPassword
	}
	u := &User{Name: name, Role: role, PasswordHash: hashPassword(password), CreatedAt: s.now().UTC()}
	if _, err := s.db.NewInsert().Model(u).Exec(ctx); err != nil {
		if isUnique(err) {
			return fmt.Errorf("%w: a user named %q exists", ErrExists, name)
		}
		return err
	}
	return nil
}

// SetUser changes a user's role and, when password is not empty, password.
func (s *Store) SetUser(ctx context.Context, name, password string, role Role) error {
	q := s.db.NewUpdate().Model((*User)(nil)).Where("name = ?", name).Set("role = ?", role)
	if password != "" {
		if len([]rune(password)) < 12 {
			return ErrWeakPassword
		}
		q = q.Set("password_hash = ?", hashPassword(password))
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: no user named %q", ErrNotFound, name)
	}
	return nil
}

// DisableUser keeps the user named name from logging in and ends their
// sessions at once. Disabling a disabled user changes nothing.
func (s *Store) DisableUser(ctx context.Context, name string) error {
	return s.changeUser(ctx, name, func(ctx context.Context, tx bun.Tx, id int64) error {
		_, err := tx.NewUpdate().Model((*User)(nil)).Set("disabled = ?", true).Where("id = ?", id).Exec(ctx)
		return err
	})
}

// EnableUser lets a disabled user log in again (with their old password).
func (s *Store) EnableUser(ctx context.Context, name string) error {
	return s.changeUser(ctx, name, func(ctx context.Context, tx bun.Tx, id int64) error {
		_, err := tx.NewUpdate().Model((*User)(nil)).Set("disabled = ?", false).Where("id = ?", id).Exec(ctx)
		return err
	})
}

// RemoveUser deletes the user named name and their sessions. History
// entries keep the name as it was written.
func (s *Store) RemoveUser(ctx context.Context, name string) error {
	return s.changeUser(ctx, name, func(ctx context.Context, tx bun.Tx, id int64) error {
		_, err := tx.NewDelete().Model((*User)(nil)).Where("id = ?", id).Exec(ctx)
		return err
	})
}

// changeUser runs change on the user named name in a transaction that
// also deletes the user's sessions: after a disable or a removal, the
// next request of any of their browsers finds no session. (Enabling ends
// none, as there are none.)
func (s *Store) changeUser(ctx context.Context, name string, change func(ctx context.Context, tx bun.Tx, id int64) error) error {
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var id int64
		err := tx.NewSelect().Model((*User)(nil)).Column("id").Where("name = ?", name).Scan(ctx, &id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no user named %q", ErrNotFound, name)
		}
		if err != nil {
			return err
		}
		if err := change(ctx, tx, id); err != nil {
			return err
		}
		_, err = tx.NewDelete().Model((*Session)(nil)).Where("user_id = ?", id).Exec(ctx)
		return err
	})
}

// ListUsers returns every user.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	var users []User
	err := s.db.NewSelect().Model(&users).Order("name").Scan(ctx)
	return users, err
}

// Login checks a user's password and opens a session of ttl. It returns
// the session token for the cookie.
func (s *Store) Login(ctx context.Context, name, password string, ttl time.Duration) (string, *Session, error) {
	var u User
	err := s.db.NewSelect().Model(&u).Where("name = ?", name).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		checkPassword(dummyHash, password) // same work whether or not the user exists
		return "", nil, ErrBadLogin
	}
	if err != nil {
		return "", nil, err
	}
	if !checkPassword(u.PasswordHash, password) || u.Disabled {
		return "", nil, ErrBadLogin
	}
	token := randomSecret(32)
	now := s.now().UTC()
	sess := &Session{TokenHash: hashSecret(token), CSRF: randomSecret(24), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if _, err := s.db.NewInsert().Model(sess).Exec(ctx); err != nil {
		return "", nil, err
	}
	sess.User = &u
	// Expired sessions of anyone are removed on the way.
	_, _ = s.db.NewDelete().Model((*Session)(nil)).Where("expires_at < ?", now).Exec(ctx)
	return token, sess, nil
}

// Session returns the live session of token, with its user.
func (s *Store) Session(ctx context.Context, token string) (*Session, error) {
	if token == "" {
		return nil, ErrNoSession
	}
	var sess Session
	err := s.db.NewSelect().Model(&sess).Relation("User").
		Where("token_hash = ?", hashSecret(token)).Where("expires_at > ?", s.now().UTC()).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	// A session whose user is disabled, or gone (a login that read the
	// user just before a removal can still write its session), is none.
	if sess.User == nil || sess.User.ID == 0 || sess.User.Disabled {
		return nil, ErrNoSession
	}
	return &sess, nil
}

// Logout ends the session of token.
func (s *Store) Logout(ctx context.Context, token string) error {
	_, err := s.db.NewDelete().Model((*Session)(nil)).Where("token_hash = ?", hashSecret(token)).Exec(ctx)
	return err
}

func isUnique(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "unique") || strings.Contains(msg, "duplicate key")
}
