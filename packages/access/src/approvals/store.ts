/**
 * The approvals store (issue 17 §5): access requests (exact bytes, by
 * digest), the approvers' signed decisions (DSSE envelopes), break-glass
 * accesses with their review deadline, and the supervisor's reviews.
 * SQLite or PostgreSQL through the package's SQL port; every write is
 * durable on resolve. What is stored was verified by the service first.
 */
import { openSql, type Sql, type SqlLocation } from '../sql.js';

const MIGRATIONS = [
  `CREATE TABLE requests (
     digest text PRIMARY KEY,
     request bytea NOT NULL,
     customer text NOT NULL,
     principal text NOT NULL,
     requested_at text NOT NULL,
     expires_at text NOT NULL
   );
   CREATE INDEX requests_customer ON requests (customer, requested_at);
   CREATE TABLE decisions (
     request text NOT NULL REFERENCES requests (digest),
     role text NOT NULL,
     decision text NOT NULL,
     decided_at text NOT NULL,
     expires_at text NOT NULL,
     envelope text NOT NULL,
     PRIMARY KEY (request, envelope)
   );
   CREATE TABLE break_glass (
     record text PRIMARY KEY,
     log_index bigint NOT NULL,
     customer text NOT NULL,
     principal text NOT NULL,
     logged_at text NOT NULL,
     review_due text NOT NULL
   );
   CREATE TABLE reviews (
     record text PRIMARY KEY REFERENCES break_glass (record),
     decision text NOT NULL,
     decided_at text NOT NULL,
     envelope text NOT NULL
   )`,
];
const SQLITE_MIGRATIONS = [MIGRATIONS[0]?.replace('bytea', 'BLOB') ?? ''];

export interface StoredRequest {
  readonly digest: string;
  readonly request: Uint8Array;
  readonly customer: string;
  readonly principal: string;
  readonly requestedAt: string;
  readonly expiresAt: string;
}

export interface StoredDecision {
  readonly request: string;
  readonly role: string;
  readonly decision: string;
  readonly decidedAt: string;
  readonly expiresAt: string;
  readonly envelope: string;
}

export interface BreakGlassAccess {
  readonly record: string;
  readonly index: bigint;
  readonly customer: string;
  readonly principal: string;
  readonly loggedAt: string;
  readonly reviewDue: string;
}

export interface StoredReview {
  readonly record: string;
  readonly decision: string;
  readonly decidedAt: string;
  readonly envelope: string;
}

type Row = Record<string, unknown>;

