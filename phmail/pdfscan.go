package phmail

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// maxScanDepth bounds how deep objects may nest inside one object, and how
// long an action chain (/Next) or an object tree (/Kids) may be. A file
// beyond it is not usable: what lies deeper would go unseen.
const maxScanDepth = 32

// Active content: the names that make a PDF unusable, by where they stand.
// pdfcpu has already decoded #xx escapes in names, so "/J#61vaScript" is
// "JavaScript" here.
var (
	// activeKeys are dictionary keys.
	activeKeys = map[string]string{
		"JS":            "JavaScript",
		"JavaScript":    "document JavaScript",
		"EmbeddedFiles": "embedded files",
		"EF":            "embedded file",
		"XFA":           "XFA form",
		"RichMedia":     "rich media",
	}
	// activeActions are action types, the value of /S.
	activeActions = map[string]string{
		"JavaScript":       "JavaScript action",
		"Launch":           "Launch action",
		"GoToR":            "GoToR action to another file",
		"GoToE":            "GoToE action to an embedded file",
		"ImportData":       "ImportData action",
		"SubmitForm":       "SubmitForm action sending form data",
		"RichMediaExecute": "rich media action",
	}
	// activeNames are the same words as values anywhere else (a /Type, a
	// /Subtype, a name object that an indirect /S points at).
	activeNames = map[string]string{
		"JavaScript":       "JavaScript",
		"Launch":           "Launch action",
		"GoToR":            "GoToR action to another file",
		"GoToE":            "GoToE action to an embedded file",
		"ImportData":       "ImportData action",
		"SubmitForm":       "SubmitForm action sending form data",
		"EmbeddedFile":     "embedded file",
		"RichMedia":        "rich media",
		"RichMediaExecute": "rich media action",
	}
)

// maxListed bounds the objects named per finding and the links listed.
const maxListed = 5

// scanReport is what the scan of a parsed PDF found.
type scanReport struct {
	active  map[string][]int // finding -> object numbers, ascending
	links   []string         // URI actions, "https://... (object 7)"
	tooDeep string           // why the scan could not reach everything
}

// scanPDF inspects every object of the cross-reference table (object
// streams included; orphans too), not the raw bytes, so compression, object
// streams, indirect values and escaped names hide nothing.
func scanPDF(ctx context.Context, xt *model.XRefTable) scanReport {
	r := scanReport{active: map[string][]int{}}
	nums := sortedObjects(xt)
	for _, n := range nums {
		r.scanEntry(ctx, xt, n)
	}
	h := heights{ctx: ctx, xt: xt, memo: map[int]int{}, busy: map[int]bool{}}
	for _, n := range nums {
		if r.tooDeep != "" {
			break
		}
		if h.of(n, 0) > maxScanDepth {
			r.tooDeep = fmt.Sprintf("could not be checked: an action chain (/Next) or object tree (/Kids) from object %d is more than %d levels deep", n, maxScanDepth)
		}
	}
	return r
}

// object returns object n, parsed from its object stream if it sits in
// one and is not parsed yet; nil when there is none.
func object(ctx context.Context, xt *model.XRefTable, n int) types.Object {
	e, ok := xt.Table[n]
	if !ok || e == nil || e.Free || e.Object == nil {
		return nil
	}
	if l, ok := e.Object.(types.LazyObjectStreamObject); ok {
		o, err := l.DecodedObject(ctx)
		if err != nil {
			return nil // pdfcpu's validation reports it
		}
		return o
	}
	return e.Object
}

