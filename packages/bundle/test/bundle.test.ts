import { describe, expect, it } from 'vitest';
import { sha256Hex } from '@glasshouse/attest';
import { readBundle } from '../src/bundle.js';
import { codeOf } from '../../errors/test/codes.js';
import {
  canonicalJson,
  MANIFEST_SCHEMA,
  parseManifest,
  serializeManifest,
  type RulesManifest,
} from '../src/manifest.js';
import { writeTar, type TarEntry } from '../src/tar.js';

const enc = new TextEncoder();
const rule = enc.encode('rule r { strings: $a = "R-MARK" condition: $a }\n');
const sample = enc.encode('R-MARK');

function manifestFor(files: Record<string, Uint8Array>): RulesManifest {
  return {
    schema: MANIFEST_SCHEMA,
    name: 'x',
    version: '1.0.0',
    sourceDateEpoch: 0,
    engines: { 'yara-x': '1.20.0' },
    rules: ['rules/r.yar'],
    ruleNames: ['r'],
    files: Object.fromEntries(Object.entries(files).map(([p, d]) => [p, sha256Hex(d)])),
    selfTest: [{ sample: 'samples/r/s', expect: ['r'] }],
  };
}

function bundle(files: Record<string, Uint8Array>, manifest = manifestFor(files)): Uint8Array {
  const entries: TarEntry[] = Object.entries(files).map(([path, data]) => ({ path, data }));
  entries.push({ path: 'manifest.json', data: serializeManifest(manifest) });
  return writeTar(entries, 0);
}

const good = { 'rules/r.yar': rule, 'samples/r/s': sample };

describe('bundle and manifest', () => {
  it('reads a consistent bundle', () => {
    const b = readBundle(bundle(good));
    expect([...b.files.keys()]).toEqual(['rules/r.yar', 'samples/r/s']);
    expect(b.manifest.ruleNames).toEqual(['r']);
  });

  it('refuses a file whose digest differs, an unlisted file and a missing file', () => {
    const m = manifestFor(good);
    expect(
      codeOf(() => readBundle(bundle({ ...good, 'samples/r/s': enc.encode('other') }, m))),
    ).toBe('MANIFEST_DIGEST_MISMATCH');
    expect(codeOf(() => readBundle(bundle({ ...good, extra: sample }, m)))).toBe(
      'MANIFEST_DIGEST_MISMATCH',
    );
    const missing = manifestFor({ ...good, 'clean/c': sample });
    expect(codeOf(() => readBundle(bundle(good, missing)))).toBe('MANIFEST_DIGEST_MISMATCH');
  });

  it('refuses a bundle without a manifest, or with a non-canonical one', () => {
    expect(codeOf(() => readBundle(writeTar([{ path: 'a', data: sample }], 0)))).toBe(
      'MANIFEST_INVALID',
    );
    const pretty = enc.encode(JSON.stringify(manifestFor(good)));
    const t = writeTar(
      [
        ...Object.entries(good).map(([path, data]) => ({ path, data })),
        { path: 'manifest.json', data: pretty },
      ],
      0,
    );
    expect(codeOf(() => readBundle(t))).toBe('MANIFEST_INVALID');
    expect(
      codeOf(() => parseManifest(enc.encode('{"schema":"glasshouse.rules-bundle/v1","extra":1}'))),
    ).toBe('MANIFEST_INVALID');
  });

  it('canonical JSON sorts keys, integer-like ones included', () => {
    expect(canonicalJson({ b: 1, a: [{ z: null, '10': true, '9': 'x' }] })).toBe(
      '{\n  "a": [\n    {\n      "10": true,\n      "9": "x",\n      "z": null\n    }\n  ],\n  "b": 1\n}\n',
    );
  });
});
