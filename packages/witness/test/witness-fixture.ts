/**
 * Test fixture: a small log held in memory (RFC 6962 tree over its leaves)
 * whose checkpoints are signed with a real Ed25519 log key, plus helpers to
 * build add-checkpoint request bodies. It can also sign checkpoints the real
 * log never would (a split view), which is the point.
 */
import {
  consistencyProof,
  formatCheckpoint,
  generateSignerKey,
  hashChildren,
  hashLeaf,
  parseSignerKey,
  signNote,
  treeRoot,
  type NodeId,
} from '@glasshouse/tlog';
import { formatAddCheckpointRequest } from '../src/client.js';

const enc = new TextEncoder();

export class TestLog {
  readonly origin: string;
  readonly signerKey: string;
  readonly verifierKey: string;
  readonly #leaves: Uint8Array[] = [];

  constructor(origin = 'example.com/test-log', keys = generateSignerKey(origin)) {
    this.origin = origin;
    this.signerKey = keys.signerKey;
    this.verifierKey = keys.verifierKey;
  }

  get size(): bigint {
    return BigInt(this.#leaves.length);
  }

  /** Appends `n` leaves whose contents start with `tag`. */
  append(n: number, tag = 'entry'): this {
    for (let i = 0; i < n; i++)
      this.#leaves.push(hashLeaf(enc.encode(`${tag} ${this.#leaves.length}`)));
    return this;
  }

  /** A copy with the same key and the same first `size` leaves: the start of a fork. */
  fork(size: bigint = this.size): TestLog {
    const other = new TestLog(this.origin, {
      signerKey: this.signerKey,
      verifierKey: this.verifierKey,
    });
    other.#leaves.push(...this.#leaves.slice(0, Number(size)));
    return other;
  }

  async root(size: bigint = this.size): Promise<Uint8Array> {
    return new Uint8Array(await treeRoot(size, this.#read));
  }

  /** The signed checkpoint at `size`, as the log would publish it. */
  async checkpoint(size: bigint = this.size, extensions: string[] = []): Promise<string> {
    const text = formatCheckpoint({
      origin: this.origin,
      size,
      rootHash: await this.root(size),
      extensions,
    });
    return signNote(text, [parseSignerKey(this.signerKey)]);
  }

  async proof(oldSize: bigint, newSize: bigint = this.size): Promise<Uint8Array[]> {
    if (oldSize === 0n || oldSize === newSize) return [];
    return consistencyProof(oldSize, newSize, this.#read);
  }

  /** A well-formed add-checkpoint body from `oldSize` to `newSize`. */
  async request(oldSize: bigint, newSize: bigint = this.size): Promise<Uint8Array> {
    return enc.encode(
      formatAddCheckpointRequest({
        oldSize,
        consistencyProof: await this.proof(oldSize, newSize),
        checkpoint: await this.checkpoint(newSize),
      }),
    );
  }

  readonly #read = (ids: readonly NodeId[]): Uint8Array[] => ids.map((id) => this.#node(id));

  #node({ level, index }: NodeId): Uint8Array {
    if (level === 0) {
      const leaf = this.#leaves[Number(index)];
      if (leaf === undefined) throw new Error(`no leaf ${index}`);
      return leaf;
    }
    return hashChildren(
      this.#node({ level: level - 1, index: index * 2n }),
      this.#node({ level: level - 1, index: index * 2n + 1n }),
    );
  }
}

/** Builds a raw body from parts, for malformed requests. */
export function rawBody(text: string): Uint8Array {
  return enc.encode(text);
}
