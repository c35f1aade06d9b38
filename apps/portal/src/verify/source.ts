/**
 * A release's source, read one git object at a time from the assembly
 * line (`GET releases/<id>/source/objects/<oid>`) and checked here: the
 * commit's SHA-1 is the `gitCommit` the builder's signed provenance names,
 * each tree's is the id its parent lists, each file's is the id its tree
 * lists — and each file's SHA-256 is the one the build link's materials
 * give for its path (the link both the builder and the supervisor's
 * rebuilder signed, verified under the in-toto layout). The server only
 * hands out bytes.
 */
import {
  gitCommitTree,
  gitTreeEntries,
  openGitObject,
  sha256Hex,
  type GitObjectType,
  type GitTreeEntry,
} from '@glasshouse/attest';
import { CodedError } from '@glasshouse/errors';
import { fetchBytes, type Fetcher } from './fetch.js';

/** Up to this many files, every file is fetched and checked when the page opens. */
export const EAGER_FILES = 200;
/** Trees walked to compare the commit's files with the link's materials. */
const MAX_TREES = 5000;
const PARALLEL = 6;

export interface SourceFile {
  readonly path: string;
  readonly id: string;
  readonly mode: string;
}

export interface SourceTree {
  readonly commit: string;
  readonly tree: string;
  /** Every tree of the commit by path ('' the root), each one's SHA-1 checked. */
  readonly trees: ReadonlyMap<string, readonly GitTreeEntry[]>;
  /** Every regular file (not symlinks or submodules), by path. */
  readonly files: ReadonlyMap<string, SourceFile>;
}

export class SourceReader {
  constructor(
    readonly assembly: string,
    readonly releaseId: string,
    readonly fetcher?: Fetcher,
  ) {}

  async object(id: string, type: GitObjectType): Promise<Uint8Array> {
    const url = `${this.assembly}releases/${this.releaseId}/source/objects/${id}`;
    return openGitObject(await fetchBytes(url, this.fetcher), id, type).content;
  }

  /** The commit and every tree under it, each checked against the id that names it. */
  async walk(commitId: string): Promise<SourceTree> {
    const commitBytes = await this.object(commitId, 'commit');
    const tree = gitCommitTree({ type: 'commit', id: commitId, content: commitBytes });
    const trees = new Map<string, GitTreeEntry[]>();
    const files = new Map<string, SourceFile>();
    let queue: [string, string][] = [['', tree]];
    while (queue.length > 0) {
      if (trees.size + queue.length > MAX_TREES) {
        throw new CodedError(
          'PORTAL_SOURCE_TOO_LARGE',
          `the source has more than ${MAX_TREES} directories`,
        );
      }
      const batch = queue.slice(0, PARALLEL);
      queue = queue.slice(PARALLEL);
      const read = await Promise.all(
        batch.map(async ([path, id]) => {
          const content = await this.object(id, 'tree');
          return [path, gitTreeEntries({ type: 'tree', id, content })] as const;
        }),
      );
      for (const [path, entries] of read) {
        trees.set(path, entries);
        for (const e of entries) {
          const child = path === '' ? e.name : `${path}/${e.name}`;
          if (e.type === 'tree') queue.push([child, e.id]);
          else if (e.mode === '100644' || e.mode === '100755')
            files.set(child, { path: child, id: e.id, mode: e.mode });
        }
      }
    }
    return { commit: commitId, tree, trees, files };
  }

  /** A file's bytes: SHA-1 against its tree entry, SHA-256 against the link's material. */
  async file(
    f: SourceFile,
    material: string | undefined,
    pinnedBy = "the build link's materials",
  ): Promise<Uint8Array> {
    const bytes = await this.object(f.id, 'blob');
    checkMaterial(f.path, sha256Hex(bytes), material, pinnedBy);
    return bytes;
  }
}

export function checkMaterial(
  path: string,
  sha256: string,
  material: string | undefined,
  pinnedBy = "the build link's materials",
): void {
  if (material === undefined) {
    throw new CodedError(
      'PORTAL_SOURCE_NOT_MATERIAL',
      `${path} is in the commit but not in ${pinnedBy}`,
    );
  }
  if (sha256 !== material) {
    throw new CodedError(
      'PORTAL_SOURCE_DIGEST_MISMATCH',
      `${path} has sha256 ${sha256}, ${pinnedBy} say ${material}`,
    );
  }
}

/** The commit's files and the materials must be the same paths (the build hashed every file it checked out). */
export function compareWithMaterials(
  tree: SourceTree,
  materials: Readonly<Record<string, string>>,
): void {
  const extra = [...tree.files.keys()].filter((p) => materials[p] === undefined);
  const missing = Object.keys(materials).filter((p) => !tree.files.has(p));
  if (extra.length > 0 || missing.length > 0) {
    throw new CodedError(
      'PORTAL_SOURCE_NOT_MATERIAL',
      `the commit and the build link's materials differ: ${[
        ...extra.slice(0, 3).map((p) => `${p} not a material`),
        ...missing.slice(0, 3).map((p) => `${p} not in the commit`),
      ].join(', ')}`,
    );
  }
}
