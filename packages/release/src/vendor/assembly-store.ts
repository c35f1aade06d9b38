/**
 * Storage of the assembly line: release records in SQLite, artifacts and
 * attestations as content-addressed files, all under one directory.
 *
 *     <dir>/assembly.sqlite        releases and their attestations (WAL, synchronous=FULL)
 *     <dir>/blobs/sha256/<hex>     artifact and attestation bytes, named by their SHA-256
 *     <dir>/tmp/                   files being written (emptied on open)
 *
 * A blob is written to tmp/, fsynced, and renamed into place before the
 * row that names it is committed, so a record never names a missing file.
 * One process per directory: the database is opened in exclusive locking
 * mode.
 */
import { webcrypto } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openSqlite } from '@glasshouse/db';
import type {
  AttestationKind,
  AttestationRef,
  ReleaseRecord,
  ReleaseStatus,
} from '@glasshouse/release-format';
import { ReleaseError } from '../errors.js';

/** A record as it is first stored: everything but the attestations and the status. */
export type NewRelease = Omit<ReleaseRecord, 'attestations' | 'status'>;

const HEX_64 = /^[0-9a-f]{64}$/;

export class AssemblyStore {
  readonly #db: Database.Database;
  readonly #blobDir: string;
  readonly #tmpDir: string;
  #tmpCounter = 0;

  private constructor(db: Database.Database, dir: string) {
    this.#db = db;
    this.#blobDir = join(dir, 'blobs', 'sha256');
    this.#tmpDir = join(dir, 'tmp');
  }

  /** Opens (creating when missing) the store in `dir`. */
  static open(dir: string): AssemblyStore {
    let db: Database.Database;
    try {
      mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true, mode: 0o700 });
      mkdirSync(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
      db = openSqlite(join(dir, 'assembly.sqlite'), {
        migrations: MIGRATIONS,
        foreignKeys: true,
      });
    } catch (cause) {
      throw new ReleaseError('ASSEMBLY_IO', `cannot open the assembly store in ${dir}`, { cause });
    }
    try {
      for (const name of readdirSync(join(dir, 'tmp'))) {
        rmSync(join(dir, 'tmp', name), { force: true, recursive: true });
      }
    } catch (cause) {
      db.close();
      throw new ReleaseError('ASSEMBLY_IO', `cannot open the assembly store in ${dir}`, { cause });
    }
    return new AssemblyStore(db, dir);
  }

  close(): void {
    this.#db.close();
  }

  /** Writes `bytes` as a blob (durable on return); returns its SHA-256. Idempotent. */
  async putBlob(bytes: Uint8Array): Promise<string> {
    // Hashed on the thread pool: a bundle of tens of megabytes would hold the event loop.
    const sha256 = Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
    const target = join(this.#blobDir, sha256);
    try {
      await stat(target);
      return sha256;
    } catch {
      // not there yet
    }
    this.#tmpCounter += 1;
    const tmp = join(this.#tmpDir, `${process.pid}-${this.#tmpCounter}-${sha256.slice(0, 16)}`);
    try {
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, target);
      const dirHandle = await open(this.#blobDir, 'r');
      try {
        await dirHandle.sync();
      } finally {
        await dirHandle.close();
      }
    } catch (cause) {
      throw new ReleaseError('ASSEMBLY_IO', 'cannot write a blob', { cause });
    }
    return sha256;
  }

  /** The bytes of a blob, or undefined. */
  async getBlob(sha256: string): Promise<Uint8Array | undefined> {
    if (!HEX_64.test(sha256)) return undefined;
    try {
      return await readFile(join(this.#blobDir, sha256));
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ReleaseError('ASSEMBLY_IO', 'cannot read a blob', { cause });
    }
  }

  /** Records a new release with its first attestations, in one transaction. */
  insertRelease(release: NewRelease, attestations: readonly AttestationRef[]): ReleaseRecord {
    const insert = this.#db.transaction(() => {
      this.#db
        .prepare('INSERT INTO releases (id, status, record) VALUES (?, ?, ?)')
        .run(release.id, 'built', JSON.stringify(release));
      for (const a of attestations) this.#insertAttestation(release.id, a);
    });
    insert();
    return this.getRelease(release.id) as ReleaseRecord;
  }

  /**
   * Lists attestations on a release and, when given, sets its status, in one
   * transaction; the same bytes twice are listed once.
   */
  addAttestations(
    releaseId: string,
    attestations: readonly AttestationRef[],
    status?: ReleaseStatus,
  ): ReleaseRecord {
    if (this.getRelease(releaseId) === undefined) {
      throw new ReleaseError('ASSEMBLY_NOT_FOUND', `no release ${releaseId}`);
    }
    this.#db.transaction(() => {
      for (const a of attestations) this.#insertAttestation(releaseId, a);
      if (status !== undefined) {
        this.#db.prepare('UPDATE releases SET status = ? WHERE id = ?').run(status, releaseId);
      }
    })();
    return this.getRelease(releaseId) as ReleaseRecord;
  }

  getRelease(id: string): ReleaseRecord | undefined {
    const row = this.#db.prepare('SELECT status, record FROM releases WHERE id = ?').get(id) as
      { status: ReleaseStatus; record: string } | undefined;
    if (row === undefined) return undefined;
    return this.#hydrate(id, row.status, row.record);
  }

  /** Every release, newest first. */
  listReleases(limit = 1000): ReleaseRecord[] {
    const rows = this.#db
      .prepare('SELECT id, status, record FROM releases ORDER BY seq DESC LIMIT ?')
      .all(limit) as { id: string; status: ReleaseStatus; record: string }[];
    return rows.map((r) => this.#hydrate(r.id, r.status, r.record));
  }

  #insertAttestation(releaseId: string, a: AttestationRef): void {
    this.#db
      .prepare(
        `INSERT OR IGNORE INTO attestations (release_id, sha256, kind, size, by, keyids, file_name, added_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        releaseId,
        a.sha256,
        a.kind,
        a.size,
        a.by,
        JSON.stringify(a.keyids),
        a.fileName ?? null,
        a.addedAt,
      );
  }

  #hydrate(id: string, status: ReleaseStatus, record: string): ReleaseRecord {
    const base = JSON.parse(record) as NewRelease;
    const rows = this.#db
      .prepare(
        'SELECT sha256, kind, size, by, keyids, file_name, added_at FROM attestations WHERE release_id = ? ORDER BY seq',
      )
      .all(id) as {
      sha256: string;
      kind: AttestationKind;
      size: number;
      by: 'builder' | 'supervisor';
      keyids: string;
      file_name: string | null;
      added_at: string;
    }[];
    const attestations = rows.map((r): AttestationRef => ({
      kind: r.kind,
      sha256: r.sha256,
      size: r.size,
      by: r.by,
      keyids: JSON.parse(r.keyids) as string[],
      ...(r.file_name === null ? {} : { fileName: r.file_name }),
      addedAt: r.added_at,
    }));
    return { ...base, attestations, status };
  }
}

const MIGRATIONS: readonly string[] = [
  // v1
  `
    CREATE TABLE releases (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      status TEXT NOT NULL,
      record TEXT NOT NULL
    );
    CREATE TABLE attestations (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      release_id TEXT NOT NULL REFERENCES releases(id),
      sha256 TEXT NOT NULL,
      kind TEXT NOT NULL,
      size INTEGER NOT NULL,
      by TEXT NOT NULL,
      keyids TEXT NOT NULL,
      file_name TEXT,
      added_at TEXT NOT NULL,
      UNIQUE (release_id, sha256)
    );
  `,
];
