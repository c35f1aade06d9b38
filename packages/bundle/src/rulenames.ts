import { BundleError } from './errors.js';

/**
 * The yara-x JavaScript API cannot list the rules it compiled, so the build
 * finds the declared rule names with this small lexer over YARA source:
 * comments, text strings, hex strings and regular expressions are skipped, and
 * at top level `[private|global]* rule NAME` is collected. The result is
 * checked against both engines: every sample match reported by yara-x must be
 * a declared name, and Debian `yara` (when installed) must report exactly the
 * same public names.
 */
export interface DeclaredRule {
  readonly name: string;
  readonly isPrivate: boolean;
  readonly isGlobal: boolean;
  /** The rule's text: from its first modifier (or `rule`) to its closing brace. */
  readonly text: string;
}

const IDENT = /[A-Za-z0-9_]/;

export function declaredRules(text: string, file: string): DeclaredRule[] {
  const out: { -readonly [K in keyof DeclaredRule]: DeclaredRule[K] }[] = [];
  let ruleStart = -1; // where the rule being declared starts
  let open = -1; // the index in `out` of the rule whose closing brace is still to come
  const syntax = (message: string): BundleError =>
    new BundleError('RULES_SYNTAX', `${file}: ${message}`, { evidence: { file } });
  let i = 0;
  let depth = 0;
  let previous = ''; // last significant token, to tell a regex from a division
  let modifiers: string[] = [];
  let expectName = false;
  while (i < text.length) {
    const c = text[i] ?? '';
    const next = text[i + 1] ?? '';
    if (/\s/.test(c)) {
      i++;
    } else if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end + 1;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end === -1) throw syntax('unterminated comment');
      i = end + 2;
    } else if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      if (i >= text.length) throw syntax('unterminated string');
      i++;
      previous = '"';
    } else if (c === '/' && depth > 0 && (previous === '=' || previous === 'matches')) {
      i++;
      let inClass = false;
      while (i < text.length && (inClass || text[i] !== '/')) {
        if (text[i] === '\\') i++;
        else if (text[i] === '[') inClass = true;
        else if (text[i] === ']') inClass = false;
        i++;
      }
      if (i >= text.length) throw syntax('unterminated regular expression');
      i++;
      previous = '/';
    } else if (IDENT.test(c)) {
      const start = i;
      while (i < text.length && IDENT.test(text[i] ?? '')) i++;
      const word = text.slice(start, i);
      if (depth === 0) {
        if (!expectName && ruleStart < 0 && ['rule', 'private', 'global'].includes(word)) {
          ruleStart = start;
        }
        if (expectName) {
          open = out.length;
          out.push({
            name: word,
            isPrivate: modifiers.includes('private'),
            isGlobal: modifiers.includes('global'),
            text: text.slice(ruleStart),
          });
          ruleStart = -1;
          expectName = false;
          modifiers = [];
        } else if (word === 'rule') {
          expectName = true;
        } else if (word === 'private' || word === 'global') {
          modifiers.push(word);
        } else if (word === 'include') {
          throw new BundleError(
            'RULES_SYNTAX',
            `${file}: include is not allowed; a bundle is self-contained`,
            {
              evidence: { file },
            },
          );
        }
      }
      previous = word;
    } else {
      if (c === '{') depth++;
      if (c === '}') {
        depth--;
        if (depth < 0) throw syntax('unbalanced braces');
        const rule = out[open];
        if (depth === 0 && rule !== undefined) {
          rule.text = rule.text.slice(0, rule.text.length - (text.length - i - 1));
          open = -1;
        }
      }
      previous = c;
      i++;
    }
  }
  return out;
}
