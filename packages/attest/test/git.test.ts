// The git object reader against real git: ids, commit → tree, tree entries.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitCommitTree, gitObjectId, gitTreeEntries, openGitObject } from '../src/index.js';

let dir = '';
const git = (...args: string[]): Buffer =>
  execFileSync('git', ['-C', dir, ...args], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: 'A',
      GIT_AUTHOR_EMAIL: 'a@example.org',
      GIT_COMMITTER_NAME: 'A',
      GIT_COMMITTER_EMAIL: 'a@example.org',
    },
  });
/** An object as the assembly line serves it: `<type> <size>\0<content>`. */
const loose = (id: string): Uint8Array => {
  const type = git('cat-file', '-t', id).toString().trim();
  const content = git('cat-file', type, id);
  return Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'attest-git-'));
  git('init', '--quiet', '--object-format=sha1');
  mkdirSync(join(dir, 'rules'));
  writeFileSync(join(dir, 'rules', 'a.yar'), 'rule a { condition: true }\n');
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho ünïcode\n');
  chmodSync(join(dir, 'run.sh'), 0o755);
  writeFileSync(join(dir, 'empty'), '');
  git('add', '.');
  git('commit', '--quiet', '-m', 'one');
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('git objects', () => {
  it('computes the ids git computes, and walks commit → tree → blobs', () => {
    const head = git('rev-parse', 'HEAD').toString().trim();
    const commit = openGitObject(loose(head), head, 'commit');
    const treeId = gitCommitTree(commit);
    expect(treeId).toBe(git('rev-parse', 'HEAD^{tree}').toString().trim());
    const entries = gitTreeEntries(openGitObject(loose(treeId), treeId, 'tree'));
    const listed = git('ls-tree', 'HEAD')
      .toString()
      .trim()
      .split('\n')
      .map((l) => {
        const [meta, name] = l.split('\t');
        const [mode, type, id] = (meta ?? '').split(' ');
        return { mode: mode === '040000' ? '40000' : mode, name, id, type };
      });
    expect(entries).toEqual(listed);
    const blob = entries.find((e) => e.name === 'run.sh');
    const opened = openGitObject(loose(blob?.id ?? ''), blob?.id ?? '', 'blob');
    expect(new TextDecoder().decode(opened.content)).toBe('#!/bin/sh\necho ünïcode\n');
    expect(gitObjectId('blob', opened.content)).toBe(blob?.id);
    expect(gitObjectId('blob', new Uint8Array())).toBe('e69de29bb2d1d6434b8b29ae775ad8c2e48c5391');
  });

  it('refuses a changed byte, a wrong type, a bad header and a bad tree', () => {
    const head = git('rev-parse', 'HEAD').toString().trim();
    const bytes = loose(head);
    const changed = Uint8Array.from(bytes);
    changed[changed.length - 2] = (changed[changed.length - 2] ?? 0) ^ 1;
    expect(() => openGitObject(changed, head)).toThrow(
      expect.objectContaining({ code: 'GIT_OBJECT_MISMATCH' }),
    );
    expect(() => openGitObject(bytes, head, 'tree')).toThrow(
      expect.objectContaining({ code: 'GIT_OBJECT_MISMATCH' }),
    );
    expect(() => openGitObject(new TextEncoder().encode('blob 5\0abc'), head)).toThrow(
      expect.objectContaining({ code: 'GIT_OBJECT_MALFORMED' }),
    );
    expect(() => openGitObject(bytes, 'HEAD')).toThrow(
      expect.objectContaining({ code: 'GIT_OBJECT_MALFORMED' }),
    );
    const content = new TextEncoder().encode('100644 ../x\0' + 'a'.repeat(20));
    const tree = { type: 'tree' as const, id: gitObjectId('tree', content), content };
    expect(() => gitTreeEntries(tree)).toThrow(
      expect.objectContaining({ code: 'GIT_OBJECT_MALFORMED' }),
    );
  });
});
