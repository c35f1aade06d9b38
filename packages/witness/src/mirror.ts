import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, readdir, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { encodeBase64, isCanonicalTilePath, parseTilePath, sha256 } from '@glasshouse/tlog';
import { WitnessError } from './errors.js';
import { acceptsGzip } from '@glasshouse/http';

const gzipAsync = promisify(gzip);

/**
 * A copy of a log's tiles, bundles and latest verified checkpoint.
 *
 * The monitor stages each tile and bundle as it fetches it (it cannot hold a
 * whole catch-up in memory) and commits them only once the tree they belong
 * to has been recomputed and matched the signed root, so everything the
 * mirror publishes was verified.
 *
 * - `stage` MUST NOT make the data visible to readers; staging the same path
 *   again replaces it. It may keep `data` until `commit` or `discard`
 *   settles: callers must not change those bytes.
 * - `commit` MUST publish every staged file before the checkpoint, each
 *   durably (fsync'd) and atomically; an existing published file with the
 *   same bytes is fine, different bytes fail with `MIRROR_CONFLICT` (tiles
 *   are immutable) and leave the checkpoint as it was.
 * - `discard` drops what is staged.
 */
export interface MirrorStore {
  stage(path: string, data: Uint8Array): Promise<void>;
  commit(checkpoint: string): Promise<void>;
  discard(): Promise<void>;
  readCheckpoint(): Promise<string | null>;
  readTile(path: string): Promise<Uint8Array | null>;
}

/** Sub-directory of the monitor's state directory that holds the mirror. */
export const MIRROR_DIR = 'mirror';
const STAGING = '.staging';
const TMP = '.tmp';
const CHECKPOINT_FILE = 'checkpoint';
/** Staging writes in flight before `stage` waits (bounds the memory they hold). */
const MAX_STAGING_WRITES = 32;
/** Files linked into place at once while committing. */
const COMMIT_CONCURRENCY = 16;

/**
 * The file mirror: `<dir>/checkpoint` and `<dir>/tile/...` by tlog-tiles
 * path, so the directory can also be served by any static file server.
 */
export class FileMirrorStore implements MirrorStore {
  readonly dir: string;
  /** Staged path → its file under `.staging`. */
  readonly #staged = new Map<string, string>();
  /** Staging writes in flight, by path (each write and fsync of one file). */
  readonly #writing = new Map<string, Promise<void>>();
  /** The first staging write that failed since the last commit or discard. */
  #failure: { error: unknown } | undefined;
  /** Directories known to exist durably (their creation fsync'd), or being made so. */
  readonly #dirs = new Map<string, Promise<void>>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Opens (creating) a mirror directory and clears what a crashed run left staged. */
  static async open(dir: string): Promise<FileMirrorStore> {
    await mkdir(dir, { recursive: true });
    await rm(join(dir, STAGING), { recursive: true, force: true });
    await rm(join(dir, TMP), { recursive: true, force: true });
    await mkdir(join(dir, STAGING));
    await mkdir(join(dir, TMP));
    return new FileMirrorStore(dir);
  }

