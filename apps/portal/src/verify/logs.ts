/**
 * A log's state, verified in the browser with @glasshouse/tlog against the
 * log's c2sp.org/tlog-policy: its checkpoint's log signature, the witness
 * cosignatures against the quorum, the tiles reproducing the signed root,
 * the witness's own latest view, and consistency with the checkpoint this
 * browser saw last (IndexedDB). Only a log whose checks all pass is stored
 * as the new "seen" checkpoint.
 */
import { CodedError } from '@glasshouse/errors';
import {
  consistencyProof,
  encodeBase64,
  openCheckpoint,
  openNote,
  parseCheckpoint,
  sha256,
  tileHashReader,
  tilePath,
  tilesForConsistency,
  tilesForTreeRoot,
  treeRoot,
  bytesEqual,
  verifyCheckpointWithPolicy,
  verifyConsistency,
  type Checkpoint,
  type TileRef,
  type Policy,
  type VerifiedCheckpoint,
} from '@glasshouse/tlog';
import type { PortalLog } from '../config.js';
import { skipped, step, type Check } from './check.js';
import { fetchBytes, fetchText, type Fetcher } from './fetch.js';
import type { SeenStore } from './seen.js';

export interface LogReport {
  readonly id: string;
  readonly title: string;
  readonly origin: string | undefined;
  readonly size: bigint | undefined;
  readonly rootHash: string | undefined;
  /** Seconds since the newest valid cosignature, when there is one. */
  readonly ageSeconds: number | undefined;
  readonly checks: readonly Check[];
}

export interface LogDeps {
  readonly fetcher?: Fetcher;
  readonly seen: SeenStore;
  readonly now: Date;
}

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** c2sp.org/tlog-witness monitoring path segment: lowercase hex SHA-256 of the origin. */
export function originHash(origin: string): string {
  return hex(sha256(new TextEncoder().encode(origin)));
}

/** The origin a policy's log signs as: its key name (c2sp.org/tlog-policy). */
function originOf(log: PortalLog): string {
  return log.policy.logs[0]?.verifier.name ?? '';
}

/** The tiles `refs` of a tree of `size`, by path; a partial tile falls back to its full tile. */
export async function fetchTiles(
  base: string,
  refs: readonly TileRef[],
  fetcher: Fetcher | undefined,
): Promise<Map<string, Uint8Array>> {
  const tiles = new Map<string, Uint8Array>();
  await Promise.all(
    refs.map(async (ref) => {
      const path = tilePath(ref);
      try {
        tiles.set(path, await fetchBytes(`${base}${path}`, fetcher));
      } catch (err) {
        // c2sp.org/tlog-tiles: once a tile is full its partial versions may be gone.
        if (ref.width === 256) throw err;
        const full = tilePath({ ...ref, width: 256 });
        tiles.set(full, await fetchBytes(`${base}${full}`, fetcher));
      }
    }),
  );
  return tiles;
}

/**
 * That `older` (size, root) is a prefix of `newer`: the consistency proof
 * is computed from the newer tree's tiles and checked against both roots
 * (RFC 9162 §2.1.4.2). Returns the proof's tile paths and hashes.
 */
/**
 * A log's checkpoint, fetched and verified against its policy: the log's
 * signature and the witness quorum (c2sp.org/tlog-policy). Returns what a
 * `step` reports, the checkpoint as its value.
 */
export async function fetchWitnessedCheckpoint(
  base: string,
  policy: Policy,
  policyText: string,
  now: Date,
  fetcher?: Fetcher,
): Promise<{ value: Checkpoint; summary: string; against: string; proof: string[] }> {
  const note = await fetchText(`${base}checkpoint`, fetcher);
  const v = verifyCheckpointWithPolicy(note, policy, {
    now: BigInt(Math.floor(now.getTime() / 1000)),
  });
  return {
    value: v.checkpoint,
    summary: `size ${v.checkpoint.size}, cosigned by ${v.cosigners.join(', ')}`,
    against: policyText,
    proof: [note],
  };
}

export async function checkConsistent(
  base: string,
  older: { size: bigint; rootHash: Uint8Array },
  newer: Checkpoint,
  fetcher?: Fetcher,
  olderIs = 'already seen',
): Promise<string[]> {
  if (older.size > newer.size) {
    throw new CodedError(
      'PORTAL_ROLLBACK',
      `the log now shows size ${newer.size}, smaller than the ${older.size} ${olderIs}: a log never shrinks`,
      { evidence: { seen: older.size.toString(), now: newer.size.toString() } },
    );
  }
  if (older.size === newer.size) {
    if (!bytesEqual(older.rootHash, newer.rootHash)) {
      throw new CodedError(
        'PORTAL_FORK',
        `two different roots for size ${newer.size}: ${encodeBase64(older.rootHash)} and ${encodeBase64(newer.rootHash)} (a split view)`,
      );
    }
    return [`same size ${newer.size} and same root ${encodeBase64(newer.rootHash)}`];
  }
  if (older.size === 0n) return ['the empty tree is a prefix of every tree'];
  const refs = tilesForConsistency(older.size, newer.size);
  const tiles = await fetchTiles(base, refs, fetcher);
  const proof = await consistencyProof(older.size, newer.size, tileHashReader(newer.size, tiles));
  verifyConsistency(older.size, newer.size, proof, older.rootHash, newer.rootHash);
  return [
    `consistency proof ${older.size} → ${newer.size}, ${proof.length} hashes: ${proof.map(encodeBase64).join(' ')}`,
    `from tiles ${[...tiles.keys()].join(', ')}`,
  ];
}

