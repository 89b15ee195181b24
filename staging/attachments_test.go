package staging_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/bookbridge/bookbridge/staging"
	"github.com/bookbridge/bookbridge/staging/dbtest"
)

// binaryFiles are attachments whose bytes a text round trip would damage:
// every byte value, NULs, invalid UTF-8, CR/LF, a large random file.
func binaryFiles() []staging.EmailAttachment {
	every := make([]byte, 512)
	for i := range every {
		every[i] = byte(i)
	}
	big := make([]byte, 3<<20)
	_, _ = rand.NewChaCha8([32]byte{'b', 'b'}).Read(big)
	return []staging.EmailAttachment{
		{FileName: "every-byte.bin", ContentType: "application/octet-stream", Data: every, Usable: true},
		{FileName: "../../etc/passwd", ContentType: "text/plain; charset=utf-8", Data: []byte("line\r\n\x00\xff\xfe end"), Usable: false, Warnings: []string{"not a PDF"}},
		{FileName: "Vertrag Müller & Søn.pdf", ContentType: "application/pdf", Data: big, Usable: true},
		{FileName: "empty.txt", ContentType: "", Data: []byte{}, Usable: true},
	}
}

func TestAttachmentsRoundTripByteIdentical(t *testing.T) {
	blobStores := []struct {
		name string
		mk   func(t *testing.T) staging.BlobStore
	}{
		{"database", func(*testing.T) staging.BlobStore { return staging.DBBlobs{} }},
		{"directory", func(t *testing.T) staging.BlobStore { return staging.DirBlobs{Dir: t.TempDir()} }},
	}
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		for i, bs := range blobStores {
			name, mk := bs.name, bs.mk
			ecc := fmt.Sprintf("4200%d", i)
			t.Run(name, func(t *testing.T) {
				s, _ := newStore(t, db, staging.WithBlobs(mk(t)))
				ctx := context.Background()
				files := binaryFiles()
				e := phEmail("<files-"+name+"@ph.example>", ecc, "DR00004711", "", files...)
				rec := ingest(t, s, e).Record
				if len(rec.Attachments) != len(files) {
					t.Fatalf("%d attachments, want %d", len(rec.Attachments), len(files))
				}
				wantNames := []string{"every-byte.bin", "passwd", "Vertrag Müller & Søn.pdf", "empty.txt"}
				wantTypes := []string{"application/octet-stream", "text/plain", "application/pdf", "application/octet-stream"}
				for i, a := range mustGet(t, s, rec.ID).Attachments {
					meta, data, err := s.Attachment(ctx, rec.ID, a.ID)
					if err != nil {
						t.Fatal(err)
					}
					sum := sha256.Sum256(files[i].Data)
					if !bytes.Equal(data, files[i].Data) || meta.SHA256 != hex.EncodeToString(sum[:]) || meta.Size != int64(len(files[i].Data)) {
						t.Fatalf("%s: %d bytes back, want %d identical bytes", a.FileName, len(data), len(files[i].Data))
					}
					if meta.FileName != wantNames[i] || meta.ContentType != wantTypes[i] || meta.Usable != files[i].Usable {
						t.Fatalf("attachment %d: %q %q usable=%v", i, meta.FileName, meta.ContentType, meta.Usable)
					}
				}
				// the raw message is evidence too
				raw, err := s.RawEmail(ctx, rec.PH.EmailID)
				if err != nil || !bytes.Equal(raw, e.Raw) {
					t.Fatalf("raw email: %v", err)
				}
				// merging copies: the payload record gets copies, the bytes stay identical
				ir := intake(t, s, dealFor(t, 500+i, ecc, "DR00004711", ""))
				if ir.Outcome != staging.IntakeMerged {
					t.Fatalf("payload: %s", ir.Outcome)
				}
				for i, a := range mustGet(t, s, ir.Record.ID).Attachments {
					if _, data, err := s.Attachment(ctx, ir.Record.ID, a.ID); err != nil || !bytes.Equal(data, files[i].Data) {
						t.Fatalf("after the merge, %s: %v", a.FileName, err)
					}
				}
				if _, _, err := s.Attachment(ctx, rec.ID+1000, rec.Attachments[0].ID); !errors.Is(err, staging.ErrNotFound) {
					t.Fatalf("attachment through another record id: %v", err)
				}
			})
		}
	})
}

func TestEmailAttachmentHashMustMatch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *bun.DB) {
		s, _ := newStore(t, db)
		f := contractPDF()
		f.SHA256 = strings.Repeat("0", 64)
		_, err := s.IngestEmail(context.Background(), phEmail("<hash@ph.example>", "0001234567", "", "", f))
		if !errors.Is(err, staging.ErrInvalidInput) || !strings.Contains(err.Error(), "does not match its bytes") {
			t.Fatalf("got %v, want the hash mismatch reported", err)
		}
	})
}

func TestDirBlobsDetectsDamage(t *testing.T) {
	dir := t.TempDir()
	b := staging.DirBlobs{Dir: dir}
	ctx := context.Background()
	data := []byte("contract")
	sum := sha256.Sum256(data)
	key := hex.EncodeToString(sum[:])
	if err := b.Put(ctx, nil, key, data); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, nil, key, data); err != nil {
		t.Fatalf("storing the same content again: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, key[:2], key[2:4], key), []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, nil, key); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("got %v, want the damage reported", err)
	}
	if _, err := b.Get(ctx, nil, strings.Repeat("a", 64)); !errors.Is(err, staging.ErrNotFound) {
		t.Fatalf("missing blob: %v", err)
	}
	if err := b.Put(ctx, nil, "../escape", data); err == nil {
		t.Fatal("a key that is not a hash was accepted")
	}
}

func TestSanitizeFileName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"contract.pdf", "contract.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\ph\Vertrag.pdf`, "Vertrag.pdf"},
		{"in\x00voice\r\n.pdf", "invoice.pdf"},
		{"invoice\u202Efdp.exe", "invoicefdp.exe"},
		{`what?<is>"this"|*.pdf`, "what__is__this___.pdf"},
		{"  spaced   out  .pdf ", "spaced out .pdf"},
		{"...hidden", "hidden"},
		{"CON.pdf", "_CON.pdf"},
		{"lpt1", "_lpt1"},
		{"", "attachment"},
		{"../", "attachment"},
		{".pdf", "pdf"},
		{"Müller & Søn – Vertrag.pdf", "Müller & Søn – Vertrag.pdf"},
		{"bad\xffutf8.pdf", "badutf8.pdf"},
		{strings.Repeat("ä", 200) + ".pdf", strings.Repeat("ä", 88) + ".pdf"},
	}
	for _, c := range cases {
		got := staging.SanitizeFileName(c.in)
		if got != c.want {
			t.Errorf("SanitizeFileName(%q) = %q, want %q", c.in, got, c.want)
		}
		if len(got) > staging.MaxFileNameBytes {
			t.Errorf("SanitizeFileName(%q) is %d bytes long", c.in, len(got))
		}
	}
}
