import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSignerKey } from '@glasshouse/tlog';
import { type RunningLogServer, startLogServer } from '../src/commands/log.js';
import { logAdd, quietIo, runCli } from './cli-harness.js';

const ORIGIN = 'example.org/cli-log';
let dir: string;
let work: string;
let server: RunningLogServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'glasshouse-cli-log-'));
  dir = join(work, 'data');
});
afterAll(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

describe('glasshouse log', () => {
  it('init creates the key (0600), prints the verifier key, and is idempotent', async () => {
    const first = await runCli(['log', 'init', '--origin', ORIGIN, '--dir', dir]);
    expect(first.code).toBe(0);
    expect(first.stdout.startsWith(`${ORIGIN}+`)).toBe(true);
    expect((await stat(join(dir, 'log.key'))).mode & 0o777).toBe(0o600);
    const again = await runCli(['log', 'init', '--origin', ORIGIN, '--dir', dir]);
    expect(again.stdout).toBe(first.stdout);
    const other = await runCli(['log', 'init', '--origin', 'example.org/other', '--dir', dir]);
    expect(other.code).toBe(2);
  });

  it('init takes a given key file, which must be named after the origin', async () => {
    const keyFile = join(work, 'given.key');
    const { signerKey, verifierKey } = generateSignerKey('example.org/given');
    await writeFile(keyFile, `${signerKey}\n`);
    const d = join(work, 'given');
    const ok = await runCli([
      'log',
      'init',
      '--origin',
      'example.org/given',
      '--dir',
      d,
      '--key-file',
      keyFile,
    ]);
    expect(ok.stdout.trim()).toBe(verifierKey);
    expect((await readFile(join(d, 'log.key'), 'utf8')).trim()).toBe(signerKey);
    const wrong = await runCli([
      'log',
      'init',
      '--origin',
      'example.org/x',
      '--dir',
      join(work, 'x'),
      '--key-file',
      keyFile,
    ]);
    expect(wrong.code).toBe(2);
  });

  it('add, receipt and verify work end to end', async () => {
    server = await startLogServer({ dir, listen: '127.0.0.1:0', io: quietIo });
    const files = ['a', 'b', 'c'].map((n) => join(work, `${n}.txt`));
    for (const f of files) await writeFile(f, `entry ${f}\n`);
    const one = await logAdd(server.url, dir, files[0] ?? '');
    expect(one).toMatchObject({
      code: 0,
      stdout: `${files[0]}: index 0, receipt ${server.url}receipt/0\n`,
    });
    const many = await logAdd(server.url, dir, '--json', ...files.slice(1));
    expect(
      many.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual(
      [1, 2].map((i) => ({ file: files[i], index: `${i}`, receipt: `${server.url}receipt/${i}` })),
    );

    let receipt = await runCli(['log', 'receipt', '--url', server.url, '2']);
    for (let i = 0; receipt.code !== 0 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      receipt = await runCli(['log', 'receipt', '--url', server.url, '2']);
    }
    expect(receipt.stdout.startsWith('c2sp.org/tlog-proof@v1\nindex 2\n')).toBe(true);
    const proofFile = join(work, 'c.tlog-proof');
    await writeFile(proofFile, receipt.stdout);

    const ok = await runCli([
      'log',
      'verify',
      '--vkey',
      server.verifierKey,
      '--entry',
      files[2] ?? '',
      proofFile,
    ]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('index 2');
    const bad = await runCli([
      'log',
      'verify',
      '--vkey',
      server.verifierKey,
      '--entry',
      files[0] ?? '',
      proofFile,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.startsWith('TLOGPROOF_INCLUSION_INVALID')).toBe(true);

    const empty = join(work, 'empty');
    await writeFile(empty, '');
    expect((await logAdd(server.url, dir, empty)).code).toBe(2);
    const notIndex = await runCli(['log', 'receipt', '--url', server.url, 'x']);
    expect(notIndex.code).toBe(2);
    const tooFar = await runCli(['log', 'receipt', '--url', server.url, '99']);
    expect(tooFar.code).toBe(1);
    expect(tooFar.stderr.startsWith('HTTP_ERROR')).toBe(true);
  });

  it('serve refuses a directory without a key, and a second server on one directory', async () => {
    const none = await runCli([
      'log',
      'serve',
      '--dir',
      join(work, 'nothing'),
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(none.code).toBe(2);
    await expect(startLogServer({ dir, listen: '127.0.0.1:0', io: quietIo })).rejects.toMatchObject(
      {
        code: 'DATA_DIR_LOCKED',
      },
    );
  });
});
