package phmail

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"strings"
)

// testPDF describes a hostile or harmless PDF for the checker's tests. Its
// objects are numbered from 1: the catalog, the page tree, one page, its
// content stream and a font, then extra. Objects listed in packed go into
// one Flate-compressed object stream behind a cross-reference stream;
// without packed the file has a classic xref table.
type testPDF struct {
	catalog string   // added to the catalog dictionary
	page    string   // added to the page dictionary
	content string   // object 4, the page's content stream; default a text line
	onPage  string   // the page's /Contents; default "4 0 R"
	extra   []string // objects 6, 7, ...
	packed  []int    // object numbers to put in an object stream
	packPad int      // zero bytes after the objects of the object stream
}

func (p testPDF) objects() []string {
	content := "<< /Length 34 >>\nstream\nBT /F1 14 Tf 24 60 Td (Hi) Tj ET\nendstream"
	if p.content != "" {
		content = p.content
	}
	onPage := "4 0 R"
	if p.onPage != "" {
		onPage = p.onPage
	}
	return append([]string{
		"<< /Type /Catalog /Pages 2 0 R" + p.catalog + " >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Contents " + onPage + " /Resources << /Font << /F1 5 0 R >> >>" + p.page + " >>",
		content,
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}, p.extra...)
}

// bytes writes the file.
func (p testPDF) bytes() []byte {
	objs := p.objects()
	packed := map[int]int{} // object number -> index in the object stream
	for i, n := range p.packed {
		packed[n] = i
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
	offsets := map[int]int{}
	for i, o := range objs {
		if _, ok := packed[i+1]; ok {
			continue
		}
		offsets[i+1] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	if len(p.packed) == 0 {
		xref := b.Len()
		fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
		for n := 1; n <= len(objs); n++ {
			fmt.Fprintf(&b, "%010d 00000 n \n", offsets[n])
		}
		fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
		return b.Bytes()
	}
	// The object stream: a prolog of "number offset" pairs, then the objects.
	var prolog, body strings.Builder
	for _, n := range p.packed {
		fmt.Fprintf(&prolog, "%d %d ", n, body.Len())
		body.WriteString(objs[n-1] + "\n")
	}
	stmNr, xrefNr := len(objs)+1, len(objs)+2
	z := deflate(append([]byte(prolog.String()+body.String()), make([]byte, p.packPad)...))
	offsets[stmNr] = b.Len()
	fmt.Fprintf(&b, "%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n", stmNr, len(p.packed), prolog.Len(), len(z))
	b.Write(z)
	b.WriteString("\nendstream\nendobj\n")
	offsets[xrefNr] = b.Len()
	var xref bytes.Buffer
	entry := func(typ byte, f2 uint32, f3 uint16) {
		xref.WriteByte(typ)
		binary.Write(&xref, binary.BigEndian, f2)
		binary.Write(&xref, binary.BigEndian, f3)
	}
	entry(0, 0, 0xffff)
	for n := 1; n <= xrefNr; n++ {
		if i, ok := packed[n]; ok {
			entry(2, uint32(stmNr), uint16(i))
			continue
		}
		entry(1, uint32(offsets[n]), 0)
	}
	fmt.Fprintf(&b, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n", xrefNr, xrefNr+1, xref.Len())
	b.Write(xref.Bytes())
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", offsets[xrefNr])
	return b.Bytes()
}

func deflate(data []byte) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(data)
	zw.Close()
	return z.Bytes()
}

// streamObj writes a stream object with the dictionary entries dict and
// the (already encoded) data.
func streamObj(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// zeros returns n zero bytes Flate-compressed layers times.
func zeros(n int, layers int) []byte {
	data := make([]byte, n)
	for range layers {
		data = deflate(data)
	}
	return data
}

// runLengthBomb is RunLength data that decodes to n zero bytes (128 per
// two bytes of input).
func runLengthBomb(n int) []byte {
	var b bytes.Buffer
	for ; n > 0; n -= 128 {
		b.Write([]byte{129, 0})
	}
	b.WriteByte(128)
	return b.Bytes()
}

// hexName writes a PDF name with every character #-escaped.
func hexName(s string) string {
	var b strings.Builder
	b.WriteByte('/')
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "#%02X", s[i])
	}
	return b.String()
}
