package phmail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

var pdfcpuSetup sync.Once

// pdfConfig returns pdfcpu's relaxed validation configuration with its
// resource limits taken from memory (the bytes one check may use), without
// letting pdfcpu create its configuration directory (see the package doc).
//
// One stream may decode to an eighth of memory: pdfcpu's buffers can hold
// three times that while they grow, and the garbage collector lets the
// heap reach about twice what is live. Object counts are bounded so that
// the cross-reference table (a few hundred bytes per entry) stays within
// an eighth too.
func pdfConfig(memory int64) *model.Configuration {
	pdfcpuSetup.Do(func() {
		if model.ConfigPath == "default" {
			api.DisableConfigDir()
		}
	})
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	conf.Cmd = model.VALIDATE
	l := &conf.Limits
	eighth := streamShare(memory)
	l.MaxStreamBytes = min(l.MaxStreamBytes, eighth)
	l.MaxDecodeBytes = min(l.MaxDecodeBytes, eighth)
	l.MaxImageBytes = min(l.MaxImageBytes, eighth)
	l.MaxImagePixels = min(l.MaxImagePixels, eighth/4)
	l.MaxObjectStreamFirst = min(l.MaxObjectStreamFirst, eighth)
	entries := int(min(int64(l.MaxObjectCount), eighth/256))
	l.MaxObjectCount = entries
	l.MaxXRefEntries = min(l.MaxXRefEntries, entries)
	l.MaxObjectStreamCount = min(l.MaxObjectStreamCount, entries)
	return conf
}

// verdict is the outcome of one PDF check: usable or not, and the
// warnings that say why (or, for a usable file, what the operator should
// know, such as its links).
type verdict struct {
	warnings []string
	usable   bool
}

func unusable(reason string) verdict { return verdict{warnings: []string{reason}} }

// pdfChecker runs PDF checks within the [Limits]: at most PDFChecksAtOnce
// at a time in the process of one Parser, each with PDFCheckTimeout and
// PDFCheckMemory.
type pdfChecker struct {
	timeout time.Duration
	memory  int64
	slots   chan struct{}
	// inspect is inspectPDF; tests replace it to reach the time limit, the
	// slot limit and the panic guard.
	inspect func(ctx context.Context, data []byte, memory int64) verdict
}

func newPDFChecker(l Limits) *pdfChecker {
	return &pdfChecker{timeout: l.PDFCheckTimeout, memory: l.PDFCheckMemory,
		slots: make(chan struct{}, l.PDFChecksAtOnce), inspect: inspectPDF}
}

// check validates a file named, typed or shaped as a PDF and looks for
// active content. Every outcome is a verdict: a check that reaches a bound
// (time, memory, depth, busy checker) makes the file unusable with a reason
// starting "could not be checked:", never usable.
//
// pdfcpu runs in its own goroutine with the time limit and a panic guard.
// pdfcpu cannot be interrupted inside a stream decode, so a check that
// times out keeps its slot until its goroutine has really finished: the
// slots bound the checks running, abandoned ones included.
//
// parent bounds the checks of one message together; when it ends first,
// the reason says so.
func (c *pdfChecker) check(parent context.Context, data []byte) verdict {
	if reason := pdfShape(data); reason != "" {
		return unusable(reason)
	}
	ctx, cancel := context.WithTimeout(parent, c.timeout)
	defer cancel()
	if parent.Err() != nil {
		return messageOutOfTime()
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		if parent.Err() != nil {
			return messageOutOfTime()
		}
		return unusable(fmt.Sprintf("could not be checked: %d other PDF checks were still running after %s; parse the email again later", cap(c.slots), c.timeout))
	}
	done := make(chan verdict, 1)
	inspect := c.inspect
	go func() {
		defer func() { <-c.slots }()
		defer func() {
			if r := recover(); r != nil {
				done <- unusable(fmt.Sprintf("PDF check failed: pdfcpu stopped on this file (%v)", r))
			}
		}()
		done <- inspect(ctx, data, c.memory)
	}()
	select {
	case v := <-done:
		return v
	case <-ctx.Done():
		if parent.Err() != nil {
			return messageOutOfTime()
		}
		return unusable(fmt.Sprintf("could not be checked: the check took longer than %s", c.timeout))
	}
}

func messageOutOfTime() verdict {
	return unusable("could not be checked: the time for the PDF checks of this email ran out; parse the email again later")
}

// streamShare is the most one stream may decode to, and the most the
// streams pdfcpu's validation decodes may decode to together: an eighth of
// the check's memory (see pdfConfig).
func streamShare(memory int64) int64 { return memory / 8 }

// inspectPDF measures what the file's streams decode to (flateBudget, then
// decodedBudget), validates it with pdfcpu and scans its objects. All Flate
// streams together may decode to a quarter of memory, since pdfcpu keeps
// decoded object streams while it reads.
func inspectPDF(ctx context.Context, data []byte, memory int64) verdict {
	budget := streamShare(memory)
	if err := flateBudget(ctx, data, budget, memory/4); err != nil {
		return boundReached(err, memory)
	}
	pc, err := pdfcpu.ReadWithContext(ctx, bytes.NewReader(data), pdfConfig(memory))
	if err != nil {
		if v, ok := boundError(err, memory); ok {
			return v
		}
		return unusable("PDF check failed: " + oneLine(err.Error()))
	}
	// The scan sees the objects as the file has them: validation may
	// drop entries it does not support (such as XFA).
	scan := scanPDF(ctx, pc.XRefTable)
	if err := decodedBudget(ctx, pc.XRefTable, budget); err != nil {
		return boundReached(err, memory)
	}
	if err := api.ValidateContext(pc); err != nil {
		if v, ok := boundError(err, memory); ok {
			return v
		}
		return unusable("PDF check failed: " + oneLine(err.Error()))
	}
	if err := ctx.Err(); err != nil {
		return boundReached(err, memory)
	}
	bad, notes := scan.warnings()
	if len(bad) > 0 {
		return verdict{warnings: append(bad, notes...)}
	}
	return verdict{warnings: notes, usable: true}
}

// boundError recognises pdfcpu's errors for a reached limit or time.
func boundError(err error, memory int64) (verdict, bool) {
	if isDecodeLimit(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return boundReached(err, memory), true
	}
	if s := err.Error(); strings.Contains(s, "limit") && strings.Contains(s, "exceed") {
		return unusable("could not be checked: " + oneLine(s)), true
	}
	return verdict{}, false
}

func boundReached(err error, memory int64) verdict {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return unusable("could not be checked: the check ran out of time")
	}
	return unusable(budgetReason(memory))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
