/**
 * The scale-out site storage: PostgreSQL, one schema per site, shared by
 * every frontend of that site. Idempotency across frontends rests on the
 * unique digest: a second store of the same batch conflicts on it, rolls
 * back and reads what the first one stored.
 */
import pg from 'pg';
import type { PoolClient } from 'pg';
import {
  advisoryLockKey,
  checkDurableCommits,
  checkSchemaName,
  createPostgresPool,
  inTransaction,
} from '@glasshouse/db';
import { TelemetryError } from '../errors.js';
import {
  EVENTS_PER_BATCH_KEY,
  LIST_VERDICT_CODE,
  VERDICT_CODE,
  aggregateFacts,
  createdAtBounds,
  factsFromRow,
  type FactsRow,
  hashBytes,
  verdictOfCode,
} from './storage-rows.js';
import type {
  BatchToStore,
  ReadScope,
  StoredBatchContent,
  StoredEvent,
  DeleteResult,
  HashFacts,
  SiteStorage,
  SiteSummary,
  StoredBatch,
  UnloggedEntry,
  VerdictToImport,
} from './storage.js';

export interface PostgresSiteStorageOptions {
  /** Schema holding the site's tables (created if missing); default `site`. */
  readonly schema?: string;
  /** Connections in the pool; default 10. */
  readonly poolSize?: number;
  readonly onIdleError?: (err: Error) => void;
}

const UNIQUE_VIOLATION = '23505';

interface Tables {
  entries: string;
  batches: string;
  events: string;
  facts: string;
}

/** Opens (creating on first use) a site's storage in the database at `url`. */
export async function openPostgresSiteStorage(
  url: string,
  opts: PostgresSiteStorageOptions = {},
): Promise<SiteStorage> {
  const schema = opts.schema ?? 'site';
  try {
    checkSchemaName(schema);
  } catch (cause) {
    throw new TelemetryError('CONFIG_INVALID', (cause as Error).message, { cause });
  }
  const pool = createPostgresPool(url, {
    applicationName: 'glasshouse-site',
    poolSize: opts.poolSize,
    onIdleError: opts.onIdleError,
  });
  try {
    const storage = new PostgresSiteStorage(pool, schema);
    await storage.createSchema();
    await checkDurableCommits(
      pool,
      (cause) => new TelemetryError('STORAGE_FAILED', cause.message, { cause }),
    );
    return storage;
  } catch (err) {
    await pool.end();
    throw wrap(err, 'cannot open the PostgreSQL site storage');
  }
}

class PostgresSiteStorage implements SiteStorage {
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #t: Tables;
  #closed = false;

  constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#schema = schema;
    const q = (name: string): string => `${pg.escapeIdentifier(schema)}.${name}`;
    this.#t = {
      entries: q('log_entries'),
      batches: q('batches'),
      events: q('events'),
      facts: q('facts'),
    };
  }

  async createSchema(): Promise<void> {
    const { entries, batches, events, facts } = this.#t;
    await inTransaction(this.#pool, async (c) => {
      // Frontends starting at once would race on CREATE … IF NOT EXISTS.
      await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [
        advisoryLockKey(`glasshouse/site schema\n${this.#schema}`),
      ]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(this.#schema)}`);
      await c.query(`
        CREATE TABLE IF NOT EXISTS ${entries} (
          id bigserial PRIMARY KEY,
          entry bytea NOT NULL,
          log_index bigint
        );
        CREATE INDEX IF NOT EXISTS log_entries_unlogged ON ${entries} (id) WHERE log_index IS NULL;
        CREATE TABLE IF NOT EXISTS ${batches} (
          id bigserial PRIMARY KEY,
          digest text NOT NULL UNIQUE,
          batch_id text NOT NULL,
          customer text NOT NULL,
          region text NOT NULL,
          policy text NOT NULL,
          product_version text NOT NULL,
          created_at text NOT NULL,
          sealed_key bytea NOT NULL,
          key_release text NOT NULL,
          stored_at_ms bigint NOT NULL,
          events integer NOT NULL,
          entry_id bigint NOT NULL REFERENCES ${entries} (id),
          deleted_entry_id bigint REFERENCES ${entries} (id)
        );
        CREATE INDEX IF NOT EXISTS batches_retention ON ${batches} (stored_at_ms, id)
          WHERE deleted_entry_id IS NULL;
        CREATE INDEX IF NOT EXISTS batches_customer ON ${batches} (customer, id);
        CREATE TABLE IF NOT EXISTS ${events} (
          id bigint PRIMARY KEY,
          sha256 bytea NOT NULL,
          rule text,
          verdict smallint NOT NULL,
          time_bucket text NOT NULL,
          personal bytea NOT NULL
        );
        CREATE TABLE IF NOT EXISTS ${facts} (
          sha256 bytea PRIMARY KEY,
          first_seen text,
          malicious bigint NOT NULL,
          suspicious bigint NOT NULL,
          reports bigint NOT NULL,
          list_verdict smallint
        );
      `);
    });
  }

  async storeBatch(b: BatchToStore): Promise<StoredBatch> {
    const existing = await this.batch(b.digest);
    if (existing !== null) return existing;
    try {
      return await this.#tx((c) => this.#insertBatch(c, b));
    } catch (err) {
      // Another frontend stored the same digest first: answer what it stored.
      if ((err as { code?: unknown }).code === UNIQUE_VIOLATION) {
        const now = await this.batch(b.digest);
        if (now !== null) return now;
      }
      throw wrap(err, 'storing the batch failed');
    }
  }

  async #insertBatch(c: PoolClient, b: BatchToStore): Promise<StoredBatch> {
    const { entries, batches, events, facts } = this.#t;
    const e = await c.query<{ id: string }>(
      `INSERT INTO ${entries} (entry) VALUES ($1) RETURNING id`,
      [b.entry],
    );
    const entryId = e.rows[0]?.id ?? '0';
    const r = await c.query<{ id: string }>(
      `INSERT INTO ${batches} (digest, batch_id, customer, region, policy, product_version,
         created_at, sealed_key, key_release, stored_at_ms, events, entry_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
      [
        b.digest,
        b.batchId,
        b.customer,
        b.region,
        b.policy,
        b.productVersion,
        b.createdAt,
        b.sealedKey,
        b.keyRelease,
        b.storedAtMs,
        b.events.length,
        entryId,
      ],
    );
    const base = BigInt(r.rows[0]?.id ?? '0') * EVENTS_PER_BATCH_KEY;
    if (b.events.length > 0) {
      await c.query(
        `INSERT INTO ${events} (id, sha256, rule, verdict, time_bucket, personal)
         SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::smallint[], $5::text[], $6::bytea[])`,
        [
          b.events.map((_, i) => (base + BigInt(i)).toString()),
          b.events.map((ev) => hashBytes(ev.sha256)),
          b.events.map((ev) => ev.rule),
          b.events.map((ev) => VERDICT_CODE[ev.verdict]),
          b.events.map((ev) => ev.timeBucket),
          b.events.map((ev) => Buffer.from(ev.personal)),
        ],
      );
    }
    const deltas = aggregateFacts(b.events);
    if (deltas.length > 0) {
      await c.query(
        `INSERT INTO ${facts} AS f (sha256, first_seen, malicious, suspicious, reports)
         SELECT * FROM unnest($1::bytea[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
         ON CONFLICT (sha256) DO UPDATE SET
           first_seen = CASE WHEN f.first_seen IS NULL OR excluded.first_seen < f.first_seen
                        THEN excluded.first_seen ELSE f.first_seen END,
           malicious = f.malicious + excluded.malicious,
           suspicious = f.suspicious + excluded.suspicious,
           reports = f.reports + excluded.reports`,
        [
          deltas.map((d) => d.hash),
          deltas.map((d) => d.firstSeen),
          deltas.map((d) => d.malicious),
          deltas.map((d) => d.suspicious),
          deltas.map((d) => d.reports),
        ],
      );
    }
    return {
      created: true,
      entryId: BigInt(entryId),
      entry: b.entry,
      logIndex: null,
      events: b.events.length,
    };
  }

  async batch(digest: string): Promise<StoredBatch | null> {
    const { entries, batches } = this.#t;
    const r = await this.#query<{
      entry_id: string;
      entry: Buffer;
      log_index: string | null;
      events: number;
      deleted: boolean;
    }>(
      `SELECT b.entry_id, l.entry, l.log_index, b.events, (b.deleted_entry_id IS NOT NULL) AS deleted
       FROM ${batches} b JOIN ${entries} l ON l.id = b.entry_id WHERE b.digest = $1`,
      [digest],
    );
    const row = r.rows[0];
    if (row === undefined) return null;
    return {
      created: false,
      entryId: BigInt(row.entry_id),
      entry: toBytes(row.entry),
      logIndex: row.log_index === null ? null : BigInt(row.log_index),
      events: row.deleted ? 0 : row.events,
    };
  }

  async unlogged(limit: number): Promise<UnloggedEntry[]> {
    const r = await this.#query<{ id: string; entry: Buffer }>(
      `SELECT id, entry FROM ${this.#t.entries} WHERE log_index IS NULL ORDER BY id LIMIT $1`,
      [limit],
    );
    return r.rows.map((row) => ({ id: BigInt(row.id), entry: toBytes(row.entry) }));
  }

  async markLogged(marks: readonly { id: bigint; index: bigint }[]): Promise<void> {
    const { entries } = this.#t;
    await this.#tx(async (c) => {
      for (const m of marks) {
        // Set only when unset; a concurrent frontend recording the same index is fine.
        const r = await c.query<{ log_index: string | null }>(
          `UPDATE ${entries} SET log_index = COALESCE(log_index, $2) WHERE id = $1 RETURNING log_index`,
          [m.id.toString(), m.index.toString()],
        );
        const row = r.rows[0];
        if (row === undefined) {
          throw new TelemetryError('STORAGE_CORRUPT', 'no stored entry with this id', {
            evidence: { id: m.id.toString() },
          });
        }
        if (row.log_index !== m.index.toString()) {
          throw new TelemetryError('STORAGE_CORRUPT', 'the entry already has another log index', {
            evidence: { id: m.id.toString(), stored: row.log_index, index: m.index.toString() },
          });
        }
      }
    });
  }

  async deleteOlderThan(
    olderThanMs: number,
    limit: number,
    entryFor: (digests: readonly string[]) => Uint8Array,
  ): Promise<DeleteResult> {
    const { entries, batches, events } = this.#t;
    return this.#tx(async (c) => {
      // SKIP LOCKED: frontends deleting at once take disjoint batches.
      const rows = await c.query<{ id: string; digest: string }>(
        `SELECT id, digest FROM ${batches}
         WHERE deleted_entry_id IS NULL AND stored_at_ms < $1
         ORDER BY stored_at_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [olderThanMs, limit],
      );
      if (rows.rows.length === 0) return { digests: [], entry: null };
      const digests = rows.rows.map((r) => r.digest);
      const entry = entryFor(digests);
      const e = await c.query<{ id: string }>(
        `INSERT INTO ${entries} (entry) VALUES ($1) RETURNING id`,
        [entry],
      );
      const entryId = e.rows[0]?.id ?? '0';
      const ids = rows.rows.map((r) => r.id);
      await c.query(
        `DELETE FROM ${events} e USING unnest($1::bigint[]) AS b(id)
         WHERE e.id >= b.id * ${EVENTS_PER_BATCH_KEY} AND e.id < (b.id + 1) * ${EVENTS_PER_BATCH_KEY}`,
        [ids],
      );
      await c.query(`UPDATE ${batches} SET deleted_entry_id = $1 WHERE id = ANY($2::bigint[])`, [
        entryId,
        ids,
      ]);
      return { digests, entry: { id: BigInt(entryId), entry } };
    });
  }

  async readBatches(
    customer: string,
    scope: ReadScope,
    limit: number,
  ): Promise<StoredBatchContent[]> {
    const { batches, events } = this.#t;
    const columns =
      'id, digest, batch_id, customer, region, product_version, created_at, sealed_key, key_release';
    const where =
      scope.kind === 'batches'
        ? { sql: 'digest = ANY($2::text[])', values: [[...scope.batches]] }
        : (() => {
            const { low, high } = createdAtBounds(scope.from, scope.to);
            return { sql: 'created_at >= $2 AND created_at < $3', values: [low, high] };
          })();
    const rows = await this.#query<{
      id: string;
      digest: string;
      batch_id: string;
      customer: string;
      region: string;
      product_version: string;
      created_at: string;
      sealed_key: Buffer;
      key_release: string;
    }>(
      `SELECT ${columns} FROM ${batches}
       WHERE customer = $1 AND deleted_entry_id IS NULL AND ${where.sql}
       ORDER BY id LIMIT ${Math.max(0, Math.floor(limit))}`,
      [customer, ...where.values],
    );
    if (rows.rows.length === 0) return [];
    const ev = await this.#query<{
      id: string;
      sha256: Buffer;
      rule: string | null;
      verdict: number;
      time_bucket: string;
      personal: Buffer;
    }>(
      `SELECT e.id, e.sha256, e.rule, e.verdict, e.time_bucket, e.personal
       FROM ${events} e JOIN unnest($1::bigint[]) AS b(id)
         ON e.id >= b.id * ${EVENTS_PER_BATCH_KEY} AND e.id < (b.id + 1) * ${EVENTS_PER_BATCH_KEY}
       ORDER BY e.id`,
      [rows.rows.map((r) => r.id)],
    );
    const byBatch = new Map<string, StoredEvent[]>();
    for (const e of ev.rows) {
      const batch = (BigInt(e.id) / EVENTS_PER_BATCH_KEY).toString();
      const verdict = verdictOfCode(e.verdict);
      if (verdict === undefined) {
        throw new TelemetryError('STORAGE_CORRUPT', 'an event has an unknown verdict code', {
          evidence: { verdict: e.verdict },
        });
      }
      let list = byBatch.get(batch);
      if (list === undefined) byBatch.set(batch, (list = []));
      list.push({
        sha256: e.sha256.toString('hex'),
        rule: e.rule,
        verdict,
        timeBucket: e.time_bucket,
        personal: toBytes(e.personal),
      });
    }
    return rows.rows.map((r) => ({
      digest: r.digest,
      batchId: r.batch_id,
      customer: r.customer,
      region: r.region,
      productVersion: r.product_version,
      createdAt: r.created_at,
      sealedKey: toBytes(r.sealed_key),
      keyRelease: r.key_release,
      events: byBatch.get(r.id) ?? [],
    }));
  }

  async reputation(hashes: readonly string[]): Promise<HashFacts[]> {
    if (hashes.length === 0) return [];
    const r = await this.#query<FactsRow & { sha256: Buffer }>(
      `SELECT sha256, first_seen, malicious, suspicious, reports, list_verdict
       FROM ${this.#t.facts} WHERE sha256 = ANY($1::bytea[])`,
      [hashes.map(hashBytes)],
    );
    const byHex = new Map<string, FactsRow>();
    for (const row of r.rows) byHex.set(row.sha256.toString('hex'), row);
    return hashes.map((h) => factsFromRow(h, byHex.get(h)));
  }

  async importVerdicts(verdicts: readonly VerdictToImport[]): Promise<void> {
    if (verdicts.length === 0) return;
    // One statement per distinct hash: the last verdict for a hash wins.
    const last = new Map<string, VerdictToImport>();
    for (const v of verdicts) last.set(v.sha256, v);
    const list = [...last.values()];
    await this.#query(
      `INSERT INTO ${this.#t.facts} (sha256, first_seen, malicious, suspicious, reports, list_verdict)
       SELECT s, NULL, 0, 0, 0, v FROM unnest($1::bytea[], $2::smallint[]) AS t(s, v)
       ON CONFLICT (sha256) DO UPDATE SET list_verdict = excluded.list_verdict`,
      [list.map((v) => hashBytes(v.sha256)), list.map((v) => LIST_VERDICT_CODE[v.verdict])],
    );
  }

  async summary(): Promise<SiteSummary> {
    const { batches } = this.#t;
    const [regions, counts] = await Promise.all([
      this.#query<{ region: string }>(`SELECT DISTINCT region FROM ${batches} ORDER BY region`),
      this.#query<{ batches: string; events: string | null; deleted: string }>(
        `SELECT COUNT(*) FILTER (WHERE deleted_entry_id IS NULL) AS batches,
                SUM(events) FILTER (WHERE deleted_entry_id IS NULL) AS events,
                COUNT(*) FILTER (WHERE deleted_entry_id IS NOT NULL) AS deleted
         FROM ${batches}`,
      ),
    ]);
    const c = counts.rows[0];
    return {
      regions: regions.rows.map((r) => r.region),
      batches: Number(c?.batches ?? 0),
      events: Number(c?.events ?? 0),
      deletedBatches: Number(c?.deleted ?? 0),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #query<R extends pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    if (this.#closed) throw new TelemetryError('CLOSED', 'the storage is closed');
    try {
      return await this.#pool.query<R>(text, values);
    } catch (err) {
      throw wrap(err, 'site storage query failed');
    }
  }

  async #tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    if (this.#closed) throw new TelemetryError('CLOSED', 'the storage is closed');
    try {
      return await inTransaction(this.#pool, fn);
    } catch (err) {
      if ((err as { code?: unknown }).code === UNIQUE_VIOLATION) throw err;
      throw wrap(err, 'site storage transaction failed');
    }
  }
}

function wrap(err: unknown, message: string): TelemetryError {
  if (err instanceof TelemetryError) return err;
  return new TelemetryError('STORAGE_FAILED', message, { cause: err });
}

function toBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
