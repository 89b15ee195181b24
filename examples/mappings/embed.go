// Package mappings holds bookbridge's example mapping rule files. The
// reference rules are embedded so the reference server runs without a rule
// file on disk; BOOKBRIDGE_RULES points it at another file.
package mappings

import _ "embed"

// ReferenceName is the name plans and errors give the embedded reference rules.
const ReferenceName = "examples/mappings/reference.yaml"

// Reference is reference.yaml: the "SFDC Data" load of the project's domain
// notes into the reference ServiceNow schema.
//
//go:embed reference.yaml
var Reference []byte

// OOTBName is the name of the out-of-the-box example.
const OOTBName = "examples/mappings/servicenow-ootb.yaml"

// OOTB is servicenow-ootb.yaml: the same deal mapped onto ServiceNow's
// out-of-the-box tables.
//
//go:embed servicenow-ootb.yaml
var OOTB []byte
