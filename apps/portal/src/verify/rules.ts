/**
 * The rules of a rules release, read from its bundle (a ustar archive whose
 * bytes the TUF releases role pinned) with @glasshouse/bundle's pure format
 * readers, and the difference between two versions: rules added, removed,
 * and changed (same name, other text).
 */
import { sha256Hex } from '@glasshouse/attest';
import { declaredRules, MANIFEST_PATH, parseManifest, readTar } from '@glasshouse/bundle/format';
import { CodedError } from '@glasshouse/errors';

export interface RuleText {
  readonly file: string;
  readonly text: string;
}

/** Every rule of a bundle by name (private and global ones included), each file checked against the manifest. */
export function rulesOfBundle(bytes: Uint8Array): Map<string, RuleText> {
  const files = new Map(readTar(bytes).map((f) => [f.path, f.data]));
  const manifestBytes = files.get(MANIFEST_PATH);
  if (manifestBytes === undefined)
    throw new CodedError('PORTAL_NOT_A_RULES_BUNDLE', `the bundle has no ${MANIFEST_PATH}`);
  const manifest = parseManifest(manifestBytes);
  const out = new Map<string, RuleText>();
  for (const file of manifest.rules) {
    const data = files.get(file);
    if (data === undefined || sha256Hex(data) !== manifest.files[file]) {
      throw new CodedError(
        'PORTAL_RULES_FILE_MISMATCH',
        `${file} is missing from the bundle or not the SHA-256 its manifest lists`,
      );
    }
    const text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    for (const rule of declaredRules(text, file)) out.set(rule.name, { file, text: rule.text });
  }
  return out;
}

export interface RuleChange {
  readonly name: string;
  readonly before: RuleText;
  readonly after: RuleText;
}

export interface RuleDiff {
  readonly added: readonly (RuleText & { readonly name: string })[];
  readonly removed: readonly (RuleText & { readonly name: string })[];
  readonly changed: readonly RuleChange[];
  readonly unchanged: number;
}

/** Whitespace does not change a rule (YARA ignores it outside strings; a moved line is not a change). */
const normal = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** The rules of `to` against those of `from`, each list sorted by name. */
export function diffRules(
  from: ReadonlyMap<string, RuleText>,
  to: ReadonlyMap<string, RuleText>,
): RuleDiff {
  const names = (m: ReadonlyMap<string, RuleText>) => [...m.keys()].sort();
  const added = names(to)
    .filter((n) => !from.has(n))
    .map((name) => ({ name, ...(to.get(name) as RuleText) }));
  const removed = names(from)
    .filter((n) => !to.has(n))
    .map((name) => ({ name, ...(from.get(name) as RuleText) }));
  const changed: RuleChange[] = [];
  let unchanged = 0;
  for (const name of names(to)) {
    const before = from.get(name);
    const after = to.get(name);
    if (before === undefined || after === undefined) continue;
    if (normal(before.text) === normal(after.text)) unchanged++;
    else changed.push({ name, before, after });
  }
  return { added, removed, changed, unchanged };
}
