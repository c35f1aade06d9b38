import { describe, expect, it } from 'vitest';
import { sha256Hex } from '@glasshouse/attest';
import { gzipDeterministic, writeTar, type TarEntry } from '@glasshouse/bundle';
import { parseProductFiles, productFilesOf } from '@glasshouse/release-format';
import { codeOf } from '../../errors/test/codes.js';
import { productFilesArtifact } from '../src/index.js';

const release = { name: 'demo-agent', version: '1.2.3' };
const enc = new TextEncoder();

/** An npm-pack-shaped tarball (every file under package/), as an output of the build. */
function tarball(entries: TarEntry[], name = 'demo-agent-1.2.3.tgz') {
  const bytes = gzipDeterministic(writeTar(entries, 499_162_500));
  return { name, bytes, sha256: sha256Hex(bytes) };
}
const pkg = (name = release.name, version = release.version): TarEntry => ({
  path: 'package/package.json',
  data: enc.encode(JSON.stringify({ name, version })),
});

describe('productFilesArtifact', () => {
  it("lists every file of the recipe's npm-pack tarball, with digest, size and executable bit", () => {
    const bin = { path: 'package/bin/run.js', data: enc.encode('#!/bin/sh\n'), executable: true };
    const out = tarball([pkg(), bin]);
    const artifact = productFilesArtifact(release, [{ ...out, name: 'notes.txt' }, out]);
    expect(artifact?.name).toBe('demo-agent-1.2.3.files.json');
    expect(artifact?.sha256).toBe(sha256Hex(artifact!.bytes));
    const files = parseProductFiles(artifact!.bytes);
    expect(files).toEqual(
      productFilesOf(release, [
        { path: 'package/bin/run.js', data: bin.data, mode: 0o755 },
        { path: 'package/package.json', data: pkg().data, mode: 0o644 },
      ]),
    );
    expect(files.files['bin/run.js']).toEqual({
      sha256: sha256Hex(bin.data),
      size: bin.data.length,
      executable: true,
    });
  });

  it('makes nothing when no output is the tarball of the recipe’s name and version', () => {
    expect(productFilesArtifact(release, [tarball([pkg()], 'other-1.2.3.tgz')])).toBeUndefined();
    expect(productFilesArtifact(release, [])).toBeUndefined();
  });

  it('refuses a tarball that does not read, holds a file outside package/, or packs another release', () => {
    const garbage = { name: 'demo-agent-1.2.3.tgz', bytes: enc.encode('not gzip'), sha256: '' };
    expect(codeOf(() => productFilesArtifact(release, [garbage]))).toBe('BUILD_PRODUCT_INVALID');
    const outside = tarball([pkg(), { path: 'elsewhere/x.js', data: enc.encode('x') }]);
    expect(codeOf(() => productFilesArtifact(release, [outside]))).toBe('BUILD_PRODUCT_INVALID');
    const noPackageJson = tarball([{ path: 'package/index.js', data: enc.encode('x') }]);
    expect(codeOf(() => productFilesArtifact(release, [noPackageJson]))).toBe(
      'BUILD_PRODUCT_INVALID',
    );
    for (const other of [pkg('other'), pkg(release.name, '9.9.9')]) {
      expect(codeOf(() => productFilesArtifact(release, [tarball([other])]))).toBe(
        'BUILD_PRODUCT_INVALID',
      );
    }
    const notJson = tarball([{ path: 'package/package.json', data: enc.encode('{') }]);
    expect(codeOf(() => productFilesArtifact(release, [notJson]))).toBe('BUILD_PRODUCT_INVALID');
  });
});
