package staging

import (
	"context"

	"github.com/uptrace/bun"
)

// schemaMigration is one step of the staging schema, written out for each
// engine, or done in Go (run) where the step needs the store's own rules.
// Steps are never edited once released: a change is a new step.
type schemaMigration struct {
	name     string // 14 digits, the order
	comment  string
	postgres []string
	sqlite   []string
	// run, when set, runs before the statements, on both engines, outside
	// the step's transaction: it must be safe to run again (a process that
	// stops half-way runs the step again at its next start).
	run func(ctx context.Context, s *Store, db *bun.DB) error
}

// schemaMigrations are the staging schema's steps, in order.
var schemaMigrations = []schemaMigration{
	{
		name:    "20261127000001",
		comment: "staging_tables",
		postgres: []string{
			`CREATE TABLE IF NOT EXISTS staging_records (
				id BIGSERIAL PRIMARY KEY,
				number TEXT,
				state TEXT NOT NULL,
				state_since TIMESTAMPTZ NOT NULL,
				version BIGINT NOT NULL,
				sf_id TEXT,
				payload_raw BYTEA,
				payload_hash TEXT NOT NULL DEFAULT '',
				payload_version BIGINT NOT NULL DEFAULT 0,
				payload_modified_at TIMESTAMPTZ,
				payload_received_at TIMESTAMPTZ,
				payload_info TEXT,
				ecc_id TEXT NOT NULL DEFAULT '',
				dr_number TEXT NOT NULL DEFAULT '',
				sales_order_number TEXT NOT NULL DEFAULT '',
				opportunity_id TEXT NOT NULL DEFAULT '',
				ecc_key TEXT NOT NULL DEFAULT '',
				company_name TEXT NOT NULL DEFAULT '',
				ph TEXT,
				warnings TEXT NOT NULL DEFAULT '[]',
				exceptions TEXT NOT NULL DEFAULT '[]',
				review TEXT,
				merged_into BIGINT REFERENCES staging_records (id),
				changed_since_load BOOLEAN NOT NULL DEFAULT FALSE,
				load_attempts INTEGER NOT NULL DEFAULT 0,
				load_started_at TIMESTAMPTZ,
				load_finished_at TIMESTAMPTZ,
				loaded_at TIMESTAMPTZ,
				load_journal TEXT,
				load_result TEXT,
				load_error TEXT NOT NULL DEFAULT '',
				search_text TEXT NOT NULL DEFAULT '',
				created_at TIMESTAMPTZ NOT NULL,
				updated_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE UNIQUE INDEX IF NOT EXISTS staging_records_sf_id ON staging_records (sf_id)`,
			`CREATE UNIQUE INDEX IF NOT EXISTS staging_records_number ON staging_records (number)`,
			`CREATE INDEX IF NOT EXISTS staging_records_state ON staging_records (state, state_since)`,
			`CREATE INDEX IF NOT EXISTS staging_records_ecc_key ON staging_records (ecc_key)`,
			`CREATE TABLE IF NOT EXISTS staging_payload_history (
				id BIGSERIAL PRIMARY KEY,
				record_id BIGINT NOT NULL REFERENCES staging_records (id),
				sf_id TEXT NOT NULL,
				version BIGINT NOT NULL,
				hash TEXT NOT NULL,
				raw BYTEA NOT NULL,
				info TEXT NOT NULL,
				modified_at TIMESTAMPTZ,
				received_at TIMESTAMPTZ NOT NULL,
				superseded_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX IF NOT EXISTS staging_payload_history_record ON staging_payload_history (record_id, id)`,
			`CREATE TABLE IF NOT EXISTS staging_events (
				id BIGSERIAL PRIMARY KEY,
				record_id BIGINT NOT NULL REFERENCES staging_records (id),
				at TIMESTAMPTZ NOT NULL,
				kind TEXT NOT NULL,
				from_state TEXT NOT NULL DEFAULT '',
				to_state TEXT NOT NULL DEFAULT '',
				channel TEXT NOT NULL DEFAULT '',
				actor TEXT NOT NULL DEFAULT '',
				message TEXT NOT NULL DEFAULT '',
				data TEXT
			)`,
			`CREATE INDEX IF NOT EXISTS staging_events_record ON staging_events (record_id, id)`,
			`CREATE TABLE IF NOT EXISTS staging_emails (
				id BIGSERIAL PRIMARY KEY,
				dedup_key TEXT NOT NULL,
				message_id TEXT NOT NULL DEFAULT '',
				content_hash TEXT NOT NULL,
				record_id BIGINT REFERENCES staging_records (id),
				outcome TEXT NOT NULL DEFAULT '',
				channel TEXT NOT NULL DEFAULT '',
				raw_sha256 TEXT NOT NULL,
				raw_size BIGINT NOT NULL,
				received_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE UNIQUE INDEX IF NOT EXISTS staging_emails_dedup ON staging_emails (dedup_key)`,
			`CREATE TABLE IF NOT EXISTS staging_attachments (
				id BIGSERIAL PRIMARY KEY,
				record_id BIGINT NOT NULL REFERENCES staging_records (id),
				email_id BIGINT NOT NULL REFERENCES staging_emails (id),
				file_name TEXT NOT NULL,
				content_type TEXT NOT NULL,
				size BIGINT NOT NULL,
				sha256 TEXT NOT NULL,
				usable BOOLEAN NOT NULL,
				warnings TEXT NOT NULL DEFAULT '[]',
				copied_from BIGINT REFERENCES staging_attachments (id),
				created_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX IF NOT EXISTS staging_attachments_record ON staging_attachments (record_id, id)`,
			`CREATE TABLE IF NOT EXISTS staging_blobs (
				sha256 TEXT PRIMARY KEY,
				size BIGINT NOT NULL,
				data BYTEA NOT NULL
			)`,
			`CREATE TABLE IF NOT EXISTS staging_quarantine (
				id BIGSERIAL PRIMARY KEY,
				sha256 TEXT NOT NULL,
				size BIGINT NOT NULL,
				reason TEXT NOT NULL,
				channel TEXT NOT NULL DEFAULT '',
				message_id TEXT NOT NULL DEFAULT '',
				subject TEXT NOT NULL DEFAULT '',
				from_addr TEXT NOT NULL DEFAULT '',
				received_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE UNIQUE INDEX IF NOT EXISTS staging_quarantine_sha256 ON staging_quarantine (sha256)`,
		},
		sqlite: []string{
			`CREATE TABLE IF NOT EXISTS staging_records (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				number TEXT,
				state TEXT NOT NULL,
				state_since TIMESTAMP NOT NULL,
				version INTEGER NOT NULL,
				sf_id TEXT,
				payload_raw BLOB,
				payload_hash TEXT NOT NULL DEFAULT '',
				payload_version INTEGER NOT NULL DEFAULT 0,
				payload_modified_at TIMESTAMP,
				payload_received_at TIMESTAMP,
				payload_info TEXT,
				ecc_id TEXT NOT NULL DEFAULT '',
				dr_number TEXT NOT NULL DEFAULT '',
				sales_order_number TEXT NOT NULL DEFAULT '',
				opportunity_id TEXT NOT NULL DEFAULT '',
				ecc_key TEXT NOT NULL DEFAULT '',
				company_name TEXT NOT NULL DEFAULT '',
				ph TEXT,
				warnings TEXT NOT NULL DEFAULT '[]',
				exceptions TEXT NOT NULL DEFAULT '[]',
				review TEXT,
				merged_into INTEGER REFERENCES staging_records (id),
				changed_since_load BOOLEAN NOT NULL DEFAULT FALSE,
				load_attempts INTEGER NOT NULL DEFAULT 0,
				load_started_at TIMESTAMP,
				load_finished_at TIMESTAMP,
				loaded_at TIMESTAMP,
				load_journal TEXT,
				load_result TEXT,
				load_error TEXT NOT NULL DEFAULT '',
				search_text TEXT NOT NULL DEFAULT '',
				created_at TIMESTAMP NOT NULL,
				updated_at TIMESTAMP NOT NULL
			)`,
			`CREATE UNIQUE INDEX IF NOT EXISTS staging_records_sf_id ON staging_records (sf_id)`,
			`CREATE UNIQUE INDEX IF NOT EXISTS staging_records_number ON staging_records (number)`,
			`CREATE INDEX IF NOT EXISTS staging_records_state ON staging_records (state, state_since)`,
			`CREATE INDEX IF NOT EXISTS staging_records_ecc_key ON staging_records (ecc_key)`,
			`CREATE TABLE IF NOT EXISTS staging_payload_history (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				record_id INTEGER NOT NULL REFERENCES staging_records (id),
				sf_id TEXT NOT NULL,
				version INTEGER NOT NULL,
				hash TEXT NOT NULL,
				raw BLOB NOT NULL,
				info TEXT NOT NULL,
				modified_at TIMESTAMP,
				received_at TIMESTAMP NOT NULL,
				superseded_at TIMESTAMP NOT NULL
			)`,
			`CREATE INDEX IF NOT EXISTS staging_payload_history_record ON staging_payload_history (record_id, id)`,
			`CREATE TABLE IF NOT EXISTS staging_events (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				record_id INTEGER NOT NULL REFERENCES staging_records (id),
				at TIMESTAMP NOT NULL,
				kind TEXT NOT NULL,
				from_state TEXT NOT NULL DEFAULT '',
				to_state TEXT NOT NULL DEFAULT '',
				channel TEXT NOT NULL DEFAULT '',
				actor TEXT NOT NULL DEFAULT '',
				message TEXT NOT NULL DEFAULT '',
				data TEXT
			)`,
			`CREATE INDEX IF NOT EXISTS staging_events_record ON staging_events (record_id, id)`,
			`CREATE TABLE IF NOT EXISTS staging_emails (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				dedup_key TEXT NOT NULL,
				message_id TEXT NOT NULL DEFAULT '',
				content_hash TEXT NOT NULL,
				record_id INTEGER REFERENCES staging_records (id),
				outcome TEXT NOT NULL DEFAULT '',
				channel TEXT NOT NULL DEFAULT '',
				raw_sha256 TEXT NOT NULL,
				raw_size INTEGER NOT NULL,
				received_at TIMESTAMP NOT NULL
			)`,
			`CREATE UNIQUE INDEX IF NOT EXISTS staging_emails_dedup ON staging_emails (dedup_key)`,
			`CREATE TABLE IF NOT EXISTS staging_attachments (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				record_id INTEGER NOT NULL REFERENCES staging_records (id),
				email_id INTEGER NOT NULL REFERENCES staging_emails (id),
				file_name TEXT NOT NULL,
				content_type TEXT NOT NULL,
				size INTEGER NOT NULL,
				sha256 TEXT NOT NULL,
				usable BOOLEAN NOT NULL,
				warnings TEXT NOT NULL DEFAULT '[]',
				copied_from INTEGER REFERENCES staging_attachments (id),
				created_at TIMESTAMP NOT NULL
			)`,
			`CREATE INDEX IF NOT EXISTS staging_attachments_record ON staging_attachments (record_id, id)`,
			`CREATE TABLE IF NOT EXISTS staging_blobs (
				sha256 TEXT PRIMARY KEY,
				size INTEGER NOT NULL,
				data BLOB NOT NULL
			)`,
			`CREATE TABLE IF NOT EXISTS staging_quarantine (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				sha256 TEXT NOT NULL,
				size INTEGER NOT NULL,
				reason TEXT NOT NULL,
				channel TEXT NOT NULL DEFAULT '',
				message_id TEXT NOT NULL DEFAULT '',
				subject TEXT NOT NULL DEFAULT '',
				from_addr TEXT NOT NULL DEFAULT '',
				received_at TIMESTAMP NOT NULL
			)`,
			`CREATE UNIQUE INDEX IF NOT EXISTS staging_quarantine_sha256 ON staging_quarantine (sha256)`,
		},
	},
	{
		// A new deal is the common intake: on Postgres it is staged in one
		// round trip by this function, which takes the same per-ECC lock
		// as the general path, and stands back (returning no id) whenever
		// the deal exists or a PH email waits for it, so the general path
		// decides those cases. SQLite needs nothing: it uses the general path.
		name:    "20261127000002",
		comment: "intake_fast_path",
		postgres: []string{
			`CREATE OR REPLACE FUNCTION staging_intake_new(
				p_ecc_key TEXT, p_prefix TEXT, p_offset BIGINT,
				p_state TEXT, p_now TIMESTAMPTZ, p_sf_id TEXT, p_raw BYTEA, p_hash TEXT, p_version BIGINT,
				p_modified_at TIMESTAMPTZ, p_info TEXT, p_ecc_id TEXT, p_dr_number TEXT, p_sales_order TEXT,
				p_opportunity_id TEXT, p_company TEXT, p_warnings TEXT, p_exceptions TEXT, p_search TEXT,
				p_ev_kind TEXT, p_ev_to TEXT, p_ev_channel TEXT, p_ev_actor TEXT, p_ev_message TEXT, p_ev_data TEXT)
			RETURNS TABLE (new_id BIGINT, outcome TEXT)
			LANGUAGE plpgsql VOLATILE AS $fn$
			DECLARE
				v_id BIGINT;
				v_number TEXT;
			BEGIN
				IF p_ecc_key <> '' THEN
					PERFORM pg_advisory_xact_lock(hashtextextended('bookbridge.staging.ecc:' || current_schema() || ':' || p_ecc_key, 0));
				END IF;
				IF EXISTS (SELECT 1 FROM staging_records WHERE sf_id = p_sf_id) THEN
					RETURN QUERY SELECT NULL::BIGINT, 'exists'::TEXT;
					RETURN;
				END IF;
				IF p_ecc_key <> '' AND EXISTS (SELECT 1 FROM staging_records
						WHERE ecc_key = p_ecc_key AND state = 'waiting_for_payload' AND sf_id IS NULL) THEN
					RETURN QUERY SELECT NULL::BIGINT, 'waiting'::TEXT;
					RETURN;
				END IF;
				v_id := nextval(pg_get_serial_sequence('staging_records', 'id'));
				v_number := (p_offset + v_id)::TEXT;
				IF length(v_number) < 7 THEN
					v_number := lpad(v_number, 7, '0');
				END IF;
				v_number := p_prefix || v_number;
				INSERT INTO staging_records (id, number, state, state_since, version, sf_id, payload_raw, payload_hash,
					payload_version, payload_modified_at, payload_received_at, payload_info, ecc_id, dr_number,
					sales_order_number, opportunity_id, ecc_key, company_name, warnings, exceptions, search_text,
					created_at, updated_at)
				VALUES (v_id, v_number, p_state, p_now, 1, p_sf_id, p_raw, p_hash,
					p_version, p_modified_at, p_now, p_info, p_ecc_id, p_dr_number,
					p_sales_order, p_opportunity_id, p_ecc_key, p_company, p_warnings, p_exceptions,
					lower(v_number) || p_search, p_now, p_now)
				ON CONFLICT (sf_id) DO NOTHING;
				IF NOT FOUND THEN
					RETURN QUERY SELECT NULL::BIGINT, 'exists'::TEXT;
					RETURN;
				END IF;
				INSERT INTO staging_events (record_id, at, kind, from_state, to_state, channel, actor, message, data)
				VALUES (v_id, p_now, p_ev_kind, '', p_ev_to, p_ev_channel, p_ev_actor, p_ev_message, p_ev_data);
				RETURN QUERY SELECT v_id, 'created'::TEXT;
			END
			$fn$`,
		},
		sqlite: nil,
	},
	{
		// Concurrent new deals share one round trip and one commit on
		// Postgres: staging_intake_new_batch stages a batch of them as
		// staging_intake_new does one, taking every ECC lock first in one
		// order (so batches never wait on each other in a circle) and
		// answering each deal by its position. The raw payloads arrive
		// joined in one value with their lengths beside it, which spares
		// the client building an array of large values piece by piece.
		// The batch statement runs with a generic plan: planning it anew
		// for every call cost more than the plan saves.
		// staging_intake_new (step 20261127000002) is no longer called but
		// stays, for processes of the previous release during an upgrade. The raw payloads, the
		// largest values written, are compressed with lz4 where the server
		// has it, which costs a fraction of pglz's time; older rows keep
		// their compression. SQLite needs nothing.
		name:    "20261127000003",
		comment: "intake_batch",
		postgres: []string{
			`DO $do$
			BEGIN
				ALTER TABLE staging_records ALTER COLUMN payload_raw SET COMPRESSION lz4;
				ALTER TABLE staging_payload_history ALTER COLUMN raw SET COMPRESSION lz4;
			EXCEPTION WHEN others THEN
				RAISE NOTICE 'bookbridge: lz4 is not available (%), payloads keep the default compression', SQLERRM;
			END
			$do$`,
			`CREATE OR REPLACE FUNCTION staging_intake_new_batch(
				p_prefix TEXT, p_offset BIGINT, p_ecc_key TEXT[], p_state TEXT[], p_now TIMESTAMPTZ[],
				p_sf_id TEXT[], p_raw_len INTEGER[], p_hash TEXT[], p_version BIGINT[], p_modified_at TIMESTAMPTZ[],
				p_info TEXT[], p_ecc_id TEXT[], p_dr_number TEXT[], p_sales_order TEXT[], p_opportunity_id TEXT[],
				p_company TEXT[], p_warnings TEXT[], p_exceptions TEXT[], p_search TEXT[],
				p_ev_kind TEXT[], p_ev_to TEXT[], p_ev_channel TEXT[], p_ev_actor TEXT[], p_ev_message TEXT[], p_ev_data TEXT[],
				p_raw BYTEA)
			RETURNS TABLE (pos INTEGER, new_id BIGINT, outcome TEXT)
			LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $fn$
			DECLARE
				v_lock BIGINT;
			BEGIN
				FOR v_lock IN SELECT DISTINCT hashtextextended('bookbridge.staging.ecc:' || current_schema() || ':' || k, 0)
						FROM unnest(p_ecc_key) AS k WHERE k <> '' ORDER BY 1 LOOP
					PERFORM pg_advisory_xact_lock(v_lock);
				END LOOP;
				-- One statement for the whole batch: a deal is staged when it
				-- is the first of its Salesforce id in the batch, is not staged
				-- yet and no PH email waits for its ECC id; the others are
				-- answered without a record and take the general path.
				RETURN QUERY
				WITH input AS (
					SELECT t.*, (sum(t.raw_len) OVER (ORDER BY t.ord) - t.raw_len)::INTEGER AS raw_off,
						row_number() OVER (PARTITION BY t.sf_id ORDER BY t.ord) AS nth
					FROM unnest(p_ecc_key, p_state, p_now, p_sf_id, p_raw_len, p_hash, p_version, p_modified_at,
						p_info, p_ecc_id, p_dr_number, p_sales_order, p_opportunity_id, p_company, p_warnings,
						p_exceptions, p_search, p_ev_kind, p_ev_to, p_ev_channel, p_ev_actor, p_ev_message, p_ev_data)
						WITH ORDINALITY AS t(ecc_key, state, at, sf_id, raw_len, hash, version, modified_at,
						info, ecc_id, dr_number, sales_order, opportunity_id, company, warnings,
						exceptions, search, ev_kind, ev_to, ev_channel, ev_actor, ev_message, ev_data, ord)
				), fresh AS MATERIALIZED (
					SELECT i.*, nextval(pg_get_serial_sequence('staging_records', 'id')) AS rid
					FROM input i
					WHERE i.nth = 1
						AND NOT EXISTS (SELECT 1 FROM staging_records r WHERE r.sf_id = i.sf_id)
						AND NOT (i.ecc_key <> '' AND EXISTS (SELECT 1 FROM staging_records r
							WHERE r.ecc_key = i.ecc_key AND r.state = 'waiting_for_payload' AND r.sf_id IS NULL))
				), numbered AS MATERIALIZED (
					SELECT f.*, p_prefix || CASE WHEN length((p_offset + f.rid)::TEXT) < 7
						THEN lpad((p_offset + f.rid)::TEXT, 7, '0') ELSE (p_offset + f.rid)::TEXT END AS num
					FROM fresh f
				), ins AS (
					INSERT INTO staging_records (id, number, state, state_since, version, sf_id, payload_raw, payload_hash,
						payload_version, payload_modified_at, payload_received_at, payload_info, ecc_id, dr_number,
						sales_order_number, opportunity_id, ecc_key, company_name, warnings, exceptions, search_text,
						created_at, updated_at)
					SELECT n.rid, n.num, n.state, n.at, 1, n.sf_id, substring(p_raw FROM n.raw_off + 1 FOR n.raw_len), n.hash,
						n.version, n.modified_at, n.at, n.info, n.ecc_id, n.dr_number,
						n.sales_order, n.opportunity_id, n.ecc_key, n.company, n.warnings, n.exceptions, lower(n.num) || n.search,
						n.at, n.at
					FROM numbered n
					ON CONFLICT (sf_id) DO NOTHING
					RETURNING staging_records.id AS rid
				), ev AS (
					INSERT INTO staging_events (record_id, at, kind, from_state, to_state, channel, actor, message, data)
					SELECT n.rid, n.at, n.ev_kind, '', n.ev_to, n.ev_channel, n.ev_actor, n.ev_message, n.ev_data
					FROM numbered n JOIN ins ON ins.rid = n.rid
				)
				SELECT i.ord::INTEGER, ins.rid, CASE WHEN ins.rid IS NULL THEN 'exists' ELSE 'created' END
				FROM input i LEFT JOIN numbered n ON n.ord = i.ord LEFT JOIN ins ON ins.rid = n.rid;
			END
			$fn$`,
		},
		sqlite: nil,
	},
	{
		// A deal's payload stays in its row: with the default
		// toast_tuple_target (2032 bytes) a typical deal, compressed to 2-3
		// KB, was moved out to the TOAST table as two chunks, each one
		// more row and index entry to write at intake. Rows are now
		// compressed past 8160 bytes and moved out only when still larger.
		// The price: an update of a record copies its payload into the
		// new row version, where it copied a pointer; records are updated
		// a few times in their life, at an operator's pace, while intake
		// comes in bursts.
		name:    "20261127000004",
		comment: "payload_inline",
		postgres: []string{
			`ALTER TABLE staging_records SET (toast_tuple_target = 8160)`,
			`ALTER TABLE staging_payload_history SET (toast_tuple_target = 8160)`,
		},
		sqlite: nil,
	},
	{
		// The batch function with a small fixed cost per call; parameters
		// and result columns are those of step 20261127000003, so a
		// prepared call is planned again and keeps working. It takes every
		// ECC lock of the batch in one statement, in the order of their
		// keys; looks up the id sequence once per call; sums the payload
		// offsets in a loop and finds a Salesforce id repeated within the
		// batch by looking back through the ids; and answers only the
		// staged deals (batchRun.read takes a missing position as "take
		// the general path").
		name:    "20261127000005",
		comment: "intake_batch_leaner",
		postgres: []string{
			`CREATE OR REPLACE FUNCTION staging_intake_new_batch(
				p_prefix TEXT, p_offset BIGINT, p_ecc_key TEXT[], p_state TEXT[], p_now TIMESTAMPTZ[],
				p_sf_id TEXT[], p_raw_len INTEGER[], p_hash TEXT[], p_version BIGINT[], p_modified_at TIMESTAMPTZ[],
				p_info TEXT[], p_ecc_id TEXT[], p_dr_number TEXT[], p_sales_order TEXT[], p_opportunity_id TEXT[],
				p_company TEXT[], p_warnings TEXT[], p_exceptions TEXT[], p_search TEXT[],
				p_ev_kind TEXT[], p_ev_to TEXT[], p_ev_channel TEXT[], p_ev_actor TEXT[], p_ev_message TEXT[], p_ev_data TEXT[],
				p_raw BYTEA)
			RETURNS TABLE (pos INTEGER, new_id BIGINT, outcome TEXT)
			LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $fn$
			DECLARE
				v_seq REGCLASS := pg_get_serial_sequence('staging_records', 'id')::REGCLASS;
				v_off INTEGER[] := array_fill(0, ARRAY[cardinality(p_raw_len)]);
				v_sum INTEGER := 0;
			BEGIN
				-- Where each payload starts in p_raw.
				FOR i IN 1 .. cardinality(p_raw_len) LOOP
					v_off[i] := v_sum;
					v_sum := v_sum + p_raw_len[i];
				END LOOP;
				-- The locks in one statement, in the order of their keys.
				PERFORM pg_advisory_xact_lock(l.key)
				FROM (SELECT DISTINCT hashtextextended('bookbridge.staging.ecc:' || current_schema() || ':' || k, 0) AS key
					FROM unnest(p_ecc_key) AS k WHERE k <> '' ORDER BY 1) AS l;
				-- One statement for the whole batch: a deal is staged when it
				-- is the first of its Salesforce id in the batch, is not staged
				-- yet and no PH email waits for its ECC id. Only staged deals
				-- are answered; the others take the general path. "Not staged
				-- yet" is a scalar subquery so that it stays an index lookup:
				-- as NOT EXISTS, a generic plan made while the table was small
				-- hashed the whole table.
				RETURN QUERY
				WITH input AS (
					SELECT t.*
					FROM unnest(p_ecc_key, p_state, p_now, p_sf_id, p_raw_len, p_hash, p_version, p_modified_at,
						p_info, p_ecc_id, p_dr_number, p_sales_order, p_opportunity_id, p_company, p_warnings,
						p_exceptions, p_search, p_ev_kind, p_ev_to, p_ev_channel, p_ev_actor, p_ev_message, p_ev_data, v_off)
						WITH ORDINALITY AS t(ecc_key, state, at, sf_id, raw_len, hash, version, modified_at,
						info, ecc_id, dr_number, sales_order, opportunity_id, company, warnings,
						exceptions, search, ev_kind, ev_to, ev_channel, ev_actor, ev_message, ev_data, raw_off, ord)
				), fresh AS MATERIALIZED (
					SELECT i.*, nextval(v_seq) AS rid
					FROM input i
					WHERE NOT i.sf_id = ANY (p_sf_id[1:i.ord - 1])
						AND (SELECT r.id FROM staging_records r WHERE r.sf_id = i.sf_id) IS NULL
						AND NOT (i.ecc_key <> '' AND EXISTS (SELECT 1 FROM staging_records r
							WHERE r.ecc_key = i.ecc_key AND r.state = 'waiting_for_payload' AND r.sf_id IS NULL))
				), numbered AS MATERIALIZED (
					SELECT f.*, p_prefix || CASE WHEN length((p_offset + f.rid)::TEXT) < 7
						THEN lpad((p_offset + f.rid)::TEXT, 7, '0') ELSE (p_offset + f.rid)::TEXT END AS num
					FROM fresh f
				), ins AS (
					INSERT INTO staging_records (id, number, state, state_since, version, sf_id, payload_raw, payload_hash,
						payload_version, payload_modified_at, payload_received_at, payload_info, ecc_id, dr_number,
						sales_order_number, opportunity_id, ecc_key, company_name, warnings, exceptions, search_text,
						created_at, updated_at)
					SELECT n.rid, n.num, n.state, n.at, 1, n.sf_id, substring(p_raw FROM n.raw_off + 1 FOR n.raw_len), n.hash,
						n.version, n.modified_at, n.at, n.info, n.ecc_id, n.dr_number,
						n.sales_order, n.opportunity_id, n.ecc_key, n.company, n.warnings, n.exceptions, lower(n.num) || n.search,
						n.at, n.at
					FROM numbered n
					ON CONFLICT (sf_id) DO NOTHING
					RETURNING staging_records.id AS rid
				), ev AS (
					INSERT INTO staging_events (record_id, at, kind, from_state, to_state, channel, actor, message, data)
					SELECT n.rid, n.at, n.ev_kind, '', n.ev_to, n.ev_channel, n.ev_actor, n.ev_message, n.ev_data
					FROM numbered n JOIN ins ON ins.rid = n.rid
				)
				SELECT n.ord::INTEGER, ins.rid, 'created'::TEXT
				FROM numbered n JOIN ins ON ins.rid = n.rid;
			END
			$fn$`,
		},
		sqlite: nil,
	},
	{
		// A load that failed for a passing reason and waits to be tried
		// again: how often it failed, and when it is tried next.
		name:    "20261204000010",
		comment: "load_retries",
		postgres: []string{
			`ALTER TABLE staging_records ADD COLUMN IF NOT EXISTS load_retries INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE staging_records ADD COLUMN IF NOT EXISTS load_next_try_at TIMESTAMPTZ`,
		},
		sqlite: []string{
			`ALTER TABLE staging_records ADD COLUMN load_retries INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE staging_records ADD COLUMN load_next_try_at TIMESTAMP`,
		},
	},
	{
		// The search text of every record folded anew: List now ignores
		// accents as well as case and also finds the second spelling of a
		// letter (ü as ue, ß as ss, ø as oe), see search.go. Records stored
		// before this step had their text only lower-cased. The rule is
		// Go's, so the step is done in Go, in batches, on both engines.
		name:    "20261204000011",
		comment: "search_text_folded",
		run: func(ctx context.Context, s *Store, db *bun.DB) error {
			_, err := s.refreshSearchText(ctx, db)
			return err
		},
	},
}
