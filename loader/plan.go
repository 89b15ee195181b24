package loader

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Plan is what a rule file makes of one staged record: the ordered steps a
// loader applies to a target. A plan is deterministic (the same record, rules
// and clock give byte-identical JSON) and holds no target ids: lookups happen
// in the loader.
type Plan struct {
	// Rules names the rule file the plan came from, RulesHash is the SHA-256
	// of its content, so a record loaded under other rules can be told apart.
	Rules     string `json:"rules"`
	RulesHash string `json:"rules_hash"`
	// Record is the staged record's number, such as BB0001001.
	Record string `json:"record"`
	// Now is the clock value the plan was computed at.
	Now time.Time `json:"now"`
	// Params are the rule file's params with the values in effect (the
	// defaults overridden by the caller), so a plan shows every setting it
	// was made with. Added with the mapping engine.
	Params map[string]string `json:"params,omitempty"`
	// Steps are in rule order; a foreach step contributes one Step per item,
	// in list order.
	Steps []Step `json:"steps"`
	// Warnings are things an operator should see in the preview (no
	// managed-services lines, a block number that could not be found, ...).
	Warnings []string `json:"warnings,omitempty"`
}

// OnMultiple says what a loader does when a step's match finds more than one
// record. A loader never updates more than one record for a step.
type OnMultiple string

// The policies for a match that finds several records.
const (
	// OnMultipleException raises the step's Exception record; the plan then
	// stops or goes on as Exception.Stop says. It is the default.
	OnMultipleException OnMultiple = "exception"
	// OnMultipleFail fails the load with an error and writes nothing more.
	OnMultipleFail OnMultiple = "fail"
	// OnMultipleSkip leaves the step (and every step that references it)
	// undone and goes on with the rest.
	OnMultipleSkip OnMultiple = "skip"
)

// Step is one record to find, then insert or update.
type Step struct {
	// ID is unique within the plan: the rule step's name, with "[i]" added
	// for the i-th item of a foreach step (for example "skus[3]").
	ID string `json:"id"`
	// Name is the rule step's name; all items of a foreach step share it.
	Name string `json:"name"`
	// Item is the item's index for a foreach step, nil otherwise.
	Item *int `json:"item,omitempty"`
	// Label says for people what the step's record is, such as
	// "sku: AEM SITES:MS 99.9% UPTIME (line 1)", where the ID only counts
	// (skus[0]). It is shown, never matched on; empty when the rules give
	// none.
	Label string `json:"label,omitempty"`
	// Table is the target table.
	Table string `json:"table"`
	// Match holds the coalesce fields: the target record is the one whose
	// fields equal all of these values.
	Match map[string]Value `json:"match"`
	// Fields are set when the record is inserted and when it is updated.
	Fields map[string]Value `json:"fields,omitempty"`
	// OnInsert fields are set only when the record is created.
	OnInsert map[string]Value `json:"on_insert,omitempty"`
	// OnUpdate fields are set only when an existing record is found.
	OnUpdate map[string]Value `json:"on_update,omitempty"`
	// Attach lists staging attachments to put onto the resulting record.
	Attach []Attachment `json:"attach,omitempty"`
	// OnMultiple is the policy when Match finds several records.
	OnMultiple OnMultiple `json:"on_multiple"`
	// Exception is the record raised when the match is ambiguous (with
	// OnMultiple "exception") or when Failed is set.
	Exception *ExceptionRecord `json:"exception,omitempty"`
	// Failed is set when one of the step's require conditions did not hold
	// at planning time; it says which. The loader does not match or write
	// the step: it raises Exception (when there is one) instead.
	Failed string `json:"failed,omitempty"`
	// DependsOn lists the IDs of the earlier steps whose records this step
	// references (in Match, Fields, OnInsert, OnUpdate or its Exception), in
	// plan order. Steps that do not depend on each other may run concurrently.
	DependsOn []string `json:"depends_on,omitempty"`
}

