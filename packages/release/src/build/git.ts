/**
 * The git adapter of the assembly line: checks out exactly one commit of a
 * source repository into a fresh directory with the real `git`, and reads
 * the commit time that becomes `SOURCE_DATE_EPOCH`.
 *
 * Nothing of the repository runs: hooks are pointed at /dev/null, the
 * system and global configuration are ignored, the `ext::` transport is
 * refused, no credential prompt can hang the build, and every git process
 * has a deadline. The `.git` directory is removed after the checkout, so
 * the tree handed to a build holds only the commit's files.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ReleaseError } from '../errors.js';

/** A full SHA-1 commit name: 40 lowercase hex digits. */
const FULL_SHA = /^[0-9a-f]{40}$/;
/** URL schemes a source may use; `ext::`, `fd::` and scp-like `host:path` are refused. */
const SOURCE_SCHEMES = new Set(['https:', 'http:', 'ssh:', 'git:', 'file:']);
const MAX_SOURCE_LENGTH = 2048;
const DEFAULT_GIT_TIMEOUT_MS = 120_000;
const MAX_GIT_OUTPUT = 64 * 1024;

/** Whether `commit` is a full 40-hex commit name (abbreviations and ref names are refused). */
export function isFullCommitSha(commit: string): boolean {
  return FULL_SHA.test(commit);
}

/** Throws GIT_BAD_COMMIT unless `commit` is a full 40-hex commit name. */
export function checkCommitSha(commit: unknown): string {
  if (typeof commit !== 'string' || !isFullCommitSha(commit)) {
    throw new ReleaseError('GIT_BAD_COMMIT', 'the commit must be a full 40-hex SHA-1 (lowercase)', {
      evidence: { commit: typeof commit === 'string' ? commit.slice(0, 100) : typeof commit },
    });
  }
  return commit;
}

/**
 * The source as the URI recorded in provenance: an absolute local path
 * becomes a `file://` URL; `https`, `http`, `ssh`, `git` and `file` URLs are
 * kept as written. Anything else (relative paths, scp-like `host:path`,
 * `ext::`, URLs with a user's password) is GIT_BAD_SOURCE.
 */
export function normalizeSourceUri(source: unknown): string {
  const bad = (reason: string): never => {
    throw new ReleaseError('GIT_BAD_SOURCE', `source: ${reason}`, {
      evidence: { source: typeof source === 'string' ? source.slice(0, 200) : typeof source },
    });
  };
  if (typeof source !== 'string' || source === '') return bad('a non-empty string is required');
  if (source.length > MAX_SOURCE_LENGTH) return bad(`longer than ${MAX_SOURCE_LENGTH} characters`);
  // Control characters have no place in a path or URL (nor whitespace in a
  // URL), and a leading dash would be read by git as an option.
  if (/\p{Cc}/u.test(source)) return bad('contains control characters');
  if (source.startsWith('-')) return bad('starts with "-"');
  if (isAbsolute(source)) return pathToFileURL(source).href;
  if (/\s/u.test(source)) return bad('a URL must not contain whitespace');
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    return bad('not an absolute path or a URL');
  }
  if (!SOURCE_SCHEMES.has(url.protocol)) return bad(`scheme ${url.protocol} is not allowed`);
  if (url.password !== '') return bad('credentials do not belong in a source URL');
  if (url.protocol === 'file:' && url.host !== '') return bad('file URLs must not name a host');
  return url.href;
}

export interface CheckoutOptions {
  /** The source repository, as `normalizeSourceUri` returns it. */
  readonly source: string;
  /** Full 40-hex commit name. */
  readonly commit: string;
  /** Where the temporary directory is created; default the OS temp directory. */
  readonly parentDir?: string;
  /** Deadline for each git process; default 120 s. */
  readonly timeoutMs?: number;
  /** The `git` executable; default `git` on PATH. */
  readonly gitPath?: string;
  /** Progress lines. */
  readonly onProgress?: (message: string) => void;
}

