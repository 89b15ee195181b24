package phmail_test

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/bookbridge/bookbridge/phmail"
)

// largePDF is a valid PDF of about 1.4 MB (a long content stream).
func largePDF() []byte {
	var b strings.Builder
	for i := 0; b.Len() < 1_400_000; i++ {
		fmt.Fprintf(&b, ") Tj T* (Clause %d: the parties agree on the managed services described in annex %d", i, i%17)
	}
	return buildPDF("Contract"+b.String(), "")
}

// BenchmarkParse2MB parses a PH email of about 2 MB: a text body and a
// 1.4 MB PDF in base64, PDF check included.
func BenchmarkParse2MB(b *testing.B) {
	raw := []byte(mixed(headers(stdSubject, "bench@ph.example.com"), "bb",
		textPart("bb", "utf-8", "quoted-printable", qp(stdBody)),
		filePart("bb", "application/pdf", "attachment", "Contract_DR00004711.pdf", largePDF())))
	m, err := phmail.Parse(raw)
	if err != nil || len(m.UsablePDFs()) != 1 {
		b.Fatalf("setup: %v %+v", err, m)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := phmail.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// hostileEmail is a PH email with n copies of the PDF pdf and the real
// contract.
func hostileEmail(n int, pdf []byte) []byte {
	files := []string{filePart("bh", "application/pdf", "attachment", "Contract_DR00004711.pdf", contractPDF)}
	for i := range n {
		files = append(files, filePart("bh", "application/pdf", "attachment", fmt.Sprintf("bomb-%d.pdf", i), pdf))
	}
	return []byte(mixed(headers(stdSubject, "bench-hostile@ph.example.com"), "bh", textPart("bh", "utf-8", "7bit", stdBody), files...))
}

// flateStreamPDF is a PDF whose metadata stream (which pdfcpu's validation
// decodes) Flate-decodes to n zero bytes.
func flateStreamPDF(n int) []byte {
	var zb bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&zb, zlib.BestCompression)
	chunk := make([]byte, 1<<20)
	for left := n; left > 0; left -= len(chunk) {
		zw.Write(chunk[:min(left, len(chunk))])
	}
	zw.Close()
	z := zb.Bytes()
	return buildPDF("Contract with a large metadata stream", " /Metadata 6 0 R",
		fmt.Sprintf("<< /Type /Metadata /Subtype /XML /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream", len(z), z))
}

// peakSampler records the highest Go heap (live and unswept objects) and
// the highest memory the Go runtime holds from the system (mapped, less
// what it has returned) while it runs.
type peakSampler struct {
	stop       chan struct{}
	done       chan struct{}
	heap, mapd uint64
}

func startPeakSampler() *peakSampler {
	s := &peakSampler{stop: make(chan struct{}), done: make(chan struct{})}
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			s.heap = max(s.heap, samples[0].Value.Uint64())
			s.mapd = max(s.mapd, samples[1].Value.Uint64()-samples[2].Value.Uint64())
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *peakSampler) finish() (heap, mapped uint64) {
	close(s.stop)
	<-s.done
	return s.heap, s.mapd
}

// BenchmarkParseHostile parses the worst PH emails made here and reports
// the peak Go heap and the peak memory mapped by the Go runtime (MiB) over
// all iterations (the runtime's, not the process's resident set: run serve
// under /usr/bin/time -v for that), with the default limits: ten PDFs (the most checked in
// one message) whose streams decode to just under what a check may use
// (usable: within the bound), and ten compressed-stream bombs far past it
// (not usable).
func BenchmarkParseHostile(b *testing.B) {
	under := phmail.DefaultPDFCheckMemory/8 - 1<<20
	cases := []struct {
		name   string
		raw    []byte
		usable int
	}{
		{"10 PDFs with a 31 MiB metadata stream each", hostileEmail(phmail.DefaultMaxPDFs-1, flateStreamPDF(int(under))), phmail.DefaultMaxPDFs},
		{"10 bombs of 1 GiB each", hostileEmail(phmail.DefaultMaxPDFs-1, flateStreamPDF(1<<30)), 1},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			debug.FreeOSMemory()
			s := startPeakSampler()
			b.SetBytes(int64(len(c.raw)))
			for b.Loop() {
				m, err := phmail.Parse(c.raw)
				if err != nil || len(m.UsablePDFs()) != c.usable {
					b.Fatalf("%v; usable PDFs %d; %+v", err, len(m.UsablePDFs()), m.Attachments[1].Warnings)
				}
			}
			heap, mapped := s.finish()
			b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(mapped)/(1<<20), "peak-held-MiB")
			b.ReportMetric(float64(len(c.raw))/(1<<20), "email-MiB")
		})
	}
}
