import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type NoteSignerKey,
  type NoteVerifierKey,
  generateSignerKey,
  hashLeaf,
  parseSignerKey,
  parseVerifierKey,
} from '@glasshouse/tlog';
import { Integrator, type PublishCheckpoint } from '../src/integrator.js';
import { initLog } from '../src/log.js';
import { openSqliteStorage, type SqliteStorage } from '../src/sqlite.js';
import type { IntegratedState, IntegratorLease, LogStorage } from '../src/storage.js';

const ORIGIN = 'example.org/integrator-test';
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

let dir: string;
let storage: SqliteStorage;
let signer: NoteSignerKey;
let verifier: NoteVerifierKey;
let lease: IntegratorLease;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glasshouse-int-'));
  storage = await openSqliteStorage({ dir });
  const keys = generateSignerKey(ORIGIN);
  signer = parseSignerKey(keys.signerKey);
  verifier = parseVerifierKey(keys.verifierKey);
  await initLog({ origin: ORIGIN, signerKey: keys.signerKey, storage });
  lease = (await storage.tryAcquireIntegratorLease()) as IntegratorLease;
});
afterEach(async () => {
  await storage.close();
  await rm(dir, { recursive: true, force: true });
});

async function add(n: number, from = 0): Promise<void> {
  const entries = Array.from({ length: n }, (_, i) => {
    const data = utf8(`entry ${from + i}`);
    return { data, leafHash: hashLeaf(data) };
  });
  await storage.sequence(entries, { dedup: false });
}

function integrator(s: LogStorage = storage, maxEntriesPerRound = 4096): Integrator {
  return new Integrator({ storage: s, signer, verifier, maxEntriesPerRound });
}

async function errorOf(p: Promise<unknown>): Promise<{ code?: unknown; evidence?: unknown }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: unknown; evidence?: unknown };
  }
  throw new Error('expected a rejection');
}