  /**
   * Writes and fsyncs the staged file in the background, so that the disk
   * works while the monitor verifies the next bundles; waits only when
   * MAX_STAGING_WRITES are in flight. A failed write is thrown by the next
   * `stage` or by `commit`.
   */
  async stage(path: string, data: Uint8Array): Promise<void> {
    this.#throwIfFailed();
    tileFile(this.dir, path); // refuse anything but a canonical tile path
    const file = this.#staged.get(path) ?? join(this.dir, STAGING, randomBytes(12).toString('hex'));
    this.#staged.set(path, file);
    // A path staged again is rewritten after its previous write, never beside it.
    const before = this.#writing.get(path) ?? Promise.resolve();
    const write: Promise<void> = before
      .then(() => writeSynced(file, data, 'w'))
      .catch((error: unknown) => {
        this.#failure ??= { error };
      })
      .finally(() => {
        if (this.#writing.get(path) === write) this.#writing.delete(path);
      });
    this.#writing.set(path, write);
    while (this.#writing.size >= MAX_STAGING_WRITES) await Promise.race(this.#writing.values());
    this.#throwIfFailed();
  }

  async commit(checkpoint: string): Promise<void> {
    // Every staged file is written and fsync'd before any of them gets its name.
    await this.#settle();
    this.#throwIfFailed();
    const conflicts: Record<string, unknown>[] = [];
    const touched = new Set<string>();
    const queue = [...this.#staged];
    const publish = async (path: string, staged: string): Promise<void> => {
      const file = tileFile(this.dir, path);
      await this.#ensureDir(dirname(file));
      try {
        // link() never replaces: an existing tile is compared instead.
        await link(staged, file);
        touched.add(dirname(file));
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw cause;
        const [existing, fresh] = await Promise.all([readFile(file), readFile(staged)]);
        if (!existing.equals(fresh)) {
          conflicts.push({
            path,
            mirrored: encodeBase64(sha256(existing)),
            verified: encodeBase64(sha256(fresh)),
          });
        }
      }
      await unlink(staged);
      this.#staged.delete(path);
    };
    // A few at a time; the first error stops the others from taking more, and is thrown once all stopped.
    let failed: { error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      for (
        let next = queue.shift();
        next !== undefined && failed === undefined;
        next = queue.shift()
      ) {
        try {
          await publish(...next);
        } catch (error) {
          failed ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(COMMIT_CONCURRENCY, queue.length) }, worker));
    if (failed !== undefined) throw failed.error;
    await Promise.all([...touched].map(fsyncDir));
    if (conflicts.length > 0) {
      conflicts.sort((a, b) => String(a.path).localeCompare(String(b.path)));
      throw new WitnessError('MIRROR_CONFLICT', 'the mirror holds different bytes for a tile', {
        evidence: { conflicts: conflicts.slice(0, 16), count: conflicts.length },
      });
    }
    // The checkpoint is mutable: replace it atomically, after the tiles it covers.
    const tmp = join(this.dir, TMP, randomBytes(12).toString('hex'));
    await writeSynced(tmp, new TextEncoder().encode(checkpoint), 'wx');
    await rename(tmp, join(this.dir, CHECKPOINT_FILE));
    await fsyncDir(this.dir);
  }

  async discard(): Promise<void> {
    // No staging write may land after its file was removed.
    await this.#settle();
    for (const file of this.#staged.values()) await rm(file, { force: true });
    this.#staged.clear();
    this.#failure = undefined;
  }

  async readCheckpoint(): Promise<string | null> {
    const data = await readOrNull(join(this.dir, CHECKPOINT_FILE));
    return data === null ? null : data.toString('utf8');
  }

  async readTile(path: string): Promise<Uint8Array | null> {
    const data = await readOrNull(tileFile(this.dir, path));
    return data === null ? null : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  /** Staged paths (for tests and diagnostics). */
  stagedPaths(): string[] {
    return [...this.#staged.keys()];
  }

  async #settle(): Promise<void> {
    while (this.#writing.size > 0) await Promise.all(this.#writing.values());
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }

  /** mkdir -p, then fsync the parent of every directory it created; once per directory. */
  #ensureDir(dir: string): Promise<void> {
    let made = this.#dirs.get(dir);
    if (made === undefined) {
      made = (async () => {
        const first = await mkdir(dir, { recursive: true });
        if (first !== undefined) {
          for (let d = dir; ; d = dirname(d)) {
            await fsyncDir(dirname(d));
            if (d === first || d === dirname(d)) break;
          }
        }
      })();
      this.#dirs.set(dir, made);
      // A failure is not remembered: the next commit tries again.
      made.catch(() => this.#dirs.delete(dir));
    }
    return made;
  }
}

/** Only canonical tlog-tiles paths map to files, so nothing escapes the mirror directory. */
function tileFile(dir: string, path: string): string {
  if (!isCanonicalTilePath(path)) {
    throw new WitnessError('MIRROR_PATH_UNSAFE', 'not a canonical tlog-tiles path', {
      evidence: { path: path.slice(0, 80) },
    });
  }
  return join(dir, path);
}

async function writeSynced(file: string, data: Uint8Array, flags: 'w' | 'wx'): Promise<void> {
  const handle = await open(file, flags, 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readOrNull(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    // ENOTDIR: a path through a file; both mean "no such tile".
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw cause;
  }
}

// c2sp.org/tlog-tiles: tiles and bundles are immutable; the checkpoint is not.
const IMMUTABLE = 'public, max-age=31536000, immutable';
const MUTABLE = 'no-cache';

export interface MirrorServerOptions {
  /** The mirror directory (`<state>/mirror`). */
  readonly dir: string;
  readonly logger?: boolean;
}

/**
 * A read-only c2sp.org/tlog-tiles server over a mirror directory, with the
 * log's content types and cache headers. It serves the last verified
 * checkpoint and the verified tiles and bundles; it only reads files, so it
 * runs beside the monitor that fills the directory.
 */
export function buildMirrorServer(opts: MirrorServerOptions): FastifyInstance {
  const app = Fastify({ logger: opts.logger ?? false });
  const notFound = { code: 'NOT_FOUND', message: 'no such resource' };
  app.setNotFoundHandler((_req, reply) => reply.code(404).send(notFound));

  app.get('/checkpoint', async (_req, reply) => {
    const data = await readOrNull(join(opts.dir, CHECKPOINT_FILE));
    if (data === null) {
      return reply
        .code(404)
        .send({ code: 'NOT_FOUND', message: 'the mirror holds no verified checkpoint yet' });
    }
    // c2sp.org/tlog-tiles: text/plain; charset=utf-8, not cached beyond a few seconds.
    return reply
      .header('content-type', 'text/plain; charset=utf-8')
      .header('cache-control', MUTABLE)
      .send(data);
  });

  app.get('/tile/*', async (req, reply) => {
    const path = `tile/${(req.params as { '*': string })['*']}`;
    let file: string;
    let kind: 'hash' | 'entries';
    try {
      file = tileFile(opts.dir, path);
      kind = parseTilePath(path).kind;
    } catch (cause) {
      if (!(cause instanceof WitnessError)) throw cause;
      return reply.code(400).send({ code: 'BAD_REQUEST', message: 'not a tlog-tiles path' });
    }
    const data = await readOrNull(file);
    if (data === null) return reply.code(404).send(notFound);
    void reply
      .header('content-type', 'application/octet-stream')
      .header('cache-control', IMMUTABLE);
    // c2sp.org/tlog-tiles: entry bundles SHOULD be compressed at the HTTP layer.
    if (kind === 'entries') {
      void reply.header('vary', 'accept-encoding');
      if (acceptsGzip(req.headers['accept-encoding'])) {
        return reply.header('content-encoding', 'gzip').send(await gzipAsync(data));
      }
    }
    return reply.send(data);
  });

  return app;
}

/** Lists the files under a mirror's `tile/` directory as tlog-tiles paths. */
export async function listMirroredTiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(join(dir, rel));
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw cause;
    }
    for (const name of names) {
      const child = `${rel}/${name}`;
      const entries = await readdir(join(dir, child)).catch((cause: unknown) => {
        if ((cause as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
        throw cause;
      });
      if (entries === null) out.push(child);
      else await walk(child);
    }
  };
  await walk('tile');
  return out.sort();
}
