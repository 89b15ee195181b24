package loader

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Journal is what a load has durably done, in a JSON-serializable form. The
// caller persists it (the staging store keeps it beside the record) each
// time [Options.OnWrite] hands it over, and passes it back to [Apply] to
// resume after a crash or a failed call: steps the journal has resolved are
// neither looked up nor written again, and attachments it lists are not
// uploaded again.
//
// A crash between a target write and the save of the journal leaves a
// write the journal does not know. Resuming still writes nothing twice:
// the step's match finds the record (and compares it, so it is unchanged),
// an exception's match finds the exception, and an attachment is skipped
// when a file with the same name and SHA-256 is already on the record. The
// one case the journal alone protects is an exception step without
// [Exception.Match]; give exceptions a match.
type Journal struct {
	// PlanHash is the SHA-256 of the plan's JSON; Apply refuses a journal
	// written for another plan.
	PlanHash string `json:"plan_hash,omitempty"`
	// Steps holds every step resolved so far, by step ID.
	Steps map[string]JournalStep `json:"steps,omitempty"`
	// Writes lists every completed write, in the order they completed.
	Writes []Write `json:"writes,omitempty"`
}

// JournalStep is a step the load has resolved.
type JournalStep struct {
	Outcome Outcome `json:"outcome"`
	// TargetID is the id of the step's record (inserted, updated or
	// unchanged).
	TargetID string `json:"target_id,omitempty"`
	// ExceptionTable and ExceptionID name the exception record the step
	// raised or found (outcome "exception").
	ExceptionTable string `json:"exception_table,omitempty"`
	ExceptionID    string `json:"exception_id,omitempty"`
}

// Op is the kind of a completed write.
type Op string

// The writes a load makes.
const (
	OpInsert    Op = "insert"
	OpUpdate    Op = "update"
	OpAttach    Op = "attach"
	OpException Op = "exception"
)

// Write is one completed write.
type Write struct {
	Step     string `json:"step"`
	Op       Op     `json:"op"`
	Table    string `json:"table"`
	TargetID string `json:"target_id"`
	// Fields are the fields written (insert, update, exception), sorted.
	Fields []string `json:"fields,omitempty"`
	// Attachment is the staging attachment id and FileName its name (op
	// attach); TargetID is then the id of the record the file went onto
	// and AttachmentID the id of the stored file.
	Attachment   string `json:"attachment,omitempty"`
	FileName     string `json:"file_name,omitempty"`
	AttachmentID string `json:"attachment_id,omitempty"`
}

// Empty reports whether the journal records nothing: a fresh load.
func (j Journal) Empty() bool { return len(j.Steps) == 0 && len(j.Writes) == 0 }

// Clone returns a deep copy.
func (j Journal) Clone() Journal {
	c := Journal{PlanHash: j.PlanHash, Steps: maps.Clone(j.Steps), Writes: slices.Clone(j.Writes)}
	for i := range c.Writes {
		c.Writes[i].Fields = slices.Clone(c.Writes[i].Fields)
	}
	return c
}

// attached reports whether the journal records the upload of staging
// attachment att onto the record of step.
func (j Journal) attached(step, att string) bool {
	for _, w := range j.Writes {
		if w.Op == OpAttach && w.Step == step && w.Attachment == att {
			return true
		}
	}
	return false
}

// PlanHash returns the SHA-256 (hex) of the plan's JSON encoding, the
// identity a journal is bound to.
func PlanHash(p *Plan) (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("loader: encoding the plan: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
