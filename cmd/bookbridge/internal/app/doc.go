// Package app wires bookbridge's packages into the reference server: the
// staging store, the PH email parser and channels, the mapping rules, the
// load target and the River queue, plus the server's own credentials. The
// HTTP API, the console and the CLI commands call it; business rules stay in
// the packages and the rule files.
//
// The flows it carries:
//
//	deal:  body --sfdc.Decode+Validate--> staging.Intake                     (no remote call)
//	email: raw --inbox row + email job (one transaction)--> phmail.Parse --> staging.IngestEmail
//	load:  staging.StartLoad + load job (one transaction) --> mapping.Rules.Plan --> loader.Apply
//	       (journal saved after every write) --> staging.FinishLoad | MarkNeedsReview | FailLoad
package app
