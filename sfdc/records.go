package sfdc

// Attributes is the "attributes" object Salesforce puts on every record.
type Attributes struct {
	Type string `json:"type,omitempty"`
	URL  string `json:"url,omitempty"`
}

// Records is a child relationship in Salesforce's query-result shape:
// {"totalSize": N, "done": true, "records": [...]}. Salesforce may send an
// empty relationship as null; it decodes as an empty list (encoding/json
// leaves a struct untouched for null).
type Records[T any] struct {
	TotalSize int  `json:"totalSize"`
	Done      bool `json:"done"`
	Records   []T  `json:"records" validate:"dive"`
}

// NewRecords returns a complete relationship holding items.
func NewRecords[T any](items ...T) Records[T] {
	return Records[T]{TotalSize: len(items), Done: true, Records: items}
}

// Len returns the number of records present.
func (r Records[T]) Len() int { return len(r.Records) }

// lenner is met by every Records[T]; the has_records rule uses it.
type lenner interface{ Len() int }