export async function verifyLog(log: PortalLog, deps: LogDeps): Promise<LogReport> {
  const { fetcher, seen, now } = deps;
  const checks: Check[] = [];
  const logKeys = log.policy.logs.map((l) => l.vkey).join('\n');
  const witnessKeys = log.policy.witnesses.map((w) => `${w.name}: ${w.vkey}`).join('\n');
  const base = (id: string, title: string, what: string) => ({ id, title, what });

  // The witnesses' views first: read before the log's checkpoint, a witness
  // can only be behind it (the log publishes what its witness cosigned).
  const witnessNotes = new Map(
    await Promise.all(
      Object.entries(log.witnesses).map(
        async ([name, wbase]) =>
          [
            name,
            await fetchText(`${wbase}${originHash(originOf(log))}/checkpoint`, fetcher).then(
              (note) => ({ note }),
              (err: unknown) => ({ err }),
            ),
          ] as const,
      ),
    ),
  );
  const fetched = await step(
    base(
      'checkpoint',
      'Checkpoint',
      `GET ${log.base}checkpoint from the log's tlog-tiles read API`,
    ),
    async () => {
      const note = await fetchText(`${log.base}checkpoint`, fetcher);
      return { value: note, summary: 'fetched', proof: [note] };
    },
  );
  const note = fetched.value;
  if (note === undefined) {
    return {
      id: log.id,
      title: log.title,
      origin: undefined,
      size: undefined,
      rootHash: undefined,
      ageSeconds: undefined,
      checks: [fetched.check],
    };
  }

  // 1. The log's own signature, by the key the policy names (its name is the origin).
  const signed = await step(
    base(
      'log-signature',
      'Log signature',
      "The checkpoint is a c2sp.org/signed-note signed by the policy's log key, whose name is the checkpoint's origin (c2sp.org/tlog-checkpoint).",
    ),
    () => {
      const { checkpoint } = openCheckpoint(
        note,
        log.policy.logs.map((l) => l.verifier),
      );
      if (!log.policy.logs.some((l) => l.verifier.name === checkpoint.origin)) {
        throw new CodedError(
          'POLICY_ORIGIN_MISMATCH',
          `origin ${checkpoint.origin} is not the signing log's name`,
        );
      }
      return Promise.resolve({
        value: checkpoint,
        summary: `${checkpoint.origin}: size ${checkpoint.size}, root ${encodeBase64(checkpoint.rootHash)}`,
        against: logKeys,
        proof: [note],
      });
    },
  );
  checks.push(signed.check);
  const cp = signed.value;

  // 2. Witness cosignatures against the policy's quorum (a failing cosignature by a known key rejects the note).
  const nowSeconds = BigInt(Math.floor(now.getTime() / 1000));
  const witnessed = await step(
    base(
      'cosignatures',
      'Witness quorum',
      `Every cosignature line by a policy witness verifies (c2sp.org/tlog-cosignature, Ed25519 over "cosignature/v1", its timestamp and the checkpoint body) and the valid ones meet the quorum "${log.policy.quorum}" (c2sp.org/tlog-policy). Cosignatures dated in the future do not count.`,
    ),
    () => {
      const v: VerifiedCheckpoint = verifyCheckpointWithPolicy(note, log.policy, {
        now: nowSeconds,
        maxFutureSkew: 300n,
      });
      const list = v.cosignatures.map(
        (c) =>
          `${c.witness} (${c.keyName}) at ${new Date(Number(c.timestamp) * 1000).toISOString()}`,
      );
      return Promise.resolve({
        value: v,
        summary: `quorum ${log.policy.quorum} met: ${v.cosigners.join(', ') || 'none needed'}`,
        against: witnessKeys,
        proof: list,
      });
    },
  );
  checks.push(witnessed.check);
  const newest = witnessed.value?.cosignatures.reduce<bigint | undefined>(
    (a, c) => (a === undefined || c.timestamp > a ? c.timestamp : a),
    undefined,
  );
  const ageSeconds = newest === undefined ? undefined : Math.max(0, Number(nowSeconds - newest));

  const tilesCheck = base(
    'tiles',
    'Tiles reproduce the root',
    "The Merkle tree hashed up from the log's tiles (c2sp.org/tlog-tiles, RFC 9162 §2.1.1) gives exactly the signed root.",
  );
  if (cp === undefined) {
    checks.push(skipped(tilesCheck, 'no verified checkpoint'));
  } else {
    const tiles = await step(tilesCheck, async () => {
      const refs = tilesForTreeRoot(cp.size);
      const fetchedTiles = await fetchTiles(log.base, refs, fetcher);
      const root = await treeRoot(cp.size, tileHashReader(cp.size, fetchedTiles));
      if (!bytesEqual(root, cp.rootHash)) {
        throw new CodedError(
          'PORTAL_TILES_ROOT_MISMATCH',
          `the tiles hash to ${encodeBase64(root)}, the checkpoint signs ${encodeBase64(cp.rootHash)}: a tile was altered`,
        );
      }
      return {
        value: undefined,
        summary: `${fetchedTiles.size} tile(s) hash to the signed root`,
        proof: [...fetchedTiles.keys()].map(
          (p) => `${p} sha256 ${hex(sha256(fetchedTiles.get(p) ?? new Uint8Array()))}`,
        ),
      };
    });
    checks.push(tiles.check);
  }

  // 3. Each witness's own latest cosigned checkpoint is a prefix of what the log serves.
  for (const w of log.policy.witnesses) {
    const got = witnessNotes.get(w.name);
    if (got === undefined) continue;
    const wc = base(
      `witness-${w.name}`,
      `Witness ${w.name}'s view`,
      `The newest checkpoint the witness ${w.name} cosigned for this origin, read from the witness itself (c2sp.org/tlog-witness, GET <origin hash>/checkpoint): signed by the log, cosigned by the witness, and a prefix of what the log serves now (RFC 9162 §2.1.4.2). A log serving an older tree than its witness cosigned is rolling back.`,
    );
    if (cp === undefined) {
      checks.push(skipped(wc, 'no verified checkpoint'));
      continue;
    }
    const r = await step(wc, async () => {
      if ('err' in got) throw got.err;
      const opened = openNote(got.note, [...log.policy.logs.map((l) => l.verifier), w.verifier]);
      const signers = new Set(opened.verified.map((v) => v.name));
      if (!signers.has(cp.origin) || !signers.has(w.verifier.name)) {
        throw new CodedError(
          'PORTAL_WITNESS_VIEW_UNSIGNED',
          `the witness's checkpoint is not signed by both the log and the witness (signed by: ${[...signers].join(', ')})`,
        );
      }
      const seenByWitness = parseCheckpoint(opened.text);
      if (seenByWitness.origin !== cp.origin) {
        throw new CodedError(
          'POLICY_ORIGIN_MISMATCH',
          `the witness answered for ${seenByWitness.origin}`,
        );
      }
      const proof = await checkConsistent(
        log.base,
        seenByWitness,
        cp,
        fetcher,
        `the witness ${w.name} cosigned`,
      );
      return {
        value: undefined,
        summary: `the witness cosigned size ${seenByWitness.size}; the log's size ${cp.size} extends it`,
        against: `${log.policy.logs.map((l) => l.vkey).join('\n')}\n${w.name}: ${w.vkey}`,
        proof: [got.note, ...proof],
      };
    });
    checks.push(r.check);
  }

  // 4. Consistency with what this browser saw last.
  const key = log.policy.logs.map((l) => l.vkey).join(' ');
  const seenCheck = base(
    'consistency',
    'Consistent with what this browser saw',
    'The checkpoint this browser verified last for this log (kept in IndexedDB) is a prefix of this one: a consistency proof from the tiles, checked against both roots (RFC 9162 §2.1.4.2). A smaller size is a rollback; a different root at the same size is a split view.',
  );
  const previous = await seen.get(key);
  if (cp === undefined) {
    checks.push(skipped(seenCheck, 'no verified checkpoint'));
  } else if (previous === undefined) {
    checks.push({
      ...seenCheck,
      verdict: 'note',
      summary:
        'first visit from this browser: this checkpoint becomes the one later visits must extend',
    });
  } else {
    const consistent = await step(seenCheck, async () => {
      const prevRoot = Uint8Array.from(atob(previous.rootHash), (c) => c.charCodeAt(0));
      const proof = await checkConsistent(
        log.base,
        { size: previous.size, rootHash: prevRoot },
        cp,
        fetcher,
      );
      return {
        value: undefined,
        summary: `extends size ${previous.size} seen ${new Date(previous.at).toISOString()}`,
        proof: [`seen: size ${previous.size}, root ${previous.rootHash}`, ...proof],
      };
    });
    checks.push(consistent.check);
  }

  if (cp !== undefined && checks.every((c) => c.verdict !== 'fail')) {
    await seen.put(key, {
      size: cp.size,
      rootHash: encodeBase64(cp.rootHash),
      note,
      at: now.getTime(),
    });
  }
  return {
    id: log.id,
    title: log.title,
    origin: cp?.origin,
    size: cp?.size,
    rootHash: cp === undefined ? undefined : encodeBase64(cp.rootHash),
    ageSeconds,
    checks,
  };
}
