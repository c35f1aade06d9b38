/**
 * A c2sp.org/tlog-tiles log in memory, for tests of readers: `publish()`
 * writes every tile and entry bundle of the current size (those of earlier
 * sizes stay served, as a real log's do until it prunes them) and a
 * checkpoint signed by the log and, when given, cosigned by a witness;
 * `get(path)` serves them like the read API (a missing path throws).
 */
import { formatCheckpoint } from '../src/checkpoint.js';
import { CompactRange } from '../src/compact.js';
import { hashChildren, hashLeaf } from '../src/hash.js';
import { type NoteSigner, generateSignerKey, parseSignerKey, signNote } from '../src/note.js';
import { type Policy, parsePolicy } from '../src/policy.js';
import { encodeBundle, tileNodeIds, tilePath, tilesToWrite } from '../src/tiles.js';

export interface TestWitness {
  readonly verifierKey: string;
  readonly signer: NoteSigner;
}

export class MemoryLog {
  readonly entries: Uint8Array[] = [];
  readonly files = new Map<string, Uint8Array>();
  /** Its c2sp.org/tlog-policy: the log's key and the witness as the quorum (or none). */
  readonly policy: Policy;
  readonly #signers: NoteSigner[];
  #note = '';

  constructor(
    readonly origin: string,
    witness?: TestWitness,
  ) {
    const key = generateSignerKey(origin);
    this.#signers = [
      parseSignerKey(key.signerKey),
      ...(witness === undefined ? [] : [witness.signer]),
    ];
    this.policy = parsePolicy(
      witness === undefined
        ? `log ${key.verifierKey}\nquorum none\n`
        : `log ${key.verifierKey}\nwitness w ${witness.verifierKey}\nquorum w\n`,
    );
  }

  get size(): bigint {
    return BigInt(this.entries.length);
  }

  root(): Uint8Array {
    const range = new CompactRange();
    range.appendMany(this.entries.map((e) => hashLeaf(e)));
    return range.root();
  }

  /** Writes the tiles of the current size and its signed checkpoint. */
  publish(): void {
    const memo = new Map<string, Uint8Array>();
    const node = (level: number, index: bigint): Uint8Array => {
      const key = `${level}/${index}`;
      let h = memo.get(key);
      if (h === undefined) {
        h =
          level === 0
            ? hashLeaf(this.entries[Number(index)] as Uint8Array)
            : hashChildren(node(level - 1, 2n * index), node(level - 1, 2n * index + 1n));
        memo.set(key, h);
      }
      return h;
    };
    for (const ref of tilesToWrite(0n, this.size)) {
      if (ref.kind === 'entries') {
        const from = Number(ref.index) * 256;
        this.files.set(tilePath(ref), encodeBundle(this.entries.slice(from, from + ref.width)));
      } else {
        const hashes = tileNodeIds(ref).map((id) => node(id.level, id.index));
        const bytes = new Uint8Array(hashes.length * 32);
        hashes.forEach((h, i) => {
          bytes.set(h, i * 32);
        });
        this.files.set(tilePath(ref), bytes);
      }
    }
    const body = formatCheckpoint({
      origin: this.origin,
      size: this.size,
      rootHash: this.root(),
      extensions: [],
    });
    this.#note = signNote(body, this.#signers);
  }

  readonly get = (path: string): Promise<Uint8Array> => {
    if (path === 'checkpoint') return Promise.resolve(new TextEncoder().encode(this.#note));
    const file = this.files.get(path);
    return file === undefined
      ? Promise.reject(new Error(`404 ${path}`))
      : Promise.resolve(Uint8Array.from(file));
  };
}
