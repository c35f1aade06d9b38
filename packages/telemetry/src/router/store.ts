/**
 * The router's durable state, one SQLite database (`router.db`, held
 * exclusively; WAL + synchronous FULL, so a commit is on disk when it
 * returns). Outbox writes requested in one event-loop turn share one
 * transaction (group commit), so a burst of batches costs one fsync:
 *
 * - the device registry: the allow-list of device keys that may send
 *   batches (keyid = device pseudonym), each tied to its customer;
 * - the outbox: every accepted batch with the one site it was routed to
 *   and the policy version it was routed under. A batch is acknowledged to
 *   the device only after its row is committed; the forwarder retries it
 *   until that site stores it (then `stored`, with the site's receipt) or
 *   refuses it (`refused`, with the site's code). A row's site never changes.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openSqlite } from '@glasshouse/db';
import { TelemetryError } from '../errors.js';
import { GroupCommit } from '../group-commit.js';

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE devices (
     device TEXT PRIMARY KEY, customer TEXT NOT NULL, device_key TEXT NOT NULL,
     registered_at TEXT NOT NULL, envelope TEXT NOT NULL);
   CREATE TABLE outbox (
     digest TEXT PRIMARY KEY, device TEXT NOT NULL, customer TEXT NOT NULL, region TEXT NOT NULL,
     site TEXT NOT NULL, site_url TEXT NOT NULL, policy TEXT NOT NULL, events INTEGER NOT NULL,
     body BLOB, status TEXT NOT NULL CHECK (status IN ('queued', 'stored', 'refused')),
     attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, accepted_at INTEGER NOT NULL,
     last_error TEXT, receipt TEXT, site_index INTEGER, refusal TEXT);
   CREATE INDEX outbox_due ON outbox (status, next_at);`,
];

export const ROUTER_DB_FILE = 'router.db';

export interface DeviceRow {
  readonly device: string;
  readonly customer: string;
  /** Base64 raw Ed25519 public key. */
  readonly deviceKey: string;
  readonly registeredAt: string;
}

export type OutboxStatus = 'queued' | 'stored' | 'refused';

export interface OutboxRow {
  readonly digest: string;
  readonly device: string;
  readonly customer: string;
  readonly region: string;
  readonly site: string;
  /** The site's ingest URL at routing time (from the policy version routed under). */
  readonly siteUrl: string;
  readonly policy: string;
  readonly events: number;
  readonly status: OutboxStatus;
  readonly attempts: number;
  readonly nextAt: number;
  readonly lastError: string | null;
  readonly receipt: string | null;
  readonly siteIndex: number | null;
  /** The site's refusal code, when refused. */
  readonly refusal: string | null;
}

export interface NewOutboxRow {
  readonly digest: string;
  readonly device: string;
  readonly customer: string;
  readonly region: string;
  readonly site: string;
  readonly siteUrl: string;
  readonly policy: string;
  readonly events: number;
  readonly body: Uint8Array;
  readonly now: number;
}

interface RawRow {
  digest: string;
  device: string;
  customer: string;
  region: string;
  site: string;
  site_url: string;
  policy: string;
  events: number;
  status: OutboxStatus;
  attempts: number;
  next_at: number;
  last_error: string | null;
  receipt: string | null;
  site_index: number | null;
  refusal: string | null;
}

const COLUMNS =
  'digest, device, customer, region, site, site_url, policy, events, status, attempts, next_at, last_error, receipt, site_index, refusal';

export class RouterStore {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  /** Writes of one event-loop turn share a transaction: one fsync for all of them. */
  readonly #writes: GroupCommit<() => unknown, unknown>;
  #closed = false;

