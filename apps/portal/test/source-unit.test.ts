// The page's source reader against a real git repository, its objects served
// as the assembly line serves them (@glasshouse/release readSourceObject):
// the walk from the commit, the comparison with the build link's materials,
// and the refusals a reviewer relies on.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '@glasshouse/attest';
import { readSourceObject } from '@glasshouse/release';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRepo } from '../../../packages/release/test/assembly-fixtures.js';
import { compareWithMaterials, SourceReader } from '../src/verify/source.js';

let dir = '';
let commit = '';
const files: Record<string, string> = {
  'glasshouse-recipe.json': '{"kind":"rules"}\n',
  'rules/a.yar': 'rule a { condition: true }\n',
  'rules/deep/b.yar': 'rule b { condition: false }\n',
};
const materials = Object.fromEntries(
  Object.entries(files).map(([p, t]) => [p, sha256Hex(new TextEncoder().encode(t))]),
);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portal-source-'));
  commit = await (await TestRepo.create(dir)).commit(files);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The assembly line's answer for `…/source/objects/<oid>`, optionally changed on its way. */
function fetcher(change?: (bytes: Uint8Array) => Uint8Array) {
  return async (url: string): Promise<Response> => {
    const oid = url.split('/').pop() ?? '';
    try {
      const bytes = await readSourceObject({ source: dir, commit, oid });
      return new Response(new Uint8Array(change === undefined ? bytes : change(bytes)));
    } catch (err) {
      return new Response(String(err), { status: 404 });
    }
  };
}
const codeOf = (p: Promise<unknown> | (() => unknown)): Promise<string | undefined> =>
  (async () => (typeof p === 'function' ? p() : await p))().then(
    () => undefined,
    (err: unknown) => (err as { code?: string }).code,
  );

describe("a release's source, checked in the page", () => {
  it('walks the commit, matches the materials and checks each file', async () => {
    const reader = new SourceReader('/svc/assembly/', 'r', fetcher());
    const tree = await reader.walk(commit);
    expect([...tree.files.keys()].sort()).toEqual(Object.keys(files).sort());
    expect([...tree.trees.keys()].sort()).toEqual(['', 'rules', 'rules/deep']);
    compareWithMaterials(tree, materials);
    const a = tree.files.get('rules/a.yar');
    expect(new TextDecoder().decode(await reader.file(a!, materials['rules/a.yar']))).toBe(
      files['rules/a.yar'],
    );
  });

  it('refuses a changed object, a file that is not a material and a digest that differs', async () => {
    const flip = (b: Uint8Array) => {
      const c = Uint8Array.from(b);
      if (new TextDecoder().decode(c.subarray(0, 5)) === 'blob ')
        c[c.length - 1] = (c[c.length - 1] ?? 0) ^ 1;
      return c;
    };
    const tampered = new SourceReader('/svc/assembly/', 'r', fetcher(flip));
    const tree = await tampered.walk(commit);
    expect(
      await codeOf(tampered.file(tree.files.get('rules/a.yar')!, materials['rules/a.yar'])),
    ).toBe('GIT_OBJECT_MISMATCH');
    const fewer = Object.fromEntries(
      Object.entries(materials).filter(([p]) => p !== 'rules/deep/b.yar'),
    );
    expect(
      await codeOf(() => {
        compareWithMaterials(tree, fewer);
      }),
    ).toBe('PORTAL_SOURCE_NOT_MATERIAL');
    const reader = new SourceReader('/svc/assembly/', 'r', fetcher());
    expect(
      await codeOf(reader.file(tree.files.get('rules/a.yar')!, materials['rules/deep/b.yar'])),
    ).toBe('PORTAL_SOURCE_DIGEST_MISMATCH');
    // Another commit's object is not served: the walk cannot start from it.
    expect(await codeOf(reader.walk('0'.repeat(40)))).toBe('PORTAL_FETCH_FAILED');
  });
});
