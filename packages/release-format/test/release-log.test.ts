import { describe, expect, it } from 'vitest';
import { codeOf } from '../../errors/test/codes.js';
import { encodeReleaseLogEntry, parseReleaseLogEntry, type ReleaseLogEntry } from '../src/index.js';

const hex = (c: string): string => c.repeat(64);

const sample: Omit<ReleaseLogEntry, 'schema'> = {
  releaseId: '01hq3zzzzzzzzzzzzzzzzzzzzz',
  name: 'demo-rules',
  version: '1.0.0',
  targets: [{ name: 'demo-rules/1.0.0/demo-rules-1.0.0.tar', sha256: hex('a') }],
  provenance: { sha256: hex('b') },
  vsa: { sha256: hex('c') },
  approval: { sha256: hex('d') },
};

describe('release-log entries', () => {
  it('round-trip in canonical JSON', () => {
    const bytes = encodeReleaseLogEntry(sample);
    const text = new TextDecoder().decode(bytes);
    expect(text.startsWith('{"approval":{"sha256":"dddd')).toBe(true);
    expect(parseReleaseLogEntry(bytes)).toEqual({
      schema: 'glasshouse.release-log/v1',
      ...sample,
    });
  });

  it('refuse anything but the one encoding of a valid entry', () => {
    const good = JSON.parse(new TextDecoder().decode(encodeReleaseLogEntry(sample))) as Record<
      string,
      unknown
    >;
    const bad: [string, Uint8Array][] = [
      ['pretty-printed', Buffer.from(JSON.stringify(good, null, 1))],
      ['not JSON', Buffer.from('{')],
      ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d])],
      ['an array', Buffer.from('[]')],
      ['over 65,535 bytes', Buffer.alloc(70_000, 0x20)],
    ];
    const variants: [string, Record<string, unknown>][] = [
      ['an unknown field', { ...good, extra: 1 }],
      ['another schema', { ...good, schema: 'glasshouse.release-log/v2' }],
      ['a short digest', { ...good, vsa: { sha256: 'abc' } }],
      ['no targets', { ...good, targets: [] }],
      ['a target twice', { ...good, targets: [sample.targets[0], sample.targets[0]] }],
      ['an empty name', { ...good, name: '' }],
    ];
    for (const [name, value] of variants) bad.push([name, Buffer.from(JSON.stringify(value))]);
    for (const [name, bytes] of bad) {
      expect([name, codeOf(() => parseReleaseLogEntry(bytes))]).toEqual([
        name,
        'RELEASE_LOG_ENTRY_INVALID',
      ]);
    }
  });
});