describe('Integrator', () => {
  it('integrates at most maxEntriesPerRound entries per checkpoint', async () => {
    await add(1000);
    const i = integrator(storage, 300);
    const r1 = await i.integrateRound(lease);
    expect([r1?.integrated, r1?.backlog, r1?.state.size]).toEqual([300, true, 300n]);
    const r2 = await i.integrateRound(lease);
    expect(r2?.state.size).toBe(600n);
    await i.integrateRound(lease);
    const r4 = await i.integrateRound(lease);
    expect([r4?.integrated, r4?.backlog, r4?.state.size]).toEqual([100, false, 1000n]);
    const idle = await i.integrateRound(lease);
    expect(idle?.integrated).toBe(0);
  });

  it('refuses to sign when the stored range does not match the signed root', async () => {
    await add(10);
    await integrator().integrateRound(lease);
    const state = (await storage.readState()) as IntegratedState;
    const forged = { ...state, compactHashes: state.compactHashes.map(() => new Uint8Array(32)) };
    expect(await storage.casState(state.size, forged)).toBe(true);
    await add(5, 10);
    const err = await errorOf(integrator().integrateRound(lease));
    expect(err.code).toBe('TREE_INCONSISTENT');
    expect((await storage.readState())?.size).toBe(10n);
  });

  it('refuses to sign when the stored tiles do not prove consistency', async () => {
    await add(300);
    await integrator().integrateRound(lease);
    // Corrupt a tile the next consistency proof (300 → 400) is built from.
    await writeFile(join(dir, 'tiles', 'tile', '1', '000.p', '1'), new Uint8Array(32).fill(7));
    await add(100, 300);
    const err = await errorOf(integrator().integrateRound(lease));
    expect(err.code).toBe('TREE_INCONSISTENT');
    const evidence = err.evidence as { oldCheckpoint: string; newCheckpoint: string };
    expect(evidence.oldCheckpoint).toContain(`${ORIGIN}\n300\n`);
    expect(evidence.newCheckpoint).toContain(`${ORIGIN}\n400\n`);
    // Fail closed: the previous checkpoint stays.
    expect((await storage.readState())?.size).toBe(300n);
  });

  it('refuses a stored checkpoint that is not signed by its key', async () => {
    await add(3);
    const other = parseSignerKey(generateSignerKey(ORIGIN).signerKey);
    const i = new Integrator({
      storage,
      signer: other,
      verifier: parseVerifierKey(other.verifierKey),
    });
    expect((await errorOf(i.integrateRound(lease))).code).toBe('STORAGE_CORRUPT');
  });

  it('redoes a round that crashed between writing tiles and storing the state', async () => {
    await add(300);
    let failCas = true;
    const crashing = new Proxy(storage, {
      get(target, prop, receiver) {
        if (prop === 'casState' && failCas) {
          return () => {
            failCas = false;
            return Promise.reject(new Error('killed before the state was stored'));
          };
        }
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    await expect(integrator(crashing).integrateRound(lease)).rejects.toThrow('killed');
    expect((await storage.readState())?.size).toBe(0n);
    // The same tiles are written again (identical bytes), then the state moves.
    const r = await integrator().integrateRound(lease);
    expect(r?.state.size).toBe(300n);
  });

  it('stops when the lease is lost and when the state moved underneath', async () => {
    await add(5);
    const lost: IntegratorLease = { isHeld: () => false, release: () => Promise.resolve() };
    expect((await errorOf(integrator().integrateRound(lost))).code).toBe('LEASE_LOST');
    const racing = new Proxy(storage, {
      get(target, prop, receiver) {
        if (prop === 'casState') return () => Promise.resolve(false);
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    expect((await errorOf(integrator(racing).integrateRound(lease))).code).toBe('STATE_CONFLICT');
  });

  it('only integrates while holding the lease', async () => {
    await add(5);
    const a = integrator();
    const b = integrator();
    await lease.release();
    expect(await a.runOnce()).toBe(false);
    expect(a.leading).toBe(true);
    expect((await storage.readState())?.size).toBe(5n);
    await add(5, 5);
    expect(await b.runOnce()).toBe(false);
    expect(b.leading).toBe(false);
    expect((await storage.readState())?.size).toBe(5n);
    await a.stop();
    await b.runOnce();
    expect(b.leading).toBe(true);
    expect((await storage.readState())?.size).toBe(10n);
    await b.stop();
  });

  describe('publishing', () => {
    function publishing(publish: PublishCheckpoint): Integrator {
      return new Integrator({ storage, signer, verifier, publish });
    }

    it('stores the signed state first, and publishes only what the publish step accepts', async () => {
      await add(5);
      const seen: string[] = [];
      let accept = false;
      const i = publishing((signed) => {
        seen.push(signed);
        return accept
          ? Promise.resolve(
              `${signed}— witness.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n`,
            )
          : Promise.reject(new Error('no quorum'));
      });
      await i.integrateRound(lease);
      const failed = await i.publishRound(lease);
      expect(failed?.kind).toBe('failed');
      // Signed and stored, not published: the tree still grows from it.
      expect((await storage.readState())?.size).toBe(5n);
      expect((await storage.readPublished())?.size).toBe(0n);
      await add(3, 5);
      await i.integrateRound(lease);
      expect((await storage.readState())?.size).toBe(8n);
      // Backing off after a failure, unless forced.
      expect((await i.publishRound(lease))?.kind).toBe('backing-off');
      accept = true;
      const ok = await i.publishRound(lease, true);
      expect(ok?.kind).toBe('published');
      // The newest signed checkpoint is offered, never a re-signed older one.
      expect(seen.map((n) => n.split('\n')[1])).toEqual(['5', '8']);
      const published = await storage.readPublished();
      expect(published?.size).toBe(8n);
      expect(published?.checkpoint.startsWith((await storage.readState())?.checkpoint ?? 'x')).toBe(
        true,
      );
      expect((await i.publishRound(lease))?.kind).toBe('up-to-date');
    });

    it('refuses to publish a note that is not the signed checkpoint', async () => {
      await add(2);
      const i = publishing((signed) =>
        Promise.resolve(signed.replace(/\n\n[^]*$/, '\n\n') + '— x AAAA\n'),
      );
      await i.integrateRound(lease);
      const r = await i.publishRound(lease);
      expect(r?.kind).toBe('failed');
      expect((r as { error: { code?: unknown } }).error.code).toBe('PUBLISH_INVALID');
      expect((await storage.readPublished())?.size).toBe(0n);
    });
  });
});
