// Package bookbridge is the flow that moves a Salesforce "Closed Booked"
// deal into ServiceNow, built from the module's packages: it accepts a
// deal (sfdc decodes and validates it, staging keeps it with its raw
// JSON), accepts and processes a Provisioning Hub email (phmail parses it,
// staging joins it to its deal in either arrival order), plans a staged
// record with the mapping rules, previews the plan against the live
// target, and loads it with loader, resuming from the journal saved on the
// record after every write.
//
// A [Flow] is built from parts its caller opens and owns (see [Config]): a
// staging store, a PH email parser, compiled mapping rules, a load target,
// and optionally a River client for durable background work. The reference
// server in cmd/bookbridge and an embedding team's own service run the same
// Flow; the package knows nothing of HTTP, a console, flags or the
// environment.
//
//	deal:  body --sfdc.DecodeAndValidate--> staging.Intake                    (no remote call)
//	email: raw --inbox row + email job (one transaction)--> phmail.Parse --> staging.IngestEmail
//	load:  staging.StartLoad + load job (one transaction) --> mapping.Rules.Plan --> loader.Apply
//	       (journal saved after every write) --> staging.FinishLoad | MarkNeedsReview | FailLoad
//
// # Background work
//
// With a River client (Config.Queue, or Flow.UseQueue for a client built
// after the Flow), Flow.AcceptEmail stores a message and enqueues its
// processing in one transaction, and Flow.EnqueueLoad moves a record to
// loading and enqueues its load in one transaction. Flow.AddWorkers
// registers the workers of those jobs with the River client that works the
// queue: each job runs once across replicas, and a load whose process died
// is picked up again by River's rescuer and resumes from its journal
// without writing a row twice. A load whose target fails for a passing
// reason (loader.IsTransient: unreachable, 429, 502-504, a timeout) is
// tried again by its job with growing waits within a window (LoadRetry);
// the record stays loading and says so. NewRiverClient and MigrateRiver
// give a client and River's tables on the store's database. Without a
// queue, Flow.ProcessEmail and Flow.Load do the work at once, in the
// caller's goroutine.
//
// # Errors
//
// KindOf names the kind of any error the Flow returns (malformed, invalid,
// not found, not loadable, plan failed, target failed, ...), so a caller
// maps kinds, not types, to its answers.
//
// # Storage
//
// Flow.Migrate (or Migrate before the Flow exists) creates or upgrades the
// store's tables and the Flow's own inbox of raw emails.
package bookbridge
