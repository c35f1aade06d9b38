/**
 * The key release's own audit store (issue 17 §4: "every release is
 * recorded in the supervisor's own audit store"), SQLite or PostgreSQL
 * through the package's SQL port. Every request gets a row — releases and
 * refusals — and the row of a release is also the replay guard: a record
 * digest is used at most once (unique among `prepared` and `released`
 * rows), and the row is committed before any key leaves the service.
 *
 * Two-phase releases (`KeyRelease.prepare` then `releasePrepared`): the
 * durable row is written at prepare as `prepared`, before the receipt
 * exists and before any key leaves; once the keys are answered it becomes
 * `released`, an update the answer does not wait for (committed in groups,
 * `settleReleasedLater`). So a `prepared` row
 * means "keys may have left" (a crash can lose the update): readers count it
 * as released-or-not, never as nothing. A prepared release the same process
 * knows ended without keys (refused, or its ticket expired) is settled with
 * that code instead.
 */
import { AccessError } from '../errors.js';
import { isUniqueViolation, openSql, type Sql, type SqlLocation } from '../sql.js';

export interface AuditEntry {
  /** RFC 3339. */
  readonly time: string;
  /**
   * `released`; `prepared` (durable before the keys of a two-phase release
   * leave: keys may have left); or the refusal code.
   */
  readonly outcome: string;
  readonly record: string | null;
  readonly logIndex: bigint | null;
  readonly customer: string | null;
  readonly principal: string | null;
  readonly justification: string | null;
  /** Batch digests asked for (released ones for a release). */
  readonly batches: readonly string[];
}

const MIGRATIONS = [
  `CREATE TABLE audit (
     id integer PRIMARY KEY,
     time text NOT NULL,
     outcome text NOT NULL,
     record text,
     log_index bigint,
     customer text,
     principal text,
     justification text,
     batches text NOT NULL
   );
   CREATE UNIQUE INDEX audit_released_once ON audit (record) WHERE outcome = 'released';
   CREATE INDEX audit_customer ON audit (customer, id)`,
  // Two-phase releases: a prepared record counts as used as much as a released one.
  `DROP INDEX audit_released_once;
   CREATE UNIQUE INDEX audit_used_once ON audit (record) WHERE outcome IN ('prepared', 'released')`,
];
// PostgreSQL: the id is generated (SQLite's INTEGER PRIMARY KEY is the rowid already).
const PG_MIGRATIONS = [
  MIGRATIONS[0]?.replace('id integer PRIMARY KEY', 'id bigserial PRIMARY KEY') ?? '',
  MIGRATIONS[1] ?? '',
];

interface AuditRow extends Record<string, unknown> {
  time: string;
  outcome: string;
  record: string | null;
  log_index: string | number | null;
  customer: string | null;
  principal: string | null;
  justification: string | null;
  batches: string;
}

/** How long `released` settles wait to be committed together (one fsync for all of them). */
export const RELEASED_FLUSH_MS = 1000;
const RELEASED_FLUSH_ROWS = 500;

