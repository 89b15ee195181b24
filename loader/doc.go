// Package loader applies a load Plan to a system of record: ServiceNow
// (loader/servicenow), SQL tables through Bun (loader/sqltarget) or memory
// (loader/memory). It never writes a record twice, whether an operator
// presses the button twice, a call is retried after a timeout, or a load
// resumes after a crash.
//
// # Plans
//
// A [Plan] is the ordered list of [Step]s to find and then insert or
// update, with every [Value] as it will be sent, references between steps,
// load-time [Lookup]s, [Attachment]s and the [ExceptionRecord] a step
// raises instead of guessing. Package mapping makes plans from rule files;
// any code may build one. The plan types live here so that a target, or a
// service that only applies plans, imports this package without the rule
// engine (expr-lang, YAML).
//
// # Targets
//
// [Target] is the small interface a system of record implements: find
// records by field values, insert, update, attach a file, list a record's
// files. Its doc comment states the semantics every target meets;
// loader/loadertest.RunConformance checks them, and every target in this
// module passes it.
//
// Reading back what a load wrote (reconciliation) reads many records by
// id: [GetRows] and [ListAttachments] do it [MaxBatch] records per call
// with a target that implements [BatchGetter] and [BatchAttachmentLister]
// (every target of this module does), and fall back to Find on the rows'
// match values and to one Attachments call per record otherwise.
//
// # Applying a plan
//
// [Apply] walks the plan's steps. For each it resolves the values
// (literals, references to the record of an earlier step, lookups read
// from the target once per load), then finds the step's record by its
// match values:
//
//   - none: insert it with its match, fields and on_insert values;
//   - one: update only the fields (fields and on_update) whose stored
//     value differs; when none differs, no call is made;
//   - several: the step's on_multiple policy — raise its exception record
//     (found first by the exception's match, so a re-run raises none; the
//     load then stops or goes on as the exception says), fail the load, or
//     skip the step and the steps that reference it.
//
// A step whose require condition failed at planning (Step.Failed) raises
// its exception instead. Items of one foreach step whose matches resolve
// to the same values share one record: the last item writes it and the
// earlier ones are reported as superseded (StepResult.SupersededBy), so
// the record is written once and a re-run finds it unchanged. When an
// exception stops the load, steps not yet started are skipped; calls under
// way finish. After an error no further write is sent. Attachments go onto the record unless a file with
// the same name and SHA-256 is already there; their bytes come from an
// [AttachmentSource] and are checked against the plan's SHA-256 first.
//
// Calls are few: one find per step, and one for all items of a foreach
// step (a query with one alternative per item, see [Query]); none for a
// step whose match references a record this load has just created (no
// record can reference it yet); one write per changed record and one
// upload per new file. Steps whose dependencies are resolved run
// concurrently, bounded by [Options.Concurrency], so a load takes about
// (dependency depth) round trips.
//
// # Journal and resume
//
// Every completed write is added to a [Journal] that [Options.OnWrite]
// hands to the caller (the staging store persists it). Passing it back to
// Apply resumes the load: steps it resolved are neither looked up nor
// written again. A write the journal missed (a crash between the write and
// the save) is found again by the step's match and left unchanged. A write
// whose answer was lost ([ErrOutcomeUnknown]) is looked for before it is
// sent again.
//
// # Dry run
//
// [Preview] makes the same lookups without writing and returns a [Diff]:
// per step insert / update (field old -> new) / unchanged / exception /
// skip, serializable as JSON for the API and the console, with a short
// rendering for people (Diff.String).
//
// # Transient errors
//
// [IsTransient] tells whether an error of a target's call, also through
// Apply's wrapping, may clear by itself (an unreachable or rate-limiting
// system), so that the load's owner can run the same load again later;
// [RetryAfter] gives the wait the target asked for. Targets classify their
// errors with [TransientError] and [RetryAfterError].
//
// # Outcome
//
// The [Result] has an outcome per step (inserted, updated, unchanged,
// exception, skipped, failed) with target ids, the warnings (the plan's,
// lookups that found nothing, values the target did not store as sent),
// the count of calls, and a status that maps onto the staging states:
// loaded, needs_review, failed.
package loader
