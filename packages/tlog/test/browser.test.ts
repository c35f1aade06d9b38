// DESIGN.md §10: the portal verifies in the reviewer's browser with this very
// package. So: no Node built-ins in src, and a browser bundle (esbuild,
// platform "browser", which picks @glasshouse/crypto's @noble engine)
// verifies the golden receipt that Node-side code produced.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { browserBundle, bundleCode, expectNoNodeOnly } from '../../crypto/test/browser.js';
import { generateCosignerKey } from '../src/cosignature.js';
import { generateSignerKey } from '../src/note.js';

const src = join(import.meta.dirname, '..', 'src');
const testdata = join(import.meta.dirname, '..', 'testdata', 'tlogproof', 'valid');

type Tlog = typeof import('../src/index.js');

describe('@glasshouse/tlog in a browser', () => {
  it('has no node: imports, Buffer or process in src', () => {
    expectNoNodeOnly(src);
  });

  it('bundles for the browser with the @noble engine and verifies the golden receipt', async () => {
    const { text, module } = await browserBundle(join(src, 'index.ts'), true);
    expect(text).toContain('@noble');
    const tlog = module as Tlog;

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
