package phmail

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// errBudget says that a PDF's streams decode to more than its check may
// hold in memory.
var errBudget = errors.New("budget exceeded")

// maxFlateLayers is how many Flate encodings, one inside the other,
// flateBudget follows in one stream.
const maxFlateLayers = 4

// flateBudget measures, before pdfcpu reads the file, what its Flate
// streams decode to, without keeping any of it: every "stream" keyword of
// the raw bytes that starts zlib data is inflated into a counter, and
// inflated data that is zlib data again is followed too. pdfcpu decodes
// cross-reference streams with its own fixed limit rather than the
// configured one, and keeps decoded object streams while it reads, so this
// is what keeps a compressed-stream bomb from reaching it. It returns
// errBudget once one stream passes perStream or all pass total, or the
// context's error.
func flateBudget(ctx context.Context, data []byte, perStream, total int64) error {
	left := total
	for i := 0; ; {
		k := bytes.Index(data[i:], []byte("stream"))
		if k < 0 {
			return nil
		}
		at := i + k + len("stream")
		i = at
		if k >= 3 && bytes.Equal(data[at-len("endstream"):at-len("stream")], []byte("end")) {
			continue
		}
		switch {
		case bytes.HasPrefix(data[at:], []byte("\r\n")):
			at += 2
		case bytes.HasPrefix(data[at:], []byte("\n")), bytes.HasPrefix(data[at:], []byte("\r")):
			at++
		default:
			continue
		}
		c := &counter{ctx: ctx, left: min(perStream, left)}
		if err := inflateCount(bytes.NewReader(data[at:]), c, maxFlateLayers); err != nil {
			return err
		}
		left -= min(perStream, left) - c.left
	}
}

// inflateCount inflates r, if it is zlib data, into c, following nested
// zlib data up to layers deep. Damaged data ends the count of that stream
// quietly: pdfcpu's own reading judges it.
func inflateCount(r io.Reader, c *counter, layers int) error {
	if layers == 0 {
		return nil
	}
	br := bufio.NewReaderSize(r, 512)
	if h, err := br.Peek(2); err != nil || !isZlibHeader(h) {
		return nil
	}
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil
	}
	defer zr.Close()
	inner := bufio.NewReaderSize(io.TeeReader(zr, c), 4096)
	if h, err := inner.Peek(2); err == nil && isZlibHeader(h) {
		if err := inflateCount(inner, c, layers-1); err != nil {
			return err
		}
	}
	_, err = io.Copy(io.Discard, inner)
	if errors.Is(err, errBudget) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// isZlibHeader reports a zlib stream header (RFC 1950): deflate, a window
// of at most 32 KiB and a valid check value.
func isZlibHeader(h []byte) bool {
	return h[0]&0x0f == 8 && h[0]>>4 <= 7 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0
}

// counter counts bytes written to it against a budget and stops when the
// budget or the context runs out.
type counter struct {
	ctx  context.Context
	left int64
	n    int
}

func (c *counter) Write(p []byte) (int, error) {
	c.left -= int64(len(p))
	if c.left < 0 {
		return 0, errBudget
	}
	if c.n++; c.n%64 == 0 {
		if err := c.ctx.Err(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// decodedBudget decodes, one at a time and with pdfcpu's own filters, the
// streams that pdfcpu's validation decodes with its own fixed limit rather
// than the configured one (metadata streams and page contents), and drops
// each result at once. It returns errBudget when their total passes
// budget. This covers the filters and the encryption that flateBudget
// cannot see.
func decodedBudget(ctx context.Context, xt *model.XRefTable, budget int64) error {
	left := budget
	decode := func(o types.Object) error {
		if ref, ok := o.(types.IndirectRef); ok {
			o = object(ctx, xt, ref.ObjectNumber.Value())
		}
		sd, ok := o.(types.StreamDict)
		if !ok || sd.Image() || len(sd.FilterPipeline) == 0 {
			return nil
		}
		probe := sd
		probe.Content = nil
		if err := probe.DecodeWithLimit(left); err != nil {
			if isDecodeLimit(err) {
				return errBudget
			}
			return nil // unsupported or broken filters are pdfcpu's to judge
		}
		if left -= int64(len(probe.Content)); left < 0 {
			return errBudget
		}
		return nil
	}
	for _, n := range sortedObjects(xt) {
		if err := ctx.Err(); err != nil {
			return err
		}
		o := object(ctx, xt, n)
		var d types.Dict
		switch v := o.(type) {
		case types.StreamDict:
			if t := v.Dict.Type(); t != nil && *t == "Metadata" {
				if err := decode(v); err != nil {
					return err
				}
			}
			continue
		case types.Dict:
			d = v
		default:
			continue
		}
		if t := d.Type(); t == nil || *t != "Page" {
			continue
		}
		contents := d["Contents"]
		if ref, ok := contents.(types.IndirectRef); ok {
			if a, ok := object(ctx, xt, ref.ObjectNumber.Value()).(types.Array); ok {
				contents = a
			}
		}
		list, ok := contents.(types.Array)
		if !ok {
			list = types.Array{contents}
		}
		for _, c := range list {
			if err := decode(c); err != nil {
				return err
			}
		}
	}
	return nil
}

func isDecodeLimit(err error) bool {
	return errors.Is(err, errBudget) || errors.Is(err, filter.ErrDecodeLimitExceeded)
}

// budgetReason words errBudget for the attachment's warnings.
func budgetReason(memory int64) string {
	return fmt.Sprintf("could not be checked: its compressed streams decode to more than a PDF check with %s of memory may hold (%s for one stream, %s for all; raise the PDF check memory only if such files are legitimate)",
		mib(memory), mib(streamShare(memory)), mib(memory/4))
}

func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
