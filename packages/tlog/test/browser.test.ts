// DESIGN.md §10: the portal verifies in the reviewer's browser with this very
// package. So: no Node built-ins in src, and a browser bundle (esbuild,
// platform "browser", which picks @glasshouse/crypto's @noble engine)
// verifies the golden receipt that Node-side code produced.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { generateCosignerKey } from '../src/cosignature.js';
import { generateSignerKey } from '../src/note.js';

const src = join(import.meta.dirname, '..', 'src');
const testdata = join(import.meta.dirname, '..', 'testdata', 'tlogproof', 'valid');
const work = mkdtempSync(join(tmpdir(), 'tlog-browser-'));
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

type Tlog = typeof import('../src/index.js');

/** The code of what `run` throws: the bundle has its own copy of the error classes. */
function bundleCode(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    throw err;
  }
  return 'accepted';
}

async function browserBundle(): Promise<{ text: string; tlog: Tlog }> {
  const result = await build({
    entryPoints: [join(src, 'index.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  expect(result.errors).toEqual([]);
  const text = result.outputFiles[0]?.text ?? '';
  const file = join(work, 'tlog.browser.mjs');
  writeFileSync(file, text);
  return { text, tlog: (await import(pathToFileURL(file).href)) as Tlog };
}

describe('@glasshouse/tlog in a browser', () => {
  it('has no node: imports, Buffer or process in src', () => {
    for (const file of readdirSync(src).filter((f) => f.endsWith('.ts'))) {
      expect(readFileSync(join(src, file), 'utf8'), file).not.toMatch(
        /from ['"]node:|require\(|\bBuffer\b|\bprocess\./,
      );
    }
  });

  it('bundles for the browser with the @noble engine and verifies the golden receipt', async () => {
    const { text, tlog } = await browserBundle();
    expect(text).not.toMatch(/from ["']node:|require\(["']node:/);
    expect(text).toContain('@noble');

    // The same fixed keys as tlogproof.test.ts made the golden receipt.
    const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);
    const log = generateSignerKey('example.com/fancylog', seed(0x01));
    const witnesses = [1, 2, 3].map((i) =>
      generateCosignerKey(`witness${i}.example`, seed(0x30 + i)),
    );
    const policy = tlog.parsePolicy(
      [
        `log ${log.verifierKey}`,
        ...witnesses.map((k, i) => `witness W${i + 1} ${k.verifierKey}`),
        'group witnesses 2 W1 W2 W3',
        'quorum witnesses',
        '',
      ].join('\n'),
    );
    const golden = readFileSync(join(testdata, 'golden.tlog-proof'), 'utf8');
    const entry = new TextEncoder().encode('entry 5');
    const got = tlog.verifyTlogProof(golden, entry, policy);
    expect(got.index).toBe(5n);
    expect(got.cosigners).toEqual(['W1', 'W3']);

    // And it refuses what Node refuses: another entry, a flipped signature byte.
    const wrongEntry = new TextEncoder().encode('entry 6');
    expect(bundleCode(() => tlog.verifyTlogProof(golden, wrongEntry, policy))).toBe(
      'TLOGPROOF_INCLUSION_INVALID',
    );
    const sigLine = golden.split('\n').findIndex((l) => l.startsWith('— example.com/fancylog '));
    const lines = golden.split('\n');
    const line = lines[sigLine] ?? '';
    const last = line.at(-3) === 'A' ? 'B' : 'A';
    lines[sigLine] = `${line.slice(0, -3)}${last}${line.slice(-2)}`;
    expect(bundleCode(() => tlog.verifyTlogProof(lines.join('\n'), entry, policy))).toMatch(
      /SIGNATURE|NOTE/,
    );

    // Key generation agrees between the engines (same seed, same vkey).
    expect(tlog.generateSignerKey('example.com/fancylog', seed(0x01))).toEqual(log);
  });
});
