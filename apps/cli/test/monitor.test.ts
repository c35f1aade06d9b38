import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readFile, rm, writeFile } from 'node:fs/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '@glasshouse/log';
import {
  type TestLog,
  entries,
  listen,
  makeTestLog,
  tempDir,
} from '../../../packages/log/test/monitor/monitor-fixtures.js';
import { runCli } from './cli-harness.js';
import { CLI, REPO_ROOT, ensureCliBuilt } from './built-cli.js';

describe('glasshouse monitor', () => {
  let log: TestLog;
  let logServer: FastifyInstance;
  let url: string;
  let hook: FastifyInstance;
  let hookUrl: string;
  const received: unknown[] = [];
  let state: string;
  let note300: string;

  beforeAll(async () => {
    log = await makeTestLog();
    logServer = buildServer({ log: log.log });
    url = await listen(logServer);
    hook = Fastify();
    hook.post('/alerts', (req, reply) => {
      received.push(req.body);
      return reply.code(204).send();
    });
    hookUrl = `${await listen(hook)}alerts`;
    state = await tempDir('glasshouse-cli-monitor-');
    note300 = (await log.add(entries(0, 300))).note;
  });
  afterAll(async () => {
    await hook.close();
    await logServer.close();
    await log.close();
    await rm(state, { recursive: true, force: true });
  });

  const monitorOnce = (...extra: string[]) =>
    runCli([
      'monitor',
      '--url',
      url,
      '--vkey',
      log.verifierKey,
      '--state',
      state,
      '--once',
      ...extra,
    ]);

  it('--once: exit 0 when all is well, 1 with alerts in alerts.jsonl, on stderr and the webhook', async () => {
    const ok = await monitorOnce();
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain('monitor: checkpoint size 0 -> 300');
    expect(ok.stderr).toContain('monitor: verified size 300');
    expect(existsSync(join(state, 'alerts.jsonl'))).toBe(false);

    // The log grows, and an entry verified at 300 is rewritten in the grown bundle.
    await log.add(entries(300, 200));
    const file = join(log.dir, 'tiles', 'tile/entries/001.p/244');
    const bundle = await readFile(file);
    bundle[10] = (bundle[10] ?? 0) ^ 0x01;
    await writeFile(file, bundle);

    const bad = await monitorOnce('--webhook', hookUrl);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('ALERTS_RAISED');
    expect(bad.stderr).toContain('staying at verified size 300');
    const lines = (await readFile(join(state, 'alerts.jsonl'), 'utf8')).trim().split('\n');
    const alerts = lines.map((l) => JSON.parse(l) as { kind: string; evidence: object });
    expect(alerts.map((a) => a.kind)).toEqual(['tiles-mismatch', 'tiles-mismatch']);
    expect(alerts[0]?.evidence).toMatchObject({ tile: 'tile/entries/001.p/244', index: '256' });
    for (const line of lines) expect(bad.stderr).toContain(line);
    expect(received).toEqual(alerts);
  });

  it('refuses to run without its required options, and explains both forms in --help', async () => {
    expect((await runCli(['monitor', '--url', url, '--state', state])).code).toBe(2);
    expect((await runCli(['monitor', '--vkey', log.verifierKey, '--state', state])).code).toBe(2);
    expect((await runCli(['monitor', 'serve-mirror'])).code).toBe(2);
    const help = await runCli(['monitor', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--vkey <vkey>');
    expect(help.stdout).toContain('serve-mirror');
  });

  it('serve-mirror serves the last verified checkpoint (child process)', async () => {
    ensureCliBuilt();
    const child = spawn(
      process.execPath,
      [CLI, 'monitor', 'serve-mirror', '--state', state, '--listen', '127.0.0.1:0'],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const mirrorUrl = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => {
          reject(new Error(`serve-mirror printed no url: ${out}`));
        }, 15_000);
        child.stdout.setEncoding('utf8').on('data', (s: string) => {
          out += s;
          const m = /^url (\S+)$/m.exec(out);
          if (m?.[1] !== undefined) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
      });
      const res = await fetch(new URL('checkpoint', mirrorUrl));
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      // The rewritten history was never accepted: the mirror stays at 300.
      expect(await res.text()).toBe(note300);
      const tile = await fetch(new URL('tile/0/001.p/44', mirrorUrl));
      expect(tile.status).toBe(200);
      expect(Buffer.from(await tile.arrayBuffer())).toEqual(
        Buffer.from((await log.log.readTile('tile/0/001.p/44')) ?? []),
      );
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
