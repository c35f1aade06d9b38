import { describe, expect, it } from 'vitest';
import { hasCode } from '@glasshouse/errors';
import { parseProductFiles, productFilesOf, serializeProductFiles } from '../src/index.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const release = { name: 'glasshouse-agent', version: '1.0.0' };
const entries = [
  { path: 'package/package.json', data: utf8('{}\n'), mode: 0o644 },
  { path: 'package/bin/glasshouse.js', data: utf8('#!/usr/bin/env node\n'), mode: 0o755 },
];

function refused(bytes: Uint8Array): boolean {
  try {
    parseProductFiles(bytes);
    return false;
  } catch (err) {
    return hasCode(err, 'PRODUCT_FILES_INVALID');
  }
}

describe('product file manifests', () => {
  it('lists every file under package/ with its digest and mode, and round-trips', () => {
    const files = productFilesOf(release, entries);
    expect(Object.keys(files.files)).toEqual(['bin/glasshouse.js', 'package.json']);
    expect(files.files['bin/glasshouse.js']).toMatchObject({ executable: true, size: 20 });
    expect(files.files['package.json']?.executable).toBe(false);
    expect(parseProductFiles(serializeProductFiles(files))).toEqual(files);
  });

  it('refuses entries outside package/ when built', () => {
    expect(() => productFilesOf(release, [{ path: 'x/y', data: utf8(''), mode: 0o644 }])).toThrow();
  });

  it('refuses unsafe paths, unknown fields, bad digests and oversize input when parsed', () => {
    const good = productFilesOf(release, entries);
    const with_ = (files: Record<string, unknown>): Uint8Array =>
      utf8(JSON.stringify({ ...good, files }));
    const file = good.files['package.json']!;
    expect(refused(with_({ '../evil': file }))).toBe(true);
    expect(refused(with_({ '/abs': file }))).toBe(true);
    expect(refused(with_({ 'a//b': file }))).toBe(true);
    expect(refused(with_({ 'a\\b': file }))).toBe(true);
    expect(refused(with_({ ok: { ...file, sha256: 'zz' } }))).toBe(true);
    expect(refused(with_({ ok: { ...file, extra: 1 } }))).toBe(true);
    expect(refused(utf8(JSON.stringify({ ...good, more: 1 })))).toBe(true);
    expect(refused(utf8('not json'))).toBe(true);
    expect(refused(new Uint8Array(8 * 1024 * 1024 + 1).fill(0x20))).toBe(true);
  });
});
