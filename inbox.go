package bookbridge

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/bookbridge/bookbridge/staging/bundb"
)

// InboxMessage is a raw email as received by a channel, kept until (and
// after) its job has processed it. The same bytes received twice are one
// message.
type InboxMessage struct {
	bun.BaseModel `bun:"table:bb_inbox"`

	ID          int64      `bun:"id,pk,autoincrement" json:"id"`
	SHA256      string     `bun:"sha256,notnull,unique" json:"sha256"`
	Channel     string     `bun:"channel,notnull" json:"channel"`
	Size        int64      `bun:"size,notnull" json:"size"`
	Raw         []byte     `bun:"raw,notnull" json:"-"`
	ReceivedAt  time.Time  `bun:"received_at,notnull" json:"received_at"`
	JobID       int64      `bun:"job_id,notnull,default:0" json:"job_id"`
	ProcessedAt *time.Time `bun:"processed_at" json:"processed_at,omitempty"`
	Outcome     string     `bun:"outcome,notnull,default:''" json:"outcome"`
	Detail      string     `bun:"detail,notnull,default:''" json:"detail,omitempty"`
	RecordID    int64      `bun:"record_id,notnull,default:0" json:"record_id,omitempty"`
}

var inboxMigrations = migrate.NewMigrations()

func init() {
	inboxMigrations.Add(migrate.Migration{
		Name:    "20261127000001",
		Comment: "create bb_inbox",
		Up: func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
			_, err := m.DB().NewCreateTable().Model((*InboxMessage)(nil)).IfNotExists().Exec(ctx)
			return err
		},
		Down: func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
			_, err := m.DB().NewDropTable().Model((*InboxMessage)(nil)).IfExists().Exec(ctx)
			return err
		},
	})
}

func migrateInbox(ctx context.Context, db *bun.DB) error {
	return bundb.WithLock(ctx, db, "inbox-migrations", func(ctx context.Context) error {
		m := migrate.NewMigrator(db, inboxMigrations,
			migrate.WithTableName("bb_inbox_migrations"),
			migrate.WithLocksTableName("bb_inbox_migration_locks"),
			migrate.WithMarkAppliedOnSuccess(true))
		if err := m.Init(ctx); err != nil {
			return fmt.Errorf("inbox: preparing migrations: %w", err)
		}
		if _, err := m.Migrate(ctx); err != nil {
			return fmt.Errorf("inbox: migrating: %w", err)
		}
		return nil
	})
}

// EmailAccepted is what AcceptEmail did with a message.
type EmailAccepted struct {
	InboxID   int64 `json:"inbox_id"`
	JobID     int64 `json:"job_id"`
	Duplicate bool  `json:"duplicate"`
}

// AcceptEmail stores raw durably and enqueues its processing in the same
// transaction, so a channel may acknowledge the message as soon as this
// returns; the email worker (AddWorkers) then processes it. The same bytes
// again are not stored or processed twice. It needs Config.Queue.
func (f *Flow) AcceptEmail(ctx context.Context, raw []byte, channel string) (EmailAccepted, error) {
	if f.queue() == nil {
		return EmailAccepted{}, ErrNoQueue
	}
	sum := sha256.Sum256(raw)
	msg := &InboxMessage{SHA256: hex.EncodeToString(sum[:]), Channel: channel, Size: int64(len(raw)), Raw: raw, ReceivedAt: f.cfg.Now().UTC()}
	var out EmailAccepted
	// A message half-stored when the caller goes away would be lost or
	// half-processed: finish the transaction regardless.
	ctx = context.WithoutCancel(ctx)
	err := f.cfg.Store.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewInsert().Model(msg).On("CONFLICT (sha256) DO NOTHING").Returning("id").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var prev InboxMessage
			if err := tx.NewSelect().Model(&prev).Column("id", "job_id").Where("sha256 = ?", msg.SHA256).Scan(ctx); err != nil {
				return err
			}
			out = EmailAccepted{InboxID: prev.ID, JobID: prev.JobID, Duplicate: true}
			return nil
		}
		jobID, err := f.insertJob(ctx, tx, EmailArgs{InboxID: msg.ID}, nil)
		if err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model((*InboxMessage)(nil)).Set("job_id = ?", jobID).Where("id = ?", msg.ID).Exec(ctx); err != nil {
			return err
		}
		out = EmailAccepted{InboxID: msg.ID, JobID: jobID}
		return nil
	})
	if err != nil {
		return EmailAccepted{}, fmt.Errorf("storing the email: %w", err)
	}
	return out, nil
}

// InboxMessage returns a stored message with its raw bytes; an unknown id
// is a *NotFoundError.
func (f *Flow) InboxMessage(ctx context.Context, id int64) (*InboxMessage, error) {
	var m InboxMessage
	err := f.cfg.Store.DB().NewSelect().Model(&m).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &NotFoundError{What: "inbox message", Ref: strconv.FormatInt(id, 10)}
	}
	return &m, err
}

func (f *Flow) markInbox(ctx context.Context, id int64, res EmailProcessed) error {
	_, err := f.cfg.Store.DB().NewUpdate().Model((*InboxMessage)(nil)).
		Set("processed_at = ?", f.cfg.Now().UTC()).Set("outcome = ?", res.Outcome).Set("detail = ?", res.Detail).
		Set("record_id = ?", res.RecordID).Where("id = ?", id).Exec(ctx)
	return err
}