export interface Checkout {
  /** The checked-out tree (no `.git`), inside `root`. */
  readonly dir: string;
  /** The temporary directory holding everything; `remove()` deletes it. */
  readonly root: string;
  readonly commit: string;
  /** The committer time of the commit, in seconds (`git show -s --format=%ct`). */
  readonly sourceDateEpoch: number;
  remove(): Promise<void>;
}

/**
 * Fetches `commit` from `source` into a fresh directory and checks it out
 * detached. Tries a shallow fetch of the commit first, then a full fetch of
 * every branch and tag (servers that refuse unadvertised SHAs). Errors:
 * GIT_BAD_COMMIT, GIT_BAD_SOURCE, GIT_UNAVAILABLE, GIT_FETCH_FAILED,
 * GIT_COMMIT_NOT_FOUND, GIT_TIMEOUT, GIT_FAILED.
 */
export async function checkoutCommit(options: CheckoutOptions): Promise<Checkout> {
  const commit = checkCommitSha(options.commit);
  const source = normalizeSourceUri(options.source);
  const progress = options.onProgress ?? (() => undefined);
  const root = await mkdtemp(join(options.parentDir ?? tmpdir(), 'glasshouse-checkout-'));
  const dir = join(root, 'src');
  const git = (args: readonly string[], cwd = dir): Promise<GitRun> =>
    runGit(options.gitPath ?? 'git', args, cwd, options.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS);
  try {
    await expectOk(git(['init', '--quiet', dir], root), 'git init');
    // A file URL is passed to git as the plain path: same repository, and
    // git's local transport does not need the URL's percent-encoding.
    const remote = source.startsWith('file:') ? fileURLToPath(source) : source;
    await expectOk(git(['remote', 'add', 'origin', '--', remote]), 'git remote add');
    progress(`git: fetching ${commit} from ${source}`);
    const shallow = await git(['fetch', '--quiet', '--no-tags', '--depth', '1', 'origin', commit]);
    if (shallow.exitCode !== 0) {
      progress('git: the server refused a fetch by commit; fetching all branches and tags');
      const full = await git([
        'fetch',
        '--quiet',
        '--tags',
        'origin',
        '+refs/heads/*:refs/remotes/origin/*',
      ]);
      if (full.exitCode !== 0) {
        throw new ReleaseError('GIT_FETCH_FAILED', `cannot fetch from ${source}`, {
          evidence: { source, output: full.output.trim() },
        });
      }
    }
    const present = await git(['cat-file', '-e', `${commit}^{commit}`]);
    if (present.exitCode !== 0) {
      throw new ReleaseError('GIT_COMMIT_NOT_FOUND', `${source} has no commit ${commit}`, {
        evidence: { source, commit, output: shallow.output.trim() },
      });
    }
    await expectOk(git(['checkout', '--quiet', '--detach', commit]), 'git checkout');
    const head = (await expectOk(git(['rev-parse', 'HEAD']), 'git rev-parse')).output.trim();
    if (head !== commit) {
      throw new ReleaseError('GIT_FAILED', 'the checkout is not at the requested commit', {
        evidence: { commit, head },
      });
    }
    const ct = (await expectOk(git(['show', '-s', '--format=%ct', commit]), 'git show')).output;
    const sourceDateEpoch = Number(ct.trim());
    if (!/^\d+$/.test(ct.trim()) || !Number.isSafeInteger(sourceDateEpoch)) {
      throw new ReleaseError('GIT_FAILED', 'git show did not print a commit time', {
        evidence: { output: ct.slice(0, 200) },
      });
    }
    await rm(join(dir, '.git'), { recursive: true, force: true });
    progress(`git: checked out ${commit} (SOURCE_DATE_EPOCH=${sourceDateEpoch})`);
    return {
      dir,
      root,
      commit,
      sourceDateEpoch,
      remove: () => removeTree(root),
    };
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}

interface GitRun {
  exitCode: number;
  output: string;
  /** stdout alone, up to the run's byte limit. */
  stdout: Uint8Array;
  /** stdout went past the limit (and was cut there). */
  stdoutTruncated: boolean;
}

/** The largest source object the assembly line serves (the portal reads up to 16 MiB). */
export const MAX_SOURCE_OBJECT_BYTES = 16 * 1024 * 1024 - 64;
/** The largest `ls-tree` listing read to find the objects of a commit. */
const MAX_TREE_LISTING_BYTES = 32 * 1024 * 1024;

export interface SourceObjectOptions {
  /** The release's source, as `normalizeSourceUri` returns it: only `file:` sources are read. */
  readonly source: string;
  readonly commit: string;
  /** The object asked for: the commit itself, or a tree or blob of its tree. */
  readonly oid: string;
  readonly timeoutMs?: number;
  readonly gitPath?: string;
  /** Objects of a commit already listed, by `<source>@<commit>`: filled and reused. */
  readonly reachable?: Map<string, Map<string, string>>;
}

/**
 * One object of a release's source, as git stores it: `<type> SP <length>
 * NUL <content>`, whose SHA-1 is its id. Only the release's commit and the
 * trees and blobs of its tree are served (not any object of the
 * repository), read with `git cat-file` from a local (`file:`) source;
 * SOURCE_NOT_SERVED for another source or an object not in the commit,
 * SOURCE_OBJECT_TOO_LARGE past MAX_SOURCE_OBJECT_BYTES.
 */
export async function readSourceObject(options: SourceObjectOptions): Promise<Uint8Array> {
  const commit = checkCommitSha(options.commit);
  if (!FULL_SHA.test(options.oid)) {
    throw new ReleaseError('SOURCE_NOT_SERVED', 'an object id is 40 lowercase hex digits');
  }
  const source = normalizeSourceUri(options.source);
  if (!source.startsWith('file:')) {
    throw new ReleaseError('SOURCE_NOT_SERVED', `the source ${source} is not a local repository`);
  }
  const cwd = fileURLToPath(source);
  const timeout = options.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS;
  const git = (args: readonly string[], max: number): Promise<GitRun> =>
    runGit(options.gitPath ?? 'git', args, cwd, timeout, max);
  const key = `${source}@${commit}`;
  let objects = options.reachable?.get(key);
  if (objects === undefined) {
    const listing = await git(
      ['ls-tree', '-r', '-t', '-z', '--full-tree', commit],
      MAX_TREE_LISTING_BYTES,
    );
    if (listing.exitCode !== 0 || listing.stdoutTruncated) {
      throw new ReleaseError('GIT_FAILED', `cannot list the tree of ${commit}`, {
        evidence: { output: listing.output.trim().slice(0, 500) },
      });
    }
    const root = await git(['rev-parse', '--verify', `${commit}^{tree}`], 1024);
    const rootTree = new TextDecoder().decode(root.stdout).trim();
    if (root.exitCode !== 0 || !FULL_SHA.test(rootTree)) {
      throw new ReleaseError('GIT_FAILED', `cannot read the tree of ${commit}`, {
        evidence: { output: root.output.trim().slice(0, 500) },
      });
    }
    objects = new Map([
      [commit, 'commit'],
      [rootTree, 'tree'],
    ]);
    for (const line of new TextDecoder().decode(listing.stdout).split('\0')) {
      const m = /^[0-7]+ (tree|blob|commit) ([0-9a-f]{40})\t/.exec(line);
      // A submodule's commit is in another repository: not served.
      if (m?.[1] !== undefined && m[2] !== undefined && m[1] !== 'commit') objects.set(m[2], m[1]);
    }
    if (options.reachable !== undefined) {
      // A handful of releases are browsed at a time: keep the last few listings.
      if (options.reachable.size >= 8)
        options.reachable.delete(options.reachable.keys().next().value ?? '');
      options.reachable.set(key, objects);
    }
  }
  const type = objects.get(options.oid);
  if (type === undefined) {
    throw new ReleaseError(
      'SOURCE_NOT_SERVED',
      `${options.oid} is not an object of commit ${commit}`,
    );
  }
  const content = await git(['cat-file', type, options.oid], MAX_SOURCE_OBJECT_BYTES);
  if (content.stdoutTruncated) {
    throw new ReleaseError(
      'SOURCE_OBJECT_TOO_LARGE',
      `${options.oid} is over ${MAX_SOURCE_OBJECT_BYTES} bytes`,
    );
  }
  if (content.exitCode !== 0) {
    throw new ReleaseError('GIT_FAILED', `git cat-file ${options.oid} failed`, {
      evidence: { output: content.output.trim().slice(0, 500) },
    });
  }
  const header = new TextEncoder().encode(`${type} ${content.stdout.length}\0`);
  const out = new Uint8Array(header.length + content.stdout.length);
  out.set(header, 0);
  out.set(content.stdout, header.length);
  return out;
}

async function expectOk(run: Promise<GitRun>, what: string): Promise<GitRun> {
  const result = await run;
  if (result.exitCode !== 0) {
    throw new ReleaseError('GIT_FAILED', `${what} failed`, {
      evidence: { exitCode: result.exitCode, output: result.output.trim() },
    });
  }
  return result;
}

/**
 * Removes a checkout. A checkout of a large rules repository is ten thousand
 * files or more; `fs.rm` would unlink them on libuv's four threads, and
 * every other file operation of this process (a service reading a file to
 * answer a request) would queue behind them for seconds. `rm -rf` does the
 * same work in a process of its own; `fs.rm` remains the fallback where
 * `rm` cannot run or fails.
 */
export function removeTree(path: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('rm', ['-rf', '--', path], { stdio: 'ignore' });
    let done = false;
    const fallback = (): void => {
      if (done) return;
      done = true;
      rm(path, { recursive: true, force: true }).then(() => {
        resolvePromise();
      }, reject);
    };
    child.on('error', fallback);
    child.on('close', (code) => {
      if (code === 0) {
        done = true;
        resolvePromise();
      } else {
        fallback();
      }
    });
  });
}