export class ReleaseAuditStore {
  readonly #sql: Sql;
  /** `released` settles not yet committed: row id → log index. */
  #released = new Map<number, bigint>();
  #flushTimer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  private constructor(sql: Sql) {
    this.#sql = sql;
  }

  /** `{dir}` → `<dir>/keyrelease-audit.sqlite`; `{postgres}` → schema `schema` (default `keyrelease_audit`). */
  static async open(where: SqlLocation & { schema?: string }): Promise<ReleaseAuditStore> {
    const sql = await openSql(where, {
      file: 'keyrelease-audit.sqlite',
      schema: where.schema ?? 'keyrelease_audit',
      migrations: where.postgres === undefined ? MIGRATIONS : PG_MIGRATIONS,
      name: 'keyrelease audit',
    });
    return new ReleaseAuditStore(sql);
  }

  /**
   * Records a release; MUST be durable on resolve. RECORD_REPLAYED when the
   * record was released before (by any process sharing the store).
   */
  async recordRelease(e: AuditEntry): Promise<void> {
    await this.#insertFirstUse(e);
  }

  /**
   * Records a prepared two-phase release (outcome `prepared`) and answers
   * its row id; MUST be durable on resolve (it is the audit of keys that may
   * leave later). RECORD_REPLAYED when the record was prepared or released
   * before.
   */
  async recordPrepared(e: Omit<AuditEntry, 'outcome'>): Promise<number> {
    return this.#insertFirstUse({ ...e, outcome: 'prepared' });
  }

  /**
   * Settles a `prepared` row: `released` (with the log index its receipt
   * proved) once the keys are answered, or the refusal code when none left.
   * Only a `prepared` row changes; answers whether it did.
   */
  async settlePrepared(id: number, outcome: string, logIndex: bigint | null): Promise<boolean> {
    const changed = await this.#sql.run(
      `UPDATE audit SET outcome = $2, log_index = COALESCE($3, log_index)
       WHERE id = $1 AND outcome = 'prepared'`,
      [id, outcome, logIndex],
    );
    return changed === 1;
  }

  /**
   * Settles a `prepared` row as `released` later: such settles are
   * committed together, within `RELEASED_FLUSH_MS` (or at 500 pending, or at
   * `close`), so the keys' answer never waits for an fsync of its own. A
   * crash before the commit leaves the row `prepared`, which already means
   * "keys may have left".
   */
  settleReleasedLater(id: number, logIndex: bigint): void {
    this.#released.set(id, logIndex);
    if (this.#released.size >= RELEASED_FLUSH_ROWS) {
      void this.flushReleased();
    } else if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => void this.flushReleased(), RELEASED_FLUSH_MS);
      this.#flushTimer.unref();
    }
  }

  /** Commits the pending `released` settles (one transaction); errors leave rows `prepared`. */
  flushReleased(): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const batch = this.#released;
    if (batch.size === 0) return this.#flushing;
    this.#released = new Map();
    this.#flushing = this.#flushing.then(() =>
      this.#sql
        .tx(async (q) => {
          for (const [id, index] of batch) {
            await q.run(
              `UPDATE audit SET outcome = 'released', log_index = $2
               WHERE id = $1 AND outcome = 'prepared'`,
              [id, index],
            );
          }
        })
        .catch(() => undefined),
    );
    return this.#flushing;
  }

  /** Records a refusal (outcome = its code); durable on resolve. */
  async recordRefusal(e: AuditEntry): Promise<void> {
    await this.#insert(e);
  }

  /** The row of a record's one use: RECORD_REPLAYED if the record has one already. */
  async #insertFirstUse(e: AuditEntry): Promise<number> {
    try {
      return await this.#insert(e);
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new AccessError('RECORD_REPLAYED', 'this access record was already used', {
          evidence: { record: e.record },
        });
      }
      throw err;
    }
  }

  /** Inserts one row; answers its id. */
  async #insert(e: AuditEntry): Promise<number> {
    const rows = await this.#sql.all<{ id: number | string }>(
      `INSERT INTO audit (time, outcome, record, log_index, customer, principal, justification, batches)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
      [
        e.time,
        e.outcome,
        e.record,
        e.logIndex,
        e.customer,
        e.principal,
        e.justification,
        JSON.stringify(e.batches),
      ],
    );
    return Number(rows[0]?.id);
  }

  /** Audit rows, oldest first (optionally one customer's), at most `limit`. */
  async list(opts: { customer?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    const limit = Math.min(Math.max(opts.limit ?? 1000, 1), 10_000);
    const rows =
      opts.customer === undefined
        ? await this.#sql.all<AuditRow>('SELECT * FROM audit ORDER BY id LIMIT $1', [limit])
        : await this.#sql.all<AuditRow>(
            'SELECT * FROM audit WHERE customer = $1 ORDER BY id LIMIT $2',
            [opts.customer, limit],
          );
    return rows.map((r) => ({
      time: r.time,
      outcome: r.outcome,
      record: r.record,
      logIndex: r.log_index === null ? null : BigInt(r.log_index),
      customer: r.customer,
      principal: r.principal,
      justification: r.justification,
      batches: JSON.parse(r.batches) as string[],
    }));
  }

  async close(): Promise<void> {
    await this.flushReleased();
    await this.#sql.close();
  }
}
