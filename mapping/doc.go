// Package mapping turns a staged deal into a load plan with declarative
// rules: a YAML rule file whose values are expr-lang expressions, compiled
// and type-checked once when the file loads, then evaluated per record.
//
// The rules know the target schema; this package does not. A plan (a
// [loader.Plan]: the plan types belong to the loader package, so that a
// target needs neither this package nor the rule engine) is the ordered
// list of records to find and then insert or update, with every field
// value exactly as it will be sent, references between steps, attachments
// and the exception record to raise instead of guessing. The loader package applies a plan; nothing here does I/O after
// Compile, and nothing reads the clock: Input.Now is the load time.
//
// # Using it
//
//	rules, err := mapping.LoadFile("examples/mappings/reference.yaml",
//		mapping.WithParams(map[string]string{"problem_assigned_to": "6816f79cc0a8016401c5a33be04be441"}))
//	// err is a *CompileError listing FILE:LINE:COL: message per problem.
//	sf, err := mapping.SFDCFromJSON(rawPayload)
//	plan, err := rules.Plan(mapping.Input{SFDC: sf, PH: phFields, Record: info, Now: now})
//	// err is a *PlanError when an expression fails for this record.
//
// A compiled *Rules is immutable and safe for concurrent Plan calls.
// To plan one input with several rule files (the rules in use and new
// ones, as an impact report does), give the Input a Memo (NewMemo): the
// vars and warnings the files define alike are then computed once, and
// every plan is the same as without it.
//
// # Rule file format (version 1)
//
// The top level has these keys; any other key is an error.
//
//	version: 1            required
//	description: text     optional
//	params:               settings with defaults, overridden by WithParams
//	custom_fields:        Salesforce fields the payload type does not know
//	vars:                 named expressions computed once per record
//	warnings:             plan warnings: - [foreach: LIST,] when: COND, message: TEXT-EXPR
//	ph_not_loaded:        PH fields the rules leave out on purpose
//	steps:                the records to load, in order
//	exception:            the record raised instead of guessing
//
// params maps a name to its default text, or to {default, description}; a
// param without a default (null) must be given by the caller. Expressions
// read params.NAME as text.
//
// custom_fields declares the Salesforce fields an org sends beyond
// sfdc.Opportunity, so that sfdc paths reading them compile. A name maps to
// a type (string, number, date, datetime, bool or any) for a top-level
// field, or to a mapping of such names: under a known object (Account) they
// extend it, under a child relationship (OpportunityLineItems,
// Adobe_Sales_Team__r) they extend each of its records, under a new name
// they declare a new object. The type documents the field; expressions read
// its raw JSON value like every other sfdc field.
//
// warnings are evaluated after vars, in order; with foreach a warning is
// evaluated once per element (item, index), so that one message can name
// each line it concerns. Every PH field (see PHFields) that has a value
// and that no expression reads as ph.NAME makes a plan warning too, unless
// ph_not_loaded (a list of PH field names) says it is left out on purpose;
// an expression that reads ph as a whole counts as reading every field.
//
// vars maps a name to an expression; vars read each other as vars.NAME in
// any order (the compiler orders them and rejects cycles).
//
// Each step has:
//
//	name:         letters, digits, _ — unique; ref.NAME in later steps
//	label:        text for people naming the record (loader.Step.Label),
//	              per item in a foreach step; shown, never matched on
//	table:        the target table
//	when:         condition; when false the step is left out (its ref is nil)
//	foreach:      a list; the step is planned once per element, read as item;
//	              "when" and "require" are then evaluated per item
//	require:      - check: COND, message: TEXT-EXPR; a failed check sets
//	              loader.Step.Failed and the step is neither matched nor written
//	match:        field: EXPR — required: the coalesce fields that find the
//	              record, so a second load updates instead of inserting; a
//	              created record gets these values too (copied into on_insert)
//	fields:       field: EXPR — set on insert and on update
//	on_insert:    field: EXPR — set only when the record is created
//	on_update:    field: EXPR — set only when an existing record is found
//	attach:       a list of record.attachments to put on the record
//	on_multiple:  exception (default), fail or skip — when match finds several
//	exception:    overrides of the top-level exception for this step
//
// A field may be in on_insert and on_update, but not in two other groups.
//
// exception has table, fields (field: EXPR), stop (default true: the load
// ends after raising it) and match, either field: EXPR or a list of names
// of its fields (match: [short_description]) so that pressing the button
// again finds the record raised before and raises no second one. Every
// step whose on_multiple is exception must have an exception (top-level or
// its own); a step with require uses it when a check fails.
//
// # Expressions
//
// Every value is an expr-lang expression (https://expr-lang.org): text
// literals are quoted inside the YAML value ('"Pre-Production"'); YAML
// numbers and booleans are expressions as written; null is nil. An
// expression sees:
//
//	sfdc     the raw Salesforce payload (objects, lists, json.Number numbers);
//	         use ?. and ?? where a member may be missing. Paths are the
//	         Salesforce API names of sfdc.Opportunity plus custom_fields,
//	         checked at compile time, also through vars and item
//	ph       the Provisioning Hub email's fields (PHFields; missing ones are "")
//	record   the staged record: id, number, state, attachments (each with id,
//	         file_name, content_type, sha256, size, usable, warnings)
//	now      Input.Now
//	params   the params, as text
//	vars     the vars
//	ref      in steps and the exception: ref.STEP is the record an earlier,
//	         non-foreach step resolved to (a reference in the plan); nil
//	         when that step was left out by its when
//	item     in a foreach step or warning: the current element
//	index    there: the element's position in the list, from 0
//	failure  in exception fields: kind ("multiple" or "require"), step, id,
//	         table, reason, match
//
// Besides expr's builtins (upper, lower, trim, split, join, filter, map,
// any, all, first, last, len, max, min, int, string, the contains,
// startsWith, endsWith and matches operators, ...), these helpers exist:
//
//	regexFind(s, pattern)       first match, or its first group; "" if none
//	parseDate(s)                a Salesforce date or datetime
//	addDays(t, n)               t plus n calendar days
//	daysBetween(a, b)           calendar days from a's date to b's date
//	dateIn(t, zone)             t's calendar date in an IANA zone
//	weekday(t)                  "Monday", "Tuesday", ...
//	money(currency, amount)     exact amount, sent as "EUR;495000.75"
//	moneyText(currency, amount) the amount for people: "EUR 495,000.75"
//	coalesce(a, b, ...)         the first value that is not nil or ""
//	omitEmpty(x)                nil when x is "", an empty list or nil
//	lookup(table, where, field, pick[, warning])
//	                            a value the loader reads from the target at
//	                            load time; pick is max_number or only
//
// The builtins now, date and timezone are disabled (they read the system
// clock or zone). Regular expressions and time zones named by a literal or
// a param are checked when the file compiles. Every run of an expression
// is bounded by a memory budget (WithMemoryBudget).
//
// # Values
//
// A field's result becomes the text sent to the target:
//
//	nil                      the field is left out
//	""                       an empty value is sent
//	text                     as it is
//	true / false             "true" / "false"
//	numbers                  exact decimal text without trailing zeros:
//	                         1.0 -> "1", 2.50 -> "2.5" (never through float)
//	dates (time.Time)        "2006-01-02"
//	money(...)               "<ISO>;<amount>" with two decimals, rounded half up
//	lists                    elements converted, nil elements dropped, joined
//	                         with ", " (ListSeparator); lists stay lists until
//	                         this final join
//	ref.STEP, lookup(...)    a reference or a lookup in the plan
//
// Objects cannot be sent: pick a member. A match field whose value is nil
// fails the step (loader.Step.Failed) instead of matching on nothing.
//
// Attachments that are not usable (kept only as evidence) are never put
// in a plan: the planner drops them from an attach list and adds a
// warning. When two items of a foreach step match the same record the plan
// warns too.
//
// Plan step IDs stay the rule step's name with "[i]" for the i-th element
// of a foreach list, so a saved loader journal keeps resuming; a step whose
// when is false leaves its index out. Labels are what people read.
//
// # Errors
//
// Compile reports every problem it finds as FILE:LINE:COL: message, the
// position pointing into the expression when the problem is inside one:
// YAML syntax, unknown keys (with the nearest known key), unknown vars,
// params, steps and functions, sfdc paths that neither sfdc.Opportunity nor
// custom_fields has (with the nearest known name), references to later steps, to foreach
// steps or to a step itself, cycles among vars, type errors, foreach or
// attach over something that is not a list, invalid regular expressions
// and time zones.
package mapping
