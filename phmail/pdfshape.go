package phmail

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
)

// pdfHeaderWindow is how far into a file readers look for "%PDF-", and how
// far from its end they look for "%%EOF".
const pdfHeaderWindow = 1024

// hasPDFHeader reports whether data carries the PDF signature where PDF
// readers look for it. It decides which files are checked as PDFs; the
// check itself (pdfShape) is stricter.
func hasPDFHeader(data []byte) bool {
	return bytes.Contains(data[:min(len(data), pdfHeaderWindow)], []byte("%PDF-"))
}

// pdfShape checks the frame of a PDF file before any parser reads it:
//
//   - "%PDF-" within the first 1024 bytes, with nothing but text before it,
//     so that an archive or other container that holds a PDF (a ZIP's
//     local header, a tar header) is not taken for the PDF it holds;
//   - at the end, "startxref", the offset of the last cross-reference
//     section and "%%EOF", followed by nothing but white space, so that
//     nothing is appended after the document;
//   - that offset pointing at a cross-reference table ("xref") or a
//     cross-reference stream ("N G obj").
//
// It returns "" for a file of that shape, else the reason it is not a PDF.
func pdfShape(data []byte) string {
	head := data[:min(len(data), pdfHeaderWindow)]
	at := bytes.Index(head, []byte("%PDF-"))
	if at < 0 {
		return fmt.Sprintf("not a PDF: the content does not start with %%PDF- (it looks like %s)", http.DetectContentType(data))
	}
	for _, c := range head[:at] {
		if !isTextByte(c) {
			return fmt.Sprintf("not a PDF: %%PDF- comes after %d bytes of other data (it looks like %s holding a PDF)", at, http.DetectContentType(data))
		}
	}
	end := len(data)
	for end > 0 && isPDFSpace(data[end-1]) {
		end--
	}
	if !bytes.HasSuffix(data[:end], []byte("%%EOF")) {
		if bytes.Contains(data[max(0, end-pdfHeaderWindow):end], []byte("%%EOF")) {
			return "not a PDF: other data follows the last %%EOF (something is appended to the document)"
		}
		return "not a PDF: it does not end with %%EOF (the file is cut off or not a PDF)"
	}
	tail := data[max(0, end-pdfHeaderWindow) : end-len("%%EOF")]
	k := bytes.LastIndex(tail, []byte("startxref"))
	if k < 0 {
		return "not a PDF: no startxref before the final %%EOF (the cross-reference section cannot be found)"
	}
	num := bytes.TrimFunc(tail[k+len("startxref"):], func(r rune) bool { return r < 0x80 && isPDFSpace(byte(r)) })
	off, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || off < 0 || off >= int64(len(data)) {
		return fmt.Sprintf("not a PDF: startxref is followed by %q, not the offset of a cross-reference section", oneLine(string(num)))
	}
	// Offsets count from the header when text precedes it.
	for _, base := range []int64{int64(at), 0} {
		if base+off < int64(len(data)) && isXRefStart(data[base+off:]) {
			return ""
		}
	}
	return fmt.Sprintf("not a PDF: startxref %d does not point at a cross-reference section", off)
}

// isXRefStart reports whether b starts with "xref" or with an object
// header "N G obj" (a cross-reference stream).
func isXRefStart(b []byte) bool {
	b = b[:min(len(b), 64)]
	if bytes.HasPrefix(b, []byte("xref")) {
		return true
	}
	i := 0
	for field := 0; field < 2; field++ {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
		gap := i
		for i < len(b) && isPDFSpace(b[i]) {
			i++
		}
		if i == gap {
			return false
		}
	}
	return bytes.HasPrefix(b[i:], []byte("obj"))
}

// isPDFSpace reports PDF white space (ISO 32000 7.2.2).
func isPDFSpace(c byte) bool {
	switch c {
	case 0, '\t', '\n', '\f', '\r', ' ':
		return true
	}
	return false
}

// isTextByte reports printable ASCII and the usual line and tab controls.
func isTextByte(c byte) bool {
	return (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}
