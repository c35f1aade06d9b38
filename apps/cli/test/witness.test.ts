import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSignerKey, parseCosignatureVerifierKey } from '@glasshouse/tlog';
import { addCheckpoint } from '@glasshouse/witness';
import { startWitnessServer } from '../src/commands/witness.js';
import { quietIo, runCli } from './cli-harness.js';

const NAME = 'witness.example/cli';
let work: string;
let dir: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'glasshouse-cli-witness-'));
  dir = join(work, 'witness');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('glasshouse witness', () => {
  it('init writes the key (0600), prints a type 0x04 vkey, and is idempotent', async () => {
    const first = await runCli(['witness', 'init', '--name', NAME, '--dir', dir]);
    expect(first.code).toBe(0);
    expect(parseCosignatureVerifierKey(first.stdout.trim()).name).toBe(NAME);
    expect((await stat(join(dir, 'witness.key'))).mode & 0o777).toBe(0o600);
    expect((await runCli(['witness', 'init', '--name', NAME, '--dir', dir])).stdout).toBe(
      first.stdout,
    );
    expect((await runCli(['witness', 'init', '--name', 'other', '--dir', dir])).code).toBe(2);
  });

  it('add-log registers by key name or origin and refuses bad keys', async () => {
    const log = generateSignerKey('example.org/cli-witnessed');
    const added = await runCli(['witness', 'add-log', '--dir', dir, '--vkey', log.verifierKey]);
    expect(added).toMatchObject({ code: 0, stdout: 'example.org/cli-witnessed\n' });
    const renamed = await runCli([
      'witness',
      'add-log',
      '--dir',
      dir,
      '--vkey',
      log.verifierKey,
      '--origin',
      'example.org/renamed',
    ]);
    expect(renamed.stdout).toBe('example.org/renamed\n');
    const bad = await runCli(['witness', 'add-log', '--dir', dir, '--vkey', 'nope']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^KEY_INVALID/);
    const missing = await runCli([
      'witness',
      'add-log',
      '--dir',
      join(work, 'none'),
      '--vkey',
      'x',
    ]);
    expect(missing.code).toBe(2);
  });

  it('serves, and holds the data directory while it runs', async () => {
    const server = await startWitnessServer({ dir, listen: '127.0.0.1:0', io: quietIo });
    try {
      const locked = await runCli(['witness', 'add-log', '--dir', dir, '--vkey', 'x']);
      expect(locked.stderr).toMatch(/^DATA_DIR_LOCKED/);
      const r = await addCheckpoint(server.url, {
        oldSize: 0n,
        consistencyProof: [],
        checkpoint:
          'example.org/unknown\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— x AAAAAA==\n',
      });
      expect(r).toMatchObject({ kind: 'rejected', status: 404 });
    } finally {
      await server.close();
    }
    expect((await runCli(['witness', 'serve', '--dir', dir, '--listen', 'nope'])).code).toBe(2);
  });
});