func sortedObjects(xt *model.XRefTable) []int {
	nums := make([]int, 0, len(xt.Table))
	for n, e := range xt.Table {
		if e != nil && !e.Free && e.Object != nil {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	return nums
}

func (r *scanReport) add(finding string, obj int) {
	if l := r.active[finding]; len(l) == 0 || l[len(l)-1] != obj {
		r.active[finding] = append(l, obj)
	}
}

// scanEntry walks one object's direct content with an explicit stack.
func (r *scanReport) scanEntry(ctx context.Context, xt *model.XRefTable, n int) {
	type item struct {
		o     types.Object
		depth int
	}
	stack := []item{{object(ctx, xt, n), 0}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.depth > maxScanDepth {
			if r.tooDeep == "" {
				r.tooDeep = fmt.Sprintf("could not be checked: object %d nests more than %d levels deep", n, maxScanDepth)
			}
			continue
		}
		var d types.Dict
		switch v := it.o.(type) {
		case types.Name:
			if f, ok := activeNames[string(v)]; ok {
				r.add(f, n)
			}
			continue
		case types.Array:
			for _, e := range v {
				stack = append(stack, item{e, it.depth + 1})
			}
			continue
		case types.Dict:
			d = v
		case types.StreamDict:
			d = v.Dict
		case *types.StreamDict:
			d = v.Dict
		case types.ObjectStreamDict:
			d = v.Dict
		default:
			continue
		}
		for k, v := range d {
			if f, ok := activeKeys[k]; ok || strings.HasPrefix(k, "RichMedia") {
				if !ok {
					f = "rich media"
				}
				r.add(f, n)
			}
			if k == "S" {
				if s, ok := actionType(ctx, xt, v); ok {
					if f, bad := activeActions[s]; bad {
						r.add(f, n)
					} else if s == "URI" {
						r.addLink(ctx, xt, d, n)
					}
					continue
				}
			}
			if name, ok := v.(types.Name); ok && k != "S" {
				if f, bad := activeNames[string(name)]; bad {
					r.add(f, n)
				} else if strings.HasPrefix(string(name), "RichMedia") {
					r.add("rich media", n)
				}
				continue
			}
			stack = append(stack, item{v, it.depth + 1})
		}
	}
}

// actionType resolves an action's /S, direct or through a reference.
func actionType(ctx context.Context, xt *model.XRefTable, v types.Object) (string, bool) {
	for range 4 {
		switch s := v.(type) {
		case types.Name:
			return string(s), true
		case types.IndirectRef:
			v = object(ctx, xt, s.ObjectNumber.Value())
		default:
			return "", false
		}
	}
	return "", false
}

func (r *scanReport) addLink(ctx context.Context, xt *model.XRefTable, d types.Dict, n int) {
	if len(r.links) >= maxListed {
		return
	}
	target := "(no address)"
	if o, ok := d["URI"]; ok {
		if ref, ok := o.(types.IndirectRef); ok {
			o = object(ctx, xt, ref.ObjectNumber.Value())
		}
		switch s := o.(type) {
		case types.StringLiteral:
			if v, err := types.StringLiteralToString(s); err == nil {
				target = v
			}
		case types.HexLiteral:
			if v, err := types.HexLiteralToString(s); err == nil {
				target = v
			}
		}
	}
	r.links = append(r.links, fmt.Sprintf("%q (object %d)", oneLine(target), n))
}

// warnings words the findings: the reasons a file is unusable first (one
// line), then the links (one line), each sorted.
func (r scanReport) warnings() (unusable []string, notes []string) {
	var found []string
	for f, objs := range r.active {
		objs = objs[:min(len(objs), maxListed)]
		parts := make([]string, len(objs))
		for i, o := range objs {
			parts[i] = fmt.Sprint(o)
		}
		found = append(found, fmt.Sprintf("%s (object %s)", f, strings.Join(parts, ", ")))
	}
	slices.Sort(found)
	if len(found) > 0 {
		unusable = append(unusable, "active content: "+strings.Join(found, "; "))
	}
	if r.tooDeep != "" {
		unusable = append(unusable, r.tooDeep)
	}
	if len(r.links) > 0 {
		notes = append(notes, "links to the web (URI actions; check them before opening): "+strings.Join(r.links, ", "))
	}
	return unusable, notes
}

// heights measures how deep action chains and object trees go, following
// /Next of actions (dictionaries with /S) and /Kids, through references.
type heights struct {
	ctx  context.Context
	xt   *model.XRefTable
	memo map[int]int
	busy map[int]bool
}

// of returns the height of object n, capped just past maxScanDepth; depth
// is how far the caller already is (for direct dictionaries).
func (h *heights) of(n, depth int) int {
	if v, ok := h.memo[n]; ok {
		return v
	}
	if h.busy[n] || depth > maxScanDepth {
		return 0 // a loop, or already too deep on the caller's side
	}
	h.busy[n] = true
	v := h.ofObject(object(h.ctx, h.xt, n), depth)
	delete(h.busy, n)
	h.memo[n] = v
	return v
}

func (h *heights) ofObject(o types.Object, depth int) int {
	if depth > maxScanDepth {
		return 1
	}
	var d types.Dict
	switch v := o.(type) {
	case types.Dict:
		d = v
	case types.StreamDict:
		d = v.Dict
	default:
		return 0
	}
	best := 0
	child := func(c types.Object) {
		var hv int
		switch c := c.(type) {
		case types.IndirectRef:
			hv = h.of(c.ObjectNumber.Value(), depth+1)
		case types.Dict:
			hv = h.ofObject(c, depth+1)
		}
		best = max(best, hv)
	}
	for _, key := range []string{"Next", "Kids"} {
		v, ok := d[key]
		if !ok || (key == "Next" && d["S"] == nil) {
			continue
		}
		if a, ok := v.(types.Array); ok {
			for _, c := range a {
				child(c)
			}
			continue
		}
		child(v)
	}
	return min(best+1, maxScanDepth+1)
}