  private constructor(db: Database.Database) {
    this.#db = db;
    const together = db.transaction((ops: readonly (() => unknown)[]) => ops.map((op) => op()));
    this.#writes = new GroupCommit(
      (ops) => together.immediate(ops),
      (op) => {
        try {
          return Promise.resolve(db.transaction(op).immediate());
        } catch (err) {
          return Promise.reject(err instanceof Error ? err : new Error(String(err)));
        }
      },
    );
  }

  /** A prepared statement, prepared once. */
  #sql(text: string): Database.Statement {
    let stmt = this.#statements.get(text);
    if (stmt === undefined) {
      stmt = this.#db.prepare(text);
      this.#statements.set(text, stmt);
    }
    return stmt;
  }

  /** Runs `op` in the next group transaction; resolves once that is committed (durable). */
  #write<T>(op: () => T): Promise<T> {
    if (this.#closed)
      return Promise.reject(new TelemetryError('CLOSED', 'the router store is closed'));
    return this.#writes.submit(op) as Promise<T>;
  }

  /** Opens `<dir>/router.db`; a second router on the directory is refused (`STATE_LOCKED`). */
  static open(dir: string): RouterStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      return new RouterStore(openSqlite(join(dir, ROUTER_DB_FILE), { migrations: MIGRATIONS }));
    } catch (cause) {
      if ((cause as { code?: unknown }).code === 'SQLITE_BUSY') {
        throw new TelemetryError('STATE_LOCKED', `${dir} is in use by another router`, {
          cause,
          evidence: { dir },
        });
      }
      throw cause;
    }
  }

  devices(): DeviceRow[] {
    const rows = this.#sql(
      'SELECT device, customer, device_key, registered_at FROM devices ORDER BY registered_at',
    ).all() as { device: string; customer: string; device_key: string; registered_at: string }[];
    return rows.map((r) => ({
      device: r.device,
      customer: r.customer,
      deviceKey: r.device_key,
      registeredAt: r.registered_at,
    }));
  }

  device(device: string): DeviceRow | undefined {
    const r = this.#sql(
      'SELECT device, customer, device_key, registered_at FROM devices WHERE device = ?',
    ).get(device) as
      { device: string; customer: string; device_key: string; registered_at: string } | undefined;
    return r === undefined
      ? undefined
      : {
          device: r.device,
          customer: r.customer,
          deviceKey: r.device_key,
          registeredAt: r.registered_at,
        };
  }

  /** Durable when it returns; registering the same device again is a no-op. */
  addDevice(row: DeviceRow, envelope: string): void {
    this.#sql(
      'INSERT OR IGNORE INTO devices (device, customer, device_key, registered_at, envelope) VALUES (?, ?, ?, ?, ?)',
    ).run(row.device, row.customer, row.deviceKey, row.registeredAt, envelope);
  }

  /**
   * Adds an accepted batch, durable when it resolves. Idempotent by digest:
   * the same bytes sent again return the existing row (never a second one).
   */
  enqueue(row: NewOutboxRow): Promise<{ row: OutboxRow; created: boolean }> {
    return this.#write(() => this.#insert(row));
  }

  #insert(row: NewOutboxRow): { row: OutboxRow; created: boolean } {
    const info = this.#sql(
      `INSERT OR IGNORE INTO outbox (digest, device, customer, region, site, site_url, policy, events, body, status, next_at, accepted_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)`,
    ).run(
      row.digest,
      row.device,
      row.customer,
      row.region,
      row.site,
      row.siteUrl,
      row.policy,
      row.events,
      row.body,
      row.now,
      row.now,
    );
    return { row: this.get(row.digest) as OutboxRow, created: info.changes === 1 };
  }

  get(digest: string): OutboxRow | undefined {
    const r = this.#sql(`SELECT ${COLUMNS} FROM outbox WHERE digest = ?`).get(digest) as
      RawRow | undefined;
    return r === undefined ? undefined : fromRaw(r);
  }

  body(digest: string): Uint8Array | undefined {
    const r = this.#sql('SELECT body FROM outbox WHERE digest = ?').get(digest) as
      { body: Buffer | null } | undefined;
    return r?.body == null ? undefined : new Uint8Array(r.body);
  }

  /** Queued rows due at `now`, oldest first. */
  due(now: number, limit: number): OutboxRow[] {
    const rows = this.#sql(
      `SELECT ${COLUMNS} FROM outbox WHERE status = 'queued' AND next_at <= ? ORDER BY next_at, accepted_at LIMIT ?`,
    ).all(now, limit) as RawRow[];
    return rows.map(fromRaw);
  }

  /** The earliest `next_at` of a queued row, or undefined. */
  nextDue(): number | undefined {
    const r = this.#sql("SELECT MIN(next_at) AS t FROM outbox WHERE status = 'queued'").get() as {
      t: number | null;
    };
    return r.t ?? undefined;
  }

  /** The site stored it: the body is dropped, the receipt kept. */
  markStored(digest: string, receipt: string, siteIndex: number): Promise<void> {
    return this.#write(() => {
      this.#sql(
        "UPDATE outbox SET status = 'stored', receipt = ?, site_index = ?, body = NULL, last_error = NULL WHERE digest = ? AND status = 'queued'",
      ).run(receipt, siteIndex, digest);
    });
  }

  /** The site refused it with a code: never retried, never sent elsewhere. */
  markRefused(digest: string, code: string): Promise<void> {
    return this.#write(() => {
      this.#sql(
        "UPDATE outbox SET status = 'refused', refusal = ?, body = NULL WHERE digest = ? AND status = 'queued'",
      ).run(code, digest);
    });
  }

  /** A failed attempt: try again at `nextAt`. */
  markRetry(digest: string, error: string, nextAt: number): Promise<void> {
    return this.#write(() => {
      this.#sql(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE digest = ? AND status = 'queued'",
      ).run(error.slice(0, 500), nextAt, digest);
    });
  }

  counts(): Record<OutboxStatus, number> {
    const rows = this.#sql('SELECT status, COUNT(*) AS n FROM outbox GROUP BY status').all() as {
      status: OutboxStatus;
      n: number;
    }[];
    const out: Record<OutboxStatus, number> = { queued: 0, stored: 0, refused: 0 };
    for (const r of rows) out[r.status] = r.n;
    return out;
  }

  close(): void {
    if (this.#closed) return;
    this.#writes.flush();
    this.#closed = true;
    this.#db.close();
  }
}

function fromRaw(r: RawRow): OutboxRow {
  return {
    digest: r.digest,
    device: r.device,
    customer: r.customer,
    region: r.region,
    site: r.site,
    siteUrl: r.site_url,
    policy: r.policy,
    events: r.events,
    status: r.status,
    attempts: r.attempts,
    nextAt: r.next_at,
    lastError: r.last_error,
    receipt: r.receipt,
    siteIndex: r.site_index,
    refusal: r.refusal,
  };
}
