import { describe, expect, it } from 'vitest';
import { codeOf } from '../../errors/test/codes.js';
import { checkCommitSha, normalizeSourceUri } from '../src/build/git.js';

describe('source and commit checks', () => {
  it('accepts full lowercase SHA-1 commit names only', () => {
    expect(checkCommitSha('a'.repeat(40))).toBe('a'.repeat(40));
    for (const bad of ['A'.repeat(40), 'a'.repeat(39), 'a'.repeat(64), 'HEAD', 'main', '', 42]) {
      expect(codeOf(() => checkCommitSha(bad))).toBe('GIT_BAD_COMMIT');
    }
  });

  it('turns absolute paths into file URLs and keeps allowed URLs', () => {
    expect(normalizeSourceUri('/srv/git/a repo')).toBe('file:///srv/git/a%20repo');
    expect(normalizeSourceUri('https://git.example.org/r.git')).toBe(
      'https://git.example.org/r.git',
    );
    expect(normalizeSourceUri('file:///srv/git/r')).toBe('file:///srv/git/r');
    expect(normalizeSourceUri('ssh://git@git.example.org/r.git')).toBe(
      'ssh://git@git.example.org/r.git',
    );
  });

  it('refuses relative paths, other schemes, credentials and option-like values', () => {
    for (const bad of [
      'relative/path',
      'ext::sh -c id',
      'fd::3',
      'git@github.com:o/r.git',
      'https://user:secret@git.example.org/r.git',
      'file://host/srv/r',
      '-uhelp',
      '/srv/r\nx',
      'https://git.example.org/a b',
      '',
      'x'.repeat(3000),
      7,
    ]) {
      expect(
        codeOf(() => normalizeSourceUri(bad)),
        String(bad),
      ).toBe('GIT_BAD_SOURCE');
    }
  });
});
