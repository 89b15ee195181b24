// Package sfdc decodes and validates the deal that Salesforce sends when an
// Opportunity reaches the stage "Closed Booked".
//
// The package knows Salesforce's JSON shapes and nothing about HTTP or
// storage:
//
//   - [Date] and [DateTime] read and write Salesforce's formats
//     (2026-11-27 and 2026-11-27T10:00:00.000+0000) and null;
//   - [Records] is a child relationship in query-result form
//     ({"totalSize": N, "done": true, "records": [...]}), where null counts
//     as an empty list;
//   - [Decimal] keeps a JSON number's exact text, so money never passes
//     through float rounding;
//   - [Opportunity] is the reference payload described in the project's
//     domain notes.
//
// [Decode] checks the raw bytes strictly (valid UTF-8, one JSON object, no
// duplicate keys, no trailing data, a size limit) before it fills a typed
// value, and keeps the exact bytes and their SHA-256 beside it.
// Unknown fields are never an error: they stay in the raw document. A
// value of the wrong type does not stop it: it records the problem, leaves
// the field empty and goes on. A list longer than the records limit
// ([WithMaxRecords], 5,000 by default) is counted to its end but not kept.
//
// [Validate] applies go-playground/validator tags plus Salesforce-aware rules
// (record ids with their case checksum, ISO 4217 currencies, stage, dates in
// order, positive quantities, amounts within 18 digits and the currency's
// minor unit, ...) and reports every problem at once, each with a JSON
// Pointer into the payload, the rule's name and a message that says what
// was expected.
//
// [DecodeAndValidate] does both and reports all their problems in one
// [ValidationError], with control characters other than tab, CR and LF in
// any string of the document (member names and unknown fields included).
// Its cost is bounded by the size limit: numbers are read in one pass and
// exponents never expanded, quoted values are shortened in messages, and
// at most [MaxProblems] problems are kept (the rest are counted).
//
// All are generic: a team whose payload differs declares its own struct
// with the same tags and calls Decode[MyDeal] and Validate on it.
package sfdc
