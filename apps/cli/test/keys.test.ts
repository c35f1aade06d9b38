/**
 * Caller keys: `keys new/show/caller/accepted`, and a log served by the CLI
 * refusing writes from keys it does not list.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCallersFiles } from '../src/callers.js';
import { initDataDir, startLogServer, type RunningLogServer } from '../src/commands/log.js';
import { logAdd, quietIo, runCli } from './cli-harness.js';

let work = '';
let logDir = '';
let log: RunningLogServer | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'glasshouse-cli-keys-'));
  logDir = join(work, 'log');
  await initDataDir({ dir: logDir, origin: 'example.org/keys-test' });
});
afterAll(async () => {
  await log?.close();
  await rm(work, { recursive: true, force: true });
});

describe('glasshouse keys', () => {
  it('new writes a 0600 PEM key and prints its RFC 7638 key id; show prints the same', async () => {
    const path = join(work, 'engineer.key');
    const made = await runCli(['keys', 'new', '--out', path]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^keyid [A-Za-z0-9_-]{43}\n-----BEGIN PUBLIC KEY-----\n/);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await runCli(['keys', 'show', path])).stdout).toBe(made.stdout);
    expect((await runCli(['keys', 'new', '--out', path])).code).toBe(2);
  });

  it('caller prints a callers file that accepted lists and a service takes', async () => {
    const key = join(work, 'repository.key');
    await runCli(['keys', 'new', '--out', key]);
    const file = await runCli([
      'keys',
      'caller',
      '--name',
      'repository',
      '--allow',
      'POST /add',
      key,
    ]);
    expect(file.code, file.stderr).toBe(0);
    const callers = join(work, 'callers.json');
    await writeFile(callers, file.stdout);
    const keyid = /^keyid (\S+)$/m.exec((await runCli(['keys', 'show', key])).stdout)?.[1];
    expect((await runCli(['keys', 'accepted', callers])).stdout).toBe(
      `repository ${keyid} POST /add\n`,
    );
    const bad = await runCli(['keys', 'caller', '--name', 'x', '--allow', 'add', key]);
    expect(bad.code).toBe(2);
  });

  it('log add is refused for a key the log does not list, accepted for the operator and a listed caller', async () => {
    log = await startLogServer({
      dir: logDir,
      listen: '127.0.0.1:0',
      callers: await readCallersFiles([join(work, 'callers.json')]),
      io: quietIo,
    });
    const entry = join(work, 'entry');
    await writeFile(entry, 'an entry\n');
    const stranger = join(work, 'stranger.key');
    await runCli(['keys', 'new', '--out', stranger]);
    const refused = await runCli(['log', 'add', '--url', log.url, '--key', stranger, entry]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/AUTH_KEY_UNKNOWN/);
    const byOperator = await logAdd(log.url, logDir, entry);
    expect(byOperator).toMatchObject({ code: 0 });
    expect(byOperator.stdout).toMatch(/: index 0, /);
    const byRepository = await runCli([
      'log',
      'add',
      '--url',
      log.url,
      '--key',
      join(work, 'repository.key'),
      entry,
    ]);
    expect(byRepository).toMatchObject({ code: 0 });
    expect(byRepository.stdout).toMatch(/: index 1, /);
  });
});