/** Runs git with a fixed, hook-free configuration and a deadline; stdout and stderr combined. */
function runGit(
  gitPath: string,
  args: readonly string[],
  cwd: string,
  timeoutMs: number,
  /** How much of stdout to keep as bytes. */
  maxStdout = MAX_GIT_OUTPUT,
): Promise<GitRun> {
  const fixed = [
    '-c',
    'core.hooksPath=/dev/null',
    '-c',
    'protocol.ext.allow=never',
    '-c',
    'protocol.fd.allow=never',
    '-c',
    'core.symlinks=true',
    '-c',
    'advice.detachedHead=false',
  ];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(gitPath, [...fixed, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: cwd,
        LANG: 'C',
        LC_ALL: 'C',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_TERMINAL_PROMPT: '0',
        GIT_ASKPASS: '/bin/false',
        SSH_ASKPASS: '/bin/false',
        GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
      },
      detached: true,
    });
    let output = '';
    const collect = (chunk: Buffer): void => {
      if (output.length < MAX_GIT_OUTPUT) output += chunk.toString('utf8');
    };
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stdoutTruncated = false;
    child.stdout.on('data', (chunk: Buffer) => {
      collect(chunk);
      if (stdoutBytes + chunk.length > maxStdout) {
        stdoutTruncated = true;
        stdout.push(chunk.subarray(0, maxStdout - stdoutBytes));
        stdoutBytes = maxStdout;
      } else {
        stdout.push(chunk);
        stdoutBytes += chunk.length;
      }
    });
    child.stderr.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.on('error', (cause: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        cause.code === 'ENOENT'
          ? new ReleaseError('GIT_UNAVAILABLE', `${gitPath} is not installed`, { cause })
          : new ReleaseError('GIT_FAILED', `cannot run ${gitPath}`, { cause }),
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(
          new ReleaseError('GIT_TIMEOUT', `git ${args[0] ?? ''} took longer than ${timeoutMs} ms`, {
            evidence: { args: [...args], timeoutMs },
          }),
        );
        return;
      }
      resolvePromise({
        exitCode: code ?? 1,
        output: output.slice(0, MAX_GIT_OUTPUT),
        stdout: new Uint8Array(Buffer.concat(stdout)),
        stdoutTruncated,
      });
    });
  });
}
