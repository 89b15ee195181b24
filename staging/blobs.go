package staging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/uptrace/bun"
)

// BlobStore keeps the bytes of attachments and raw messages, addressed by
// their hex SHA-256. Storing the same content twice is harmless. db is the
// transaction of the change (a store outside the database ignores it).
// Blobs are never deleted by staging: they are evidence.
type BlobStore interface {
	Put(ctx context.Context, db bun.IDB, sum string, data []byte) error
	// Get returns the bytes stored under sum, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, db bun.IDB, sum string) ([]byte, error)
}

var sumPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

func checkSum(sum string) error {
	if !sumPattern.MatchString(sum) {
		return fmt.Errorf("staging: blob key %q is not a lower-case hex SHA-256", sum)
	}
	return nil
}

// DBBlobs keeps blobs in the staging_blobs table of the store's database,
// inside the same transaction as the record. It is the default.
type DBBlobs struct{}

type blobRow struct {
	bun.BaseModel `bun:"table:staging_blobs"`
	SHA256        string `bun:"sha256,pk"`
	Size          int64  `bun:"size"`
	Data          []byte `bun:"data"`
}

// Put implements BlobStore.
func (DBBlobs) Put(ctx context.Context, db bun.IDB, sum string, data []byte) error {
	if err := checkSum(sum); err != nil {
		return err
	}
	if data == nil {
		data = []byte{}
	}
	row := &blobRow{SHA256: sum, Size: int64(len(data)), Data: data}
	if _, err := db.NewInsert().Model(row).On("CONFLICT (sha256) DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("staging: storing blob %s: %w", sum, err)
	}
	return nil
}

// Get implements BlobStore.
func (DBBlobs) Get(ctx context.Context, db bun.IDB, sum string) ([]byte, error) {
	var row blobRow
	err := db.NewSelect().Model(&row).Where("sha256 = ?", sum).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("blob", sum)
	}
	if err != nil {
		return nil, fmt.Errorf("staging: reading blob %s: %w", sum, err)
	}
	if row.Data == nil {
		row.Data = []byte{}
	}
	return row.Data, nil
}

// DirBlobs keeps blobs as files under a directory, in two levels of
// subdirectories named after the hash. Files are written to a temporary
// name and renamed, so a reader never sees half a file; Get checks the
// hash. A rolled-back change may leave an unreferenced file behind, which
// is harmless.
type DirBlobs struct {
	Dir string
}

func (d DirBlobs) path(sum string) string {
	return filepath.Join(d.Dir, sum[:2], sum[2:4], sum)
}

// Put implements BlobStore.
func (d DirBlobs) Put(ctx context.Context, _ bun.IDB, sum string, data []byte) error {
	if err := checkSum(sum); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := d.path(sum)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fmt.Errorf("staging: blob directory: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("staging: writing blob %s: %w", sum, err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("staging: writing blob %s: %w", sum, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("staging: writing blob %s: %w", sum, err)
	}
	return nil
}

// Get implements BlobStore.
func (d DirBlobs) Get(ctx context.Context, _ bun.IDB, sum string) ([]byte, error) {
	if err := checkSum(sum); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(d.path(sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil, notFound("blob", sum)
	}
	if err != nil {
		return nil, fmt.Errorf("staging: reading blob %s: %w", sum, err)
	}
	if got := sha256Hex(data); got != sum {
		return nil, fmt.Errorf("staging: blob %s is damaged on disk (its content hashes to %s): restore it from backup", sum, got)
	}
	return data, nil
}