// ExceptionRecord is the record (a problem ticket in the reference rules) that a
// step raises instead of guessing.
type ExceptionRecord struct {
	Table string `json:"table"`
	// Match finds an exception raised earlier for the same record and
	// reason, so pressing the button again raises no second one. Empty means
	// the loader's journal alone prevents repeats.
	Match map[string]Value `json:"match,omitempty"`
	// Fields are the values of the exception record.
	Fields map[string]Value `json:"fields"`
	// Stop ends the load after the exception; otherwise the steps that do
	// not depend on this one still run.
	Stop bool `json:"stop"`
}

// Attachment names a staging attachment to copy onto a target record.
type Attachment struct {
	// ID identifies the attachment in the staging store; the loader asks its
	// attachment source for the bytes by this id.
	ID          string `json:"id"`
	FileName    string `json:"file_name"`
	ContentType string `json:"content_type"`
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
}

// Value is one field's value exactly as it will be sent: a literal string,
// a reference to the record an earlier step resolved to (the target writes
// that record's id, a sys_id on ServiceNow), or a lookup the loader resolves
// against the target when it applies the plan. In JSON a literal is a
// string, a reference is {"ref": "step-id"} and a lookup is
// {"lookup": {...}}.
type Value struct {
	Literal string
	// Ref is the ID of an earlier step; when set, Literal is unused.
	Ref string
	// Lookup, when set, is resolved by the loader; Literal and Ref are unused.
	Lookup *Lookup
}

// Lookup is a value read from the target at load time, such as the highest
// active block number among core_company.u_block_number's choices.
type Lookup struct {
	// Table is read with the equality conditions of Where.
	Table string            `json:"table"`
	Where map[string]string `json:"where"`
	// Field is the field whose values are picked from.
	Field string `json:"field"`
	// Pick says which value is used.
	Pick LookupPick `json:"pick"`
	// Warning is shown (and the field left empty) when nothing is found.
	Warning string `json:"warning,omitempty"`
}

// LookupPick is how a Lookup chooses among the values it finds.
type LookupPick string

// The ways a Lookup picks its value.
const (
	// PickMaxNumber takes the highest value that parses as a number;
	// values that are not numbers are ignored.
	PickMaxNumber LookupPick = "max_number"
	// PickOnly takes the value of the single record found; several records
	// count as nothing found.
	PickOnly LookupPick = "only"
)

// Lit returns a literal Value.
func Lit(s string) Value { return Value{Literal: s} }

// RefTo returns a Value that references the record of step id.
func RefTo(id string) Value { return Value{Ref: id} }

// IsRef reports whether v references another step's record.
func (v Value) IsRef() bool { return v.Ref != "" }

func (v Value) String() string {
	switch {
	case v.Lookup != nil:
		return "lookup:" + v.Lookup.Table + "." + v.Lookup.Field
	case v.Ref != "":
		return "ref:" + v.Ref
	}
	return v.Literal
}

// MarshalJSON writes a literal as a JSON string, a reference as
// {"ref": "..."} and a lookup as {"lookup": {...}}. Characters such as &
// and < are written as they are (not as \u0026), so company names stay
// readable in a printed plan.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.Lookup != nil {
		return marshalPlain(struct {
			Lookup *Lookup `json:"lookup"`
		}{v.Lookup})
	}
	if v.Ref != "" {
		return marshalPlain(struct {
			Ref string `json:"ref"`
		}{v.Ref})
	}
	return marshalPlain(v.Literal)
}

// marshalPlain is json.Marshal without HTML escaping.
func marshalPlain(x any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// UnmarshalJSON reads either form written by MarshalJSON.
func (v *Value) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = Value{Literal: s}
		return nil
	}
	var r struct {
		Ref    string  `json:"ref"`
		Lookup *Lookup `json:"lookup"`
	}
	if err := json.Unmarshal(b, &r); err != nil || (r.Ref == "") == (r.Lookup == nil) {
		return fmt.Errorf("loader: a value must be a string, {\"ref\": \"step\"} or {\"lookup\": {...}}, got %s", b)
	}
	*v = Value{Ref: r.Ref, Lookup: r.Lookup}
	return nil
}
