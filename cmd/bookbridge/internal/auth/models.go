package auth

import (
	"time"

	"github.com/uptrace/bun"
)

// APIKey is a stored key: its name, role and hash, never the key itself.
type APIKey struct {
	bun.BaseModel `bun:"table:bb_api_keys"`

	ID         int64      `bun:"id,pk,autoincrement" json:"-"`
	Name       string     `bun:"name,notnull,unique" json:"name"`
	Role       Role       `bun:"role,notnull" json:"role"`
	Hash       string     `bun:"hash,notnull,unique" json:"-"`
	Prefix     string     `bun:"prefix,notnull" json:"prefix"`
	CreatedAt  time.Time  `bun:"created_at,notnull" json:"created_at"`
	RevokedAt  *time.Time `bun:"revoked_at" json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `bun:"last_used_at" json:"last_used_at,omitempty"`
}

// User is a console user.
type User struct {
	bun.BaseModel `bun:"table:bb_users"`

	ID           int64     `bun:"id,pk,autoincrement" json:"-"`
	Name         string    `bun:"name,notnull,unique" json:"name"`
	Role         Role      `bun:"role,notnull" json:"role"`
	PasswordHash string    `bun:"password_hash,notnull" json:"-"`
	CreatedAt    time.Time `bun:"created_at,notnull" json:"created_at"`
	Disabled     bool      `bun:"disabled,notnull,default:false" json:"disabled"`
}

// Session is a console login.
type Session struct {
	bun.BaseModel `bun:"table:bb_sessions"`

	ID        int64     `bun:"id,pk,autoincrement" json:"-"`
	TokenHash string    `bun:"token_hash,notnull,unique" json:"-"`
	CSRF      string    `bun:"csrf,notnull" json:"-"`
	UserID    int64     `bun:"user_id,notnull" json:"-"`
	CreatedAt time.Time `bun:"created_at,notnull" json:"created_at"`
	ExpiresAt time.Time `bun:"expires_at,notnull" json:"expires_at"`

	User *User `bun:"rel:belongs-to,join:user_id=id" json:"user"`
}
