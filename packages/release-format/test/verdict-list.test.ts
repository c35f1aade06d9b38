import { describe, expect, it } from 'vitest';
import {
  parseVerdictList,
  serializeVerdictList,
  verdictListName,
  verdictListOf,
} from '../src/index.js';

const release = { name: 'demo-verdicts', version: '1.0.0' };
const h = (c: string): string => c.repeat(64);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('vendor verdict lists', () => {
  it('builds one canonical list from the sources: sorted, one per hash, comments dropped', () => {
    const list = verdictListOf(release, [
      { path: 'verdicts/bad.txt', text: `# droppers\n${h('b')} known-bad  # seen in the wild\n\n` },
      { path: 'verdicts/good.txt', text: `${h('a')} known-good\n${h('b')}\tknown-bad\n` },
    ]);
    expect(list.verdicts).toEqual([
      { sha256: h('a'), verdict: 'known-good' },
      { sha256: h('b'), verdict: 'known-bad' },
    ]);
    const bytes = serializeVerdictList(list);
    // The same facts in another order are the same bytes (a reproducible build).
    const again = verdictListOf(release, [
      { path: 'x.txt', text: `${h('b')} known-bad\n${h('a')} known-good` },
    ]);
    expect(serializeVerdictList(again)).toEqual(bytes);
    expect(new TextDecoder().decode(bytes)).toBe(
      '{\n  "schema": "glasshouse.verdict-list/v1",\n  "name": "demo-verdicts",\n  "version": "1.0.0",\n' +
        `  "verdicts": [\n    {"sha256":"${h('a')}","verdict":"known-good"},\n` +
        `    {"sha256":"${h('b')}","verdict":"known-bad"}\n  ]\n}\n`,
    );
    expect(parseVerdictList(bytes, release)).toEqual(list);
    expect(verdictListName(release)).toBe('demo-verdicts-1.0.0.verdicts.json');
  });

  it('serializes and parses an empty list', () => {
    const empty = verdictListOf(release, []);
    expect(parseVerdictList(serializeVerdictList(empty))).toEqual(empty);
  });

  it('refuses bad source lines and contradictions, naming file and line', () => {
    const bad = (text: string): unknown => {
      try {
        verdictListOf(release, [{ path: 'v/list.txt', text }]);
      } catch (err) {
        return err;
      }
      return undefined;
    };
    for (const text of [
      `${h('A')} known-bad`,
      `${h('a')} malicious`,
      h('a'),
      `${h('a')} known-bad extra`,
      `${'a'.repeat(63)} known-bad`,
    ]) {
      expect(bad(`\n${text}`), text).toMatchObject({
        code: 'VERDICT_LIST_INVALID',
        evidence: { at: 'v/list.txt:2' },
      });
    }
    expect(bad(`${h('a')} known-bad\n${h('a')} known-good`)).toMatchObject({
      code: 'VERDICT_LIST_INVALID',
      evidence: { at: 'v/list.txt:2', other: 'v/list.txt:1' },
    });
    expect(() => verdictListOf({ name: 'Bad Name', version: '1' }, [])).toThrow(/name must match/);
  });

  it('refuses artifacts that are not exactly the format', () => {
    const good = serializeVerdictList(
      verdictListOf(release, [{ path: 'x', text: `${h('a')} known-bad\n${h('b')} known-good` }]),
    );
    const text = new TextDecoder().decode(good);
    const cases: [string, Uint8Array][] = [
      ['not JSON', enc('{')],
      ['not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
      ['an array', enc('[]')],
      ['another schema', enc(text.replace('verdict-list/v1', 'verdict-list/v2'))],
      ['an extra field', enc(text.replace('"name"', '"extra": 1,\n  "name"'))],
      ['no version', enc(text.replace('"version": "1.0.0",', ''))],
      ['out of order', enc(text.replace(h('a'), h('c')))],
      ['a repeated hash', enc(text.replace(h('b'), h('a')))],
      ['a bad verdict', enc(text.replace('known-good', 'good'))],
      [
        'an extra verdict field',
        enc(text.replace('"verdict":"known-bad"', '"verdict":"known-bad","x":1')),
      ],
    ];
    for (const [what, bytes] of cases) {
      expect(() => parseVerdictList(bytes), what).toThrow(
        expect.objectContaining({ code: 'VERDICT_LIST_INVALID' }) as Error,
      );
    }
    expect(() => parseVerdictList(good, { name: 'demo-verdicts', version: '2.0.0' })).toThrow(
      /not demo-verdicts 2\.0\.0/,
    );
  });
});
