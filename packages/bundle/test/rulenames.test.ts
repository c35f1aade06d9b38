import { describe, expect, it } from 'vitest';
import { declaredRules } from '../src/rulenames.js';

describe('declared rule names', () => {
  it('skips comments, strings, hex strings and regular expressions', () => {
    const src = `
      import "math"
      // rule commented_out { condition: true }
      /* rule also_commented { } */
      private rule helper { condition: true }
      global private rule g { condition: true }
      rule a : tag1 tag2 {
        meta: note = "rule fake { }"
        strings:
          $h = { 7B [1-2] 7D }
          $r = /\\{rule nope \\}[}]/
        condition: helper and ($h or $r) and filesize / 2 > 1 and "x" matches /}/
      }
      rule b { condition: true }`;
    const rules = declaredRules(src, 'f.yar');
    expect(
      rules.map((r) => ({ name: r.name, isPrivate: r.isPrivate, isGlobal: r.isGlobal })),
    ).toEqual([
      { name: 'helper', isPrivate: true, isGlobal: false },
      { name: 'g', isPrivate: true, isGlobal: true },
      { name: 'a', isPrivate: false, isGlobal: false },
      { name: 'b', isPrivate: false, isGlobal: false },
    ]);
    // Each rule's text, modifiers to closing brace (braces in strings and regexes do not end it).
    expect(rules[0]?.text).toBe('private rule helper { condition: true }');
    expect(rules[1]?.text).toBe('global private rule g { condition: true }');
    expect(rules[2]?.text).toMatch(/^rule a : tag1 tag2 \{\n[^]*matches \/\}\/\n {6}\}$/);
    expect(rules[3]?.text).toBe('rule b { condition: true }');
  });

  it('refuses include and unterminated constructs', () => {
    expect(() => declaredRules('include "other.yar"', 'f.yar')).toThrow(/include/);
    expect(() => declaredRules('rule a { condition: "x }', 'f.yar')).toThrow(/unterminated/);
  });
});
