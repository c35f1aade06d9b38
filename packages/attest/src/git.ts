/**
 * Git objects in git's SHA-1 object format, enough to check a source tree
 * against the `gitCommit` of a provenance's resolvedDependencies (in-toto
 * digest_set.md: `gitCommit`, `gitTree`, `gitBlob` are git object ids).
 *
 * An object's id is the SHA-1 of `<type> SP <decimal length> NUL <content>`
 * (git's "loose object" header, Documentation/git.txt "object store"); a
 * commit names its tree on its first line (`tree <hex>`); a tree is a
 * sequence of `<octal mode> SP <name> NUL <20-byte id>` entries. Pure: bytes
 * in, values out. SHA-1 is used only because git names objects with it;
 * what is trusted is the signed commit id the hashes chain back to.
 */
import { sha1, toHex } from '@glasshouse/crypto';
import { AttestError } from './errors.js';

export type GitObjectType = 'commit' | 'tree' | 'blob';

export interface GitObject {
  readonly type: GitObjectType;
  /** Lowercase hex SHA-1 of the whole object (header included). */
  readonly id: string;
  readonly content: Uint8Array;
}

export interface GitTreeEntry {
  /** `100644`, `100755`, `120000` (symlink), `40000` (tree), `160000` (submodule). */
  readonly mode: string;
  readonly name: string;
  readonly id: string;
  readonly type: GitObjectType | 'commit';
}

const TYPES: readonly GitObjectType[] = ['commit', 'tree', 'blob'];
const SHA1_HEX = /^[0-9a-f]{40}$/;
const MAX_TREE_ENTRIES = 100_000;

const bad = (message: string): AttestError => new AttestError('GIT_OBJECT_MALFORMED', message);

/** The id git gives `content` stored as `type`. */
export function gitObjectId(type: GitObjectType, content: Uint8Array): string {
  const header = new TextEncoder().encode(`${type} ${content.length}\0`);
  const all = new Uint8Array(header.length + content.length);
  all.set(header, 0);
  all.set(content, header.length);
  return toHex(sha1(all));
}

/**
 * Parses an object as `<type> <length>\0<content>` and checks it is the
 * object `expectedId` names (GIT_OBJECT_MISMATCH otherwise) and of the
 * expected type when given.
 */
export function openGitObject(
  bytes: Uint8Array,
  expectedId: string,
  expectedType?: GitObjectType,
): GitObject {
  if (!SHA1_HEX.test(expectedId)) throw bad(`${expectedId} is not a SHA-1 git object id`);
  const nul = bytes.indexOf(0);
  if (nul < 0 || nul > 32) throw bad('no object header');
  const header = new TextDecoder().decode(bytes.subarray(0, nul));
  const m = /^(commit|tree|blob|tag) (0|[1-9][0-9]*)$/.exec(header);
  if (m === null) throw bad(`bad object header ${JSON.stringify(header)}`);
  const content = bytes.subarray(nul + 1);
  if (Number(m[2]) !== content.length) {
    throw bad(`the header says ${m[2] ?? ''} bytes, the object has ${content.length}`);
  }
  const id = toHex(sha1(bytes));
  if (id !== expectedId) {
    throw new AttestError(
      'GIT_OBJECT_MISMATCH',
      `the object served as ${expectedId} hashes to ${id}`,
      { evidence: { expected: expectedId, actual: id } },
    );
  }
  const type = m[1] as GitObjectType | 'tag';
  if (type === 'tag' || (expectedType !== undefined && type !== expectedType)) {
    throw new AttestError(
      'GIT_OBJECT_MISMATCH',
      `${expectedId} is a ${type}, not a ${expectedType ?? 'commit, tree or blob'}`,
    );
  }
  return { type, id, content };
}

/** The tree a commit names (its first header line, `tree <id>`). */
export function gitCommitTree(commit: GitObject): string {
  if (commit.type !== 'commit') throw bad(`${commit.id} is not a commit`);
  const text = new TextDecoder().decode(commit.content.subarray(0, 64));
  const m = /^tree ([0-9a-f]{40})\n/.exec(text);
  if (m?.[1] === undefined) throw bad(`commit ${commit.id} does not start with its tree`);
  return m[1];
}

/** The entries of a tree object, in git's order. */
export function gitTreeEntries(tree: GitObject): GitTreeEntry[] {
  if (tree.type !== 'tree') throw bad(`${tree.id} is not a tree`);
  const c = tree.content;
  const out: GitTreeEntry[] = [];
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let i = 0;
  while (i < c.length) {
    if (out.length >= MAX_TREE_ENTRIES) throw bad(`tree ${tree.id} has too many entries`);
    const space = c.indexOf(0x20, i);
    const nul = c.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 21 > c.length) throw bad(`tree ${tree.id} is truncated`);
    const mode = decoder.decode(c.subarray(i, space));
    const name = decoder.decode(c.subarray(space + 1, nul));
    if (!/^(100644|100755|120000|40000|160000)$/.test(mode)) {
      throw bad(`tree ${tree.id} has an entry of mode ${JSON.stringify(mode)}`);
    }
    if (name === '' || name === '.' || name === '..' || name.includes('/')) {
      throw bad(`tree ${tree.id} has an entry named ${JSON.stringify(name)}`);
    }
    const type = mode === '40000' ? 'tree' : mode === '160000' ? 'commit' : 'blob';
    out.push({ mode, name, id: toHex(c.subarray(nul + 1, nul + 21)), type });
    i = nul + 21;
  }
  return out;
}

/** Whether `type` is one a tree entry or a request may name. */
export function isGitObjectType(type: string): type is GitObjectType {
  return (TYPES as readonly string[]).includes(type);
}
