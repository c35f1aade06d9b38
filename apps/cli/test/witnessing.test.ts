/**
 * `glasshouse log serve --witness-policy` and `glasshouse log verify --policy`
 * with two real witnesses (`@glasshouse/witness`, real SQLite state) on
 * loopback HTTP.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCosignerKey, generateSignerKey } from '@glasshouse/tlog';
import { buildWitnessServer, createWitness, openSqliteState } from '@glasshouse/witness';
import { type RunningLogServer, startLogServer } from '../src/commands/log.js';
import { logAdd, quietIo, runCli } from './cli-harness.js';

const ORIGIN = 'example.org/cli-witnessed-log';
const EM_DASH = '\u2014';

let work: string;
let dir: string;
let logVkey: string;
let server: RunningLogServer;
const closers: (() => Promise<void>)[] = [];
const witnessNames = ['w1.example', 'w2.example'];
const witnessLines: string[] = [];

async function startWitness(name: string): Promise<void> {
  const state = await openSqliteState({ dir: join(work, name) });
  const keys = generateCosignerKey(name);
  const witness = createWitness({
    cosigner: keys.signerKey,
    state,
    now: () => BigInt(Math.floor(Date.now() / 1000)),
  });
  await witness.addLog(logVkey);
  const app = buildWitnessServer({ witness, state });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  witnessLines.push(`witness ${name} ${keys.verifierKey} ${url}\n`);
  closers.push(async () => {
    await app.close();
    await state.close();
  });
}

function policy(logLine: string, quorum: string): string {
  return `${logLine}${witnessLines.join('')}group both all ${witnessNames.join(' ')}\nquorum ${quorum}\n`;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'glasshouse-cli-witnessing-'));
  dir = join(work, 'log');
  const init = await runCli(['log', 'init', '--origin', ORIGIN, '--dir', dir]);
  expect(init.code).toBe(0);
  logVkey = init.stdout.trim();
  for (const name of witnessNames) await startWitness(name);
  await writeFile(join(work, 'quorum2.policy'), policy(`log ${logVkey}\n`, 'both'));
  server = await startLogServer({
    dir,
    listen: '127.0.0.1:0',
    witnessPolicy: join(work, 'quorum2.policy'),
    io: quietIo,
  });
});
afterAll(async () => {
  await server.close();
  for (const c of closers) await c();
  await rm(work, { recursive: true, force: true });
});

describe('glasshouse log with witnesses', () => {
  it('verifies a receipt with 2 of 2 cosignatures and refuses one with 1 of 2', async () => {
    const entry = join(work, 'entry');
    await writeFile(entry, 'a witnessed entry\n');
    const add = await logAdd(server.url, dir, entry);
    expect(add.stdout).toBe(`${entry}: index 0, receipt ${server.url}receipt/0\n`);
    // Published only once both witnesses cosigned.
    for (let i = 0; i < 400; i++) {
      const cp = await (await fetch(`${server.url}checkpoint`)).text();
      if (cp.split('\n')[1] === '1') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const receipt = await runCli(['log', 'receipt', '--url', server.url, '0']);
    expect(receipt.code).toBe(0);
    const full = join(work, 'entry.tlog-proof');
    await writeFile(full, receipt.stdout);
    const cosignatureLines = receipt.stdout
      .split('\n')
      .filter((l) => witnessNames.some((n) => l.startsWith(`${EM_DASH} ${n} `)));
    expect(cosignatureLines).toHaveLength(2);

    const policyFile = join(work, 'quorum2.policy');
    const ok = await runCli(['log', 'verify', '--policy', policyFile, '--entry', entry, full]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(
      `ok: index 0 in ${ORIGIN} at tree size 1, cosigned by ${witnessNames.join(', ')}\n`,
    );

    // The same receipt with one cosignature line removed: 1 of 2.
    const stripped = join(work, 'stripped.tlog-proof');
    await writeFile(stripped, receipt.stdout.replace(`${cosignatureLines[1] ?? ''}\n`, ''));
    const refused = await runCli([
      'log',
      'verify',
      '--policy',
      policyFile,
      '--entry',
      entry,
      stripped,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^POLICY_QUORUM_NOT_MET: /);

    // A verifier that needs no witnesses still accepts it (unknown cosignatures are ignored).
    const plain = await runCli(['log', 'verify', '--vkey', logVkey, '--entry', entry, stripped]);
    expect(plain.code).toBe(0);
  });

  it('refuses a witness policy that does not name this log, and bad flag combinations', async () => {
    const other = generateSignerKey(ORIGIN).verifierKey;
    const wrong = join(work, 'wrong.policy');
    await writeFile(wrong, policy(`log ${other}\n`, 'both'));
    const serve = await runCli(['log', 'serve', '--dir', dir, '--witness-policy', wrong]);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain('has no "log" line with this log\'s key');

    const flagOnly = await runCli(['log', 'serve', '--dir', dir, '--publish-unwitnessed']);
    expect(flagOnly.code).toBe(2);
    const both = await runCli(['log', 'verify', '--entry', wrong, wrong]);
    expect(both.code).toBe(2);
  });
});
