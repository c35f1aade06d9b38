import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-harness.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glasshouse-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('glasshouse keygen / note sign / note verify', () => {
  it('signs a note that verifies with the printed key, and refuses a tampered one', async () => {
    const keyFile = join(dir, 'a.key');
    const gen = await runCli(['keygen', '--name', 'example.com/a', '--out', keyFile]);
    expect(gen.code).toBe(0);
    const vkey = gen.stdout.trim();
    expect(vkey).toMatch(/^example\.com\/a\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$/);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await readFile(keyFile, 'utf8')).startsWith('PRIVATE+KEY+example.com/a+')).toBe(true);

    const signed = await runCli(['note', 'sign', '--key-file', keyFile], 'hello\nworld\n');
    expect(signed.code).toBe(0);
    expect(signed.stdout.startsWith('hello\nworld\n\n\u2014 example.com/a ')).toBe(true);

    const ok = await runCli(['note', 'verify', '--vkey', vkey], signed.stdout);
    expect(ok).toMatchObject({ code: 0, stdout: 'hello\nworld\n' });

    const tampered = await runCli(
      ['note', 'verify', '--vkey', vkey],
      signed.stdout.replace('world', 'w0rld'),
    );
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toMatch(/^[A-Z_]+: /);
    expect(tampered.stdout).toBe('');
  });

  it('accepts a note when one of several keys verifies it', async () => {
    const a = join(dir, 'm1.key');
    const b = join(dir, 'm2.key');
    const va = (await runCli(['keygen', '--name', 'm1', '--out', a])).stdout.trim();
    const vb = (await runCli(['keygen', '--name', 'm2', '--out', b])).stdout.trim();
    const signed = await runCli(['note', 'sign', '--key-file', a], 'text\n');
    const res = await runCli(['note', 'verify', '--vkey', vb, '--vkey', va], signed.stdout);
    expect(res.code).toBe(0);
    const none = await runCli(['note', 'verify', '--vkey', vb], signed.stdout);
    expect(none.code).toBe(1);
  });

  it('refuses to overwrite an existing key file', async () => {
    const keyFile = join(dir, 'twice.key');
    expect((await runCli(['keygen', '--name', 'x', '--out', keyFile])).code).toBe(0);
    const again = await runCli(['keygen', '--name', 'x', '--out', keyFile]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
  });

  it('reports malformed keys and notes with a code, exit 1', async () => {
    const badKey = await runCli(['note', 'verify', '--vkey', 'not-a-key'], 'x\n\n\u2014 a AAAA\n');
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/^[A-Z_]+: /);
  });

  it('exits 2 on usage errors and 0 on --help', async () => {
    expect((await runCli(['note', 'verify'])).code).toBe(2);
    expect((await runCli(['no-such-command'])).code).toBe(2);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('keygen');
  });

  it('works as a real process through the bin launcher', () => {
    const bin = join(import.meta.dirname, '..', 'bin', 'glasshouse.js');
    const res = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(res.status).toBe(0);
    expect(res.stdout).toContain('Usage: glasshouse');
  });
});
