package phmail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
)

// maxFileNameBytes keeps sanitized names within common file-system limits.
const maxFileNameBytes = 180

// SanitizeFileName turns an attachment's declared name into a safe base
// name: only the last path element counts (both / and \ separate), control,
// reserved and invisible characters become "_", leading dots and trailing
// dots or spaces are dropped, and the name is cut to 180 bytes keeping its
// extension. An empty result becomes fallback.
func SanitizeFileName(name, fallback string) string {
	if k := strings.LastIndexAny(name, `/\`); k >= 0 {
		name = name[k+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			b.WriteByte('_')
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteByte('_')
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimLeft(strings.TrimRight(strings.TrimSpace(b.String()), ". "), ". ")
	if strings.Trim(name, "_") == "" {
		return fallback
	}
	if len(name) > maxFileNameBytes {
		ext := path.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		base := name[:maxFileNameBytes-len(ext)]
		for !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
		name = strings.TrimRight(base, ". ") + ext
	}
	return name
}

// isPDFType reports media types used for PDFs.
func isPDFType(ct string) bool {
	return ct == "application/pdf" || ct == "application/x-pdf" || ct == "application/acrobat"
}

// fileParts returns the envelope's file parts in MIME order without repeats:
// attachments, inline files and other non-text parts (such as a PDF part
// with no Content-Disposition).
func fileParts(env *enmime.Envelope) []*enmime.Part {
	seen := map[*enmime.Part]bool{}
	var out []*enmime.Part
	add := func(ps []*enmime.Part) {
		for _, p := range ps {
			if p == nil || seen[p] || strings.HasPrefix(p.ContentType, "multipart/") {
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	add(env.Attachments)
	add(env.Inlines)
	add(env.OtherParts)
	// MIME order: sort by position in a depth-first walk of the tree.
	order := map[*enmime.Part]int{}
	i := 0
	_ = env.Root.DepthMatchAll(func(p *enmime.Part) bool {
		order[p] = i
		i++
		return false
	})
	for a := 1; a < len(out); a++ {
		for b := a; b > 0 && order[out[b]] < order[out[b-1]]; b-- {
			out[b], out[b-1] = out[b-1], out[b]
		}
	}
	return out
}

// attachments builds the Attachment list, enforcing the attachment size
// limit and checking every PDF.
func (p *Parser) attachments(ctx context.Context, parts []*enmime.Part) ([]Attachment, error) {
	ctx, cancel := context.WithTimeout(ctx, p.limits.MaxPDFCheckTime)
	defer cancel()
	var out []Attachment
	used := map[string]int{}
	pdfs := 0
	for i, part := range parts {
		if n := int64(len(part.Content)); n > p.limits.MaxAttachmentBytes {
			return nil, &LimitError{Limit: LimitAttachmentSize, Max: p.limits.MaxAttachmentBytes, Got: n,
				Detail: SanitizeFileName(part.FileName, fmt.Sprintf("part %s", part.PartID))}
		}
		ct := strings.ToLower(part.ContentType)
		if ct == "" {
			ct = "application/octet-stream"
		}
		a := Attachment{
			ContentType: ct,
			Size:        int64(len(part.Content)),
			Data:        part.Content,
			Inline:      part.Disposition == "inline" || (part.Disposition == "" && part.ContentID != ""),
			Usable:      true,
			Warnings:    []string{},
		}
		sum := sha256.Sum256(part.Content)
		a.SHA256 = hex.EncodeToString(sum[:])
		safe := SanitizeFileName(part.FileName, fallbackName(i+1, ct))
		if part.FileName != "" && safe != part.FileName {
			a.Warnings = append(a.Warnings, fmt.Sprintf("file name %q was made safe as %q", part.FileName, safe))
		}
		a.FileName = p.uniqueName(safe, used)
		if a.FileName != safe {
			a.Warnings = append(a.Warnings, fmt.Sprintf("another file is named %q; this one was renamed %q", safe, a.FileName))
		}
		namedPDF := strings.EqualFold(path.Ext(a.FileName), ".pdf")
		a.PDF = namedPDF || isPDFType(ct) || hasPDFHeader(part.Content)
		if a.PDF && !p.skipPDFCheck {
			v := unusable(fmt.Sprintf("could not be checked: the message has more than %d PDFs (phmail.Limits.MaxPDFs)", p.limits.MaxPDFs))
			if pdfs++; pdfs <= p.limits.MaxPDFs {
				v = p.pdf.check(ctx, part.Content)
			}
			a.Warnings = append(a.Warnings, v.warnings...)
			a.Usable = v.usable
		}
		out = append(out, a)
	}
	return out, nil
}

func fallbackName(n int, ct string) string {
	ext := ".bin"
	switch {
	case isPDFType(ct):
		ext = ".pdf"
	case ct == "message/rfc822":
		ext = ".eml"
	default:
		if e, ok := fallbackExt[ct]; ok {
			ext = e
		}
	}
	return fmt.Sprintf("attachment-%d%s", n, ext)
}

// fallbackExt is a fixed table (not the system's mime.types) so that names
// are the same on every machine.
var fallbackExt = map[string]string{
	"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "text/plain": ".txt",
	"text/html": ".html", "text/calendar": ".ics", "application/zip": ".zip",
}

// uniqueName appends " (2)", " (3)", ... before the extension of a name
// already used in the message.
func (p *Parser) uniqueName(name string, used map[string]int) string {
	key := strings.ToLower(name)
	used[key]++
	if used[key] == 1 {
		return name
	}
	ext := path.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for n := used[key]; ; n++ {
		suffix := fmt.Sprintf(" (%d)%s", n, ext)
		b := base
		for len(b)+len(suffix) > maxFileNameBytes || !utf8.ValidString(b) {
			b = b[:len(b)-1]
		}
		cand := strings.TrimRight(b, ". ") + suffix
		if used[strings.ToLower(cand)] == 0 {
			used[strings.ToLower(cand)] = 1
			return cand
		}
	}
}