function bytesOf(b: unknown): Uint8Array {
  const buf = b as Buffer;
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export class ApprovalStore {
  readonly #sql: Sql;

  private constructor(sql: Sql) {
    this.#sql = sql;
  }

  /** `{dir}` → `<dir>/approvals.sqlite`; `{postgres}` → schema `schema` (default `approvals`). */
  static async open(where: SqlLocation & { schema?: string }): Promise<ApprovalStore> {
    const sql = await openSql(where, {
      file: 'approvals.sqlite',
      schema: where.schema ?? 'approvals',
      migrations: where.postgres === undefined ? SQLITE_MIGRATIONS : MIGRATIONS,
      name: 'approvals',
    });
    return new ApprovalStore(sql);
  }

  /** Stores a request; the same digest again changes nothing. Returns false when it existed. */
  async putRequest(r: StoredRequest): Promise<boolean> {
    const n = await this.#sql.run(
      `INSERT INTO requests (digest, request, customer, principal, requested_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (digest) DO NOTHING`,
      [r.digest, r.request, r.customer, r.principal, r.requestedAt, r.expiresAt],
    );
    return n > 0;
  }

  async request(digest: string): Promise<StoredRequest | null> {
    const [row] = await this.#sql.all('SELECT * FROM requests WHERE digest = $1', [digest]);
    return row === undefined ? null : requestOf(row);
  }

  /** Requests, newest first, optionally one customer's, at most `limit`. */
  async requests(opts: { customer?: string; limit?: number } = {}): Promise<StoredRequest[]> {
    const limit = Math.min(Math.max(opts.limit ?? 200, 1), 1000);
    const rows =
      opts.customer === undefined
        ? await this.#sql.all('SELECT * FROM requests ORDER BY requested_at DESC LIMIT $1', [limit])
        : await this.#sql.all(
            'SELECT * FROM requests WHERE customer = $1 ORDER BY requested_at DESC LIMIT $2',
            [opts.customer, limit],
          );
    return rows.map(requestOf);
  }

  /** Adds a decision (the same envelope again changes nothing). */
  async addDecision(d: StoredDecision): Promise<void> {
    await this.#sql.run(
      `INSERT INTO decisions (request, role, decision, decided_at, expires_at, envelope)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request, envelope) DO NOTHING`,
      [d.request, d.role, d.decision, d.decidedAt, d.expiresAt, d.envelope],
    );
  }

  async decisions(request: string): Promise<StoredDecision[]> {
    const rows = await this.#sql.all(
      'SELECT * FROM decisions WHERE request = $1 ORDER BY decided_at, envelope',
      [request],
    );
    return rows.map((r) => ({
      request: r.request as string,
      role: r.role as string,
      decision: r.decision as string,
      decidedAt: r.decided_at as string,
      expiresAt: r.expires_at as string,
      envelope: r.envelope as string,
    }));
  }

  /** Records a logged break-glass access (idempotent by record digest). */
  async addBreakGlass(b: BreakGlassAccess): Promise<void> {
    await this.#sql.run(
      `INSERT INTO break_glass (record, log_index, customer, principal, logged_at, review_due)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (record) DO NOTHING`,
      [b.record, b.index, b.customer, b.principal, b.loggedAt, b.reviewDue],
    );
  }

  async breakGlass(record: string): Promise<BreakGlassAccess | null> {
    const [row] = await this.#sql.all('SELECT * FROM break_glass WHERE record = $1', [record]);
    return row === undefined ? null : breakGlassOf(row);
  }

  async breakGlassAccesses(limit = 1000): Promise<BreakGlassAccess[]> {
    const rows = await this.#sql.all('SELECT * FROM break_glass ORDER BY logged_at LIMIT $1', [
      Math.min(Math.max(limit, 1), 10_000),
    ]);
    return rows.map(breakGlassOf);
  }

  /** Stores the review of a break-glass access; the first review stands. Returns false if one existed. */
  async addReview(r: StoredReview): Promise<boolean> {
    const n = await this.#sql.run(
      `INSERT INTO reviews (record, decision, decided_at, envelope) VALUES ($1, $2, $3, $4)
       ON CONFLICT (record) DO NOTHING`,
      [r.record, r.decision, r.decidedAt, r.envelope],
    );
    return n > 0;
  }

  async review(record: string): Promise<StoredReview | null> {
    const [row] = await this.#sql.all('SELECT * FROM reviews WHERE record = $1', [record]);
    if (row === undefined) return null;
    return {
      record: row.record as string,
      decision: row.decision as string,
      decidedAt: row.decided_at as string,
      envelope: row.envelope as string,
    };
  }

  close(): Promise<void> {
    return this.#sql.close();
  }
}

function requestOf(r: Row): StoredRequest {
  return {
    digest: r.digest as string,
    request: bytesOf(r.request),
    customer: r.customer as string,
    principal: r.principal as string,
    requestedAt: r.requested_at as string,
    expiresAt: r.expires_at as string,
  };
}

function breakGlassOf(r: Row): BreakGlassAccess {
  return {
    record: r.record as string,
    index: BigInt(r.log_index as string | number),
    customer: r.customer as string,
    principal: r.principal as string,
    loggedAt: r.logged_at as string,
    reviewDue: r.review_due as string,
  };
}
