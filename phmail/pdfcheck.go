package phmail

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// DefaultPDFCheckTimeout bounds the PDF check of one file.
const DefaultPDFCheckTimeout = 10 * time.Second

var pdfcpuSetup sync.Once

// pdfConfig returns pdfcpu's relaxed validation configuration without
// letting pdfcpu create its configuration directory (see the package doc).
func pdfConfig() *model.Configuration {
	pdfcpuSetup.Do(func() {
		if model.ConfigPath == "default" {
			api.DisableConfigDir()
		}
	})
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	conf.Cmd = model.VALIDATE
	return conf
}

// pdfHeaderWindow is how far into a file readers look for "%PDF-".
const pdfHeaderWindow = 1024

// hasPDFHeader reports whether data carries the PDF signature where PDF
// readers look for it.
func hasPDFHeader(data []byte) bool {
	return bytes.Contains(data[:min(len(data), pdfHeaderWindow)], []byte("%PDF-"))
}

// checkPDF validates a file named, typed or shaped as a PDF and looks for
// active content. It returns the warnings and whether the file is usable.
// pdfcpu runs in its own goroutine with a time limit and a panic guard; a
// check that times out leaves that goroutine to finish on its own.
func checkPDF(data []byte, timeout time.Duration) ([]string, bool) {
	if !hasPDFHeader(data) {
		return []string{fmt.Sprintf("not a PDF: the content does not start with %%PDF- (it looks like %s)", http.DetectContentType(data))}, false
	}
	type result struct {
		warnings []string
		ok       bool
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan result, 1)
	inspect := pdfInspector
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{[]string{fmt.Sprintf("PDF check failed: pdfcpu stopped on this file (%v)", r)}, false}
			}
		}()
		w, ok := inspect(ctx, data)
		done <- result{w, ok}
	}()
	select {
	case r := <-done:
		return r.warnings, r.ok
	case <-ctx.Done():
		return []string{fmt.Sprintf("PDF check failed: it took longer than %s", timeout)}, false
	}
}

// pdfInspector is inspectPDF; tests replace it to reach the time limit and
// the panic guard.
var pdfInspector = inspectPDF

func inspectPDF(ctx context.Context, data []byte) ([]string, bool) {
	pc, err := pdfcpu.ReadWithContext(ctx, bytes.NewReader(data), pdfConfig())
	if err != nil {
		return []string{"PDF check failed: " + oneLine(err.Error())}, false
	}
	if err := api.ValidateContext(pc); err != nil {
		return []string{"PDF check failed: " + oneLine(err.Error())}, false
	}
	found := activeContent(pc.XRefTable)
	if len(found) == 0 {
		return nil, true
	}
	return []string{"active content: " + strings.Join(found, "; ")}, false
}

// activeContent lists the active content of a parsed PDF: JavaScript (as an
// action, a /JS entry or the document's JavaScript name tree), Launch
// actions and embedded files. It inspects every object of the cross
// reference table, object streams included, not the raw bytes.
func activeContent(xt *model.XRefTable) []string {
	kinds := map[string][]int{}
	nums := make([]int, 0, len(xt.Table))
	for n := range xt.Table {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for _, n := range nums {
		e := xt.Table[n]
		if e == nil || e.Free || e.Object == nil {
			continue
		}
		scanObject(e.Object, 0, func(kind string) {
			if l := kinds[kind]; len(l) == 0 || l[len(l)-1] != n {
				kinds[kind] = append(kinds[kind], n)
			}
		})
	}
	var out []string
	for kind, objs := range kinds {
		if len(objs) > 5 {
			objs = objs[:5]
		}
		parts := make([]string, len(objs))
		for i, o := range objs {
			parts[i] = fmt.Sprint(o)
		}
		out = append(out, fmt.Sprintf("%s (object %s)", kind, strings.Join(parts, ", ")))
	}
	slices.Sort(out)
	return out
}

const maxScanDepth = 32

func scanObject(o types.Object, depth int, report func(string)) {
	if depth > maxScanDepth {
		return
	}
	switch v := o.(type) {
	case types.StreamDict:
		scanDict(v.Dict, depth, report)
	case *types.StreamDict:
		scanDict(v.Dict, depth, report)
	case types.Dict:
		scanDict(v, depth, report)
	case types.Array:
		for _, e := range v {
			scanObject(e, depth+1, report)
		}
	}
}

func scanDict(d types.Dict, depth int, report func(string)) {
	if s := d.NameEntry("S"); s != nil {
		switch *s {
		case "JavaScript":
			report("JavaScript action")
		case "Launch":
			report("Launch action")
		}
	}
	if _, ok := d["JS"]; ok {
		report("JavaScript")
	}
	if _, ok := d["JavaScript"]; ok {
		report("document JavaScript")
	}
	if t := d.NameEntry("Type"); t != nil && *t == "EmbeddedFile" {
		report("embedded file")
	}
	if _, ok := d["EmbeddedFiles"]; ok {
		report("embedded files")
	}
	if _, ok := d["EF"]; ok {
		report("embedded file")
	}
	for _, v := range d {
		scanObject(v, depth+1, report)
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
