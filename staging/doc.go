// Package staging keeps the staging record of each Closed Booked deal: the
// Salesforce payload, the Provisioning Hub (PH) email joined to it in
// either order, the attachments, an append-only history and the state of
// the "SFDC Data" load. It is a durable, idempotent store over Bun, on
// Postgres (pgdialect over pgx's database/sql driver) or on an embedded
// SQLite file (sqlitedialect with sqliteshim); open either with
// staging/bundb.
//
// # States
//
//	 payload                                     PH email, no payload staged
//	    |                                                    |
//	    v                                                    v
//	+----------+  PH email  +-------+  payload  +---------------------+
//	| received |----------->| ready |<----------| waiting_for_payload |
//	+----------+            +-------+   joins   +---------------------+
//	                          |   ^                   |           ^
//	                StartLoad |   | RetryReview,      | email     | KeepWaiting,
//	                          |   | ChooseCandidate   | copied    | RetryReview
//	                          v   |                   v           |
//	+--------+ FinishLoad +---------+            +--------+  +--------------+
//	| loaded |<-----------| loading |            | merged |<-| needs_review |
//	+--------+            +---------+            +--------+  +--------------+
//	    |                   ^    |  \             (terminal)    ^
//	    | StartLoad when    |    |   \--- MarkNeedsReview ------+
//	    | changed since     |    | FailLoad
//	    | its load          |    v
//	    +------------------>| +-------------+
//	                        +-| load_failed |  (StartLoad retries)
//	                          +-------------+
//
// Every transition:
//
//	from                                    to                    by
//	(new)                                   received              Intake: a new deal
//	(new)                                   waiting_for_payload   IngestEmail: no payload has its ECC id
//	(new)                                   needs_review          IngestEmail: several matches or conflicting keys;
//	                                                              Intake: several PH emails wait for the deal
//	received                                ready                 IngestEmail: the one match; Intake: a newer
//	                                                              version finds its waiting email
//	waiting_for_payload                     ready                 Intake: its payload arrives
//	waiting_for_payload                     merged                its email copied into a payload's record
//	ready, load_failed, loaded (changed)    loading               StartLoad
//	loading                                 loaded                FinishLoad
//	loading                                 load_failed           FailLoad
//	loading                                 loading               RetryLoad: a transient failure; tried again
//	                                                              at Load.NextTryAt (Load.Retrying)
//	received, ready, loading,               needs_review          MarkNeedsReview (a load exception, or an
//	load_failed, loaded                                           operator)
//	needs_review (payload)                  ready or received     RetryReview, ChooseCandidate
//	needs_review (email only)               waiting_for_payload   KeepWaiting, RetryReview (no candidate left)
//	needs_review (email only)               merged                ChooseCandidate, RetryReview (one match left)
//
// A load that fails for a passing reason (the target unreachable,
// overloaded or timing out) stays loading while it waits to be tried
// again: Load.Retries counts the failures, Load.Error holds the last one
// and Load.NextTryAt the time of the next try. It leaves loading like any
// other load, or by FailLoad when its owner stops retrying.
//
// received: payload only. waiting_for_payload: PH email only, with the open
// exception "PH data arrived but Salesforce data is missing". ready:
// payload and email. loading, loaded, load_failed: the load. needs_review:
// something ambiguous or conflicting, with a reason and candidates; never a
// guess. merged (terminal): a record that held only a PH email whose email
// was copied into another record (Summary.MergedInto); it stays as
// evidence, with its files.
//
// Loadable states (Record.Loadable) are ready, load_failed (retry) and
// loaded when a newer payload or email arrived after the load
// (ChangedSinceLoad). MarkNeedsReview is allowed from received, ready,
// loading, load_failed and loaded. Every transition method checks the
// current state and returns a *TransitionError (errors.Is
// ErrIllegalTransition) naming the states that allow it.
//
// # Intake
//
// Store.Intake takes a Payload (PayloadFromOpportunity builds one from a
// decoded sfdc.Opportunity). The same Salesforce id and content hash again
// is a duplicate; a newer version (LastModifiedDate, or the sender's
// sequence) updates the record and keeps the previous payload
// (PayloadHistory); an older one is stale and changes nothing. A unique
// constraint on the Salesforce id makes concurrent identical posts give one
// record. A new deal joins the waiting_for_payload record of its PH email,
// which becomes ready; its exception is resolved and the history says so.
// On Postgres a deal seen for the first time with no email waiting for it
// (the common case) is staged by a stored function, which takes the same
// per-ECC lock and writes the same record and event as the general path;
// new deals arriving while one such call runs are staged together by the
// next, in one round trip and one commit, and each caller returns once its
// own deal is committed. The next batch is sent while the one before still
// runs, once as many deals wait as that one took, so that Postgres goes on
// to it at once; each batch commits (or fails) on its own. Every other
// case goes the general way. Store.Close waits for the batches under way
// and makes Intake refuse new deals (ErrClosed); it leaves the *bun.DB
// open, for its owner to close afterwards.
//
// That call is a statement prepared once on each connection. Behind a
// connection pooler in transaction mode, which cannot keep prepared
// statements, put default_query_exec_mode=cache_describe (or exec) in the
// database URL: the call then goes unnamed. Without it, the first batch
// that finds its statement gone takes the general way and the store sends
// every later batch unnamed, saying so once in its log.
//
// # PH emails
//
// Store.IngestEmail takes an Email (parsed by phmail). It matches by ECC id
// among records that have their payload and are not loaded, narrowed by the
// email's DR number and then its sales order number when the email has
// them. Exactly one match takes the PH fields and files; none makes the
// email wait on a record of its own; several, or keys that conflict, make a
// needs_review record listing the candidates and change no record. The same
// message twice (Message-ID, else content hash) is applied once. An email
// without an ECC id is quarantined (Quarantine, ListQuarantine). ECC ids and
// sales order numbers compare without SAP's leading zeros (0001234567 is
// 1234567). The email's company name and sales order number are kept; a
// difference from Salesforce's is a warning on the record.
//
// Attachments are stored with a sanitized name, content type, size and
// SHA-256, their bytes in a BlobStore (the database by default, DirBlobs
// for a directory). When an email moves to another record its files are
// copied, never moved: the evidence stays where it arrived.
//
// # Concurrency and transactions
//
// Every record has a version; writes are "WHERE id = ? AND version = ?".
// IfVersion makes a call fail with a *ConflictError when the record changed
// since the caller read it. Internal races (a concurrent intake, a busy
// SQLite file, a Postgres deadlock) are retried a bounded number of times.
// On Postgres, intake and email correlation of one ECC id take turns on an
// advisory transaction lock, so a payload and its email arriving together
// always meet; on SQLite write transactions are immediate and serialised.
// Every state-changing method accepts InTx, which runs a function inside
// the same transaction after the change (the reference server enqueues its
// River jobs this way); an error rolls everything back. Transactions are
// not cancelled half-way when the caller's context is.
//
// # Search
//
// List's Filter.Text finds records by number, company name (Salesforce's
// or the email's), ECC id, DR number, sales order number, Salesforce id
// and opportunity name, ignoring case and accents: "muller", "MULLER" and
// "Müller" find "Müller & Søn Größe GmbH", as do "mueller", "grosse",
// "groesse", "son" and "soen". Each record keeps a folded search text,
// computed in Go (search.go) and handed to the Postgres batch function as
// it is; every query word is folded by the same function.
//
// # Schema
//
// Store.Migrate applies the schema with bun/migrate in staging's own
// migration tables (MigrationsTable, MigrationLocksTable), so other
// migration groups can share the database. Several processes may call it
// at once. A step that needs the store's own rules (the search text) runs
// in Go, in batches, on both engines.
//
// The store never calls anything remote and takes its clock from
// WithClock.
package staging
