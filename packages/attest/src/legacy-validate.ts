/**
 * Field checks of legacy in-toto metadata (in-toto-spec §4.3–§4.4): exactly the
 * fields in-toto 1.3.1 rebuilds and signs, pure.
 */
import { canonicalString } from './canonical.js';
import { AttestError } from './errors.js';
import { type Fail, isRecord, requireDigestSet } from './fields.js';
import { publicKeyFromKeyDict } from './keys.js';
import type { LayoutMetadata, LinkMetadata, SignedMetadata } from './legacy-types.js';

export const LOWER_HEX = /^[0-9a-f]+$/;
// securesystemslib ISO8601_DATETIME_SCHEMA, written exactly.
const EXPIRES = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const GENERIC_RULES = new Set(['create', 'modify', 'delete', 'allow', 'disallow', 'require']);

export const fail: Fail = (_kind, path, reason) => {
  throw new AttestError('METADATA_FIELD_INVALID', `${path}: ${reason}`, { evidence: { path } });
};
export function validateSigned(value: unknown): SignedMetadata {
  if (!isRecord(value)) fail('invalid', 'signed', 'not an object');
  switch (value._type) {
    case 'link':
      return validateLink(value);
    case 'layout':
      return validateLayout(value);
    default:
      throw new AttestError('METADATA_MALFORMED', 'signed._type is not link or layout', {
        evidence: { _type: value._type },
      });
  }
}

export function validateLink(value: unknown): LinkMetadata {
  const at = 'signed';
  if (!isRecord(value)) fail('invalid', at, 'not an object');
  exactFields(
    value,
    ['_type', 'name', 'materials', 'products', 'byproducts', 'command', 'environment'],
    at,
  );
  if (value._type !== 'link') fail('invalid', `${at}._type`, 'not link');
  nonEmptyString(value.name, `${at}.name`);
  artifactMap(value.materials, `${at}.materials`);
  artifactMap(value.products, `${at}.products`);
  canonicalObject(value.byproducts, `${at}.byproducts`);
  stringList(value.command, `${at}.command`);
  canonicalObject(value.environment, `${at}.environment`);
  return value as unknown as LinkMetadata;
}

export function validateLayout(value: unknown): LayoutMetadata {
  const at = 'signed';
  if (!isRecord(value)) fail('invalid', at, 'not an object');
  exactFields(value, ['_type', 'expires', 'readme', 'keys', 'steps', 'inspect'], at);
  if (value._type !== 'layout') fail('invalid', `${at}._type`, 'not layout');
  if (
    typeof value.expires !== 'string' ||
    !EXPIRES.test(value.expires) ||
    Number.isNaN(Date.parse(value.expires)) ||
    formatExpires(new Date(value.expires)) !== value.expires
  ) {
    fail('invalid', `${at}.expires`, 'not YYYY-MM-DDTHH:MM:SSZ');
  }
  if (typeof value.readme !== 'string') fail('invalid', `${at}.readme`, 'not a string');
  if (!isRecord(value.keys)) fail('invalid', `${at}.keys`, 'not an object');
  for (const [keyid, dict] of Object.entries(value.keys)) {
    const path = `${at}.keys.${keyid}`;
    if (!isRecord(dict)) fail('invalid', path, 'not a key dict');
    exactFields(dict, ['keyid', 'keytype', 'scheme', 'keyid_hash_algorithms', 'keyval'], path);
    if (!isRecord(dict.keyval)) fail('invalid', `${path}.keyval`, 'not an object');
    exactFields(dict.keyval, ['public'], `${path}.keyval`);
    // Key IDs are checked against the key: a mislabelled key would let one
    // functionary count under another's name.
    const key = publicKeyFromKeyDict(dict);
    if (key.keyid !== keyid) fail('invalid', path, 'listed under another keyid');
  }
  if (!Array.isArray(value.steps)) fail('invalid', `${at}.steps`, 'not an array');
  if (!Array.isArray(value.inspect)) fail('invalid', `${at}.inspect`, 'not an array');
  const names = new Set<string>();
  const unique = (name: string, path: string): void => {
    // in-toto 1.3.1 _validate_steps_and_inspections: names unique across both.
    if (names.has(name)) fail('invalid', path, 'duplicate step or inspection name');
    names.add(name);
  };
  const keys = value.keys;
  value.steps.forEach((step: unknown, i) => {
    const path = `${at}.steps[${i}]`;
    if (!isRecord(step)) fail('invalid', path, 'not an object');
    exactFields(
      step,
      [
        '_type',
        'name',
        'threshold',
        'pubkeys',
        'expected_command',
        'expected_materials',
        'expected_products',
      ],
      path,
    );
    if (step._type !== 'step') fail('invalid', `${path}._type`, 'not step');
    unique(nonEmptyString(step.name, `${path}.name`), `${path}.name`);
    const pubkeys = stringList(step.pubkeys, `${path}.pubkeys`);
    for (const keyid of pubkeys) {
      if (!Object.hasOwn(keys, keyid)) fail('invalid', `${path}.pubkeys`, 'key not in keys');
    }
    if (new Set(pubkeys).size !== pubkeys.length) {
      fail('invalid', `${path}.pubkeys`, 'duplicate keyid');
    }
    const threshold = step.threshold;
    if (
      typeof threshold !== 'number' ||
      !Number.isSafeInteger(threshold) ||
      threshold < 1 ||
      threshold > pubkeys.length
    ) {
      fail('invalid', `${path}.threshold`, 'not an integer 1..pubkeys');
    }
    stringList(step.expected_command, `${path}.expected_command`);
    rules(step.expected_materials, `${path}.expected_materials`);
    rules(step.expected_products, `${path}.expected_products`);
  });
  value.inspect.forEach((inspection: unknown, i) => {
    const path = `${at}.inspect[${i}]`;
    if (!isRecord(inspection)) fail('invalid', path, 'not an object');
    exactFields(
      inspection,
      ['_type', 'name', 'run', 'expected_materials', 'expected_products'],
      path,
    );
    if (inspection._type !== 'inspection') fail('invalid', `${path}._type`, 'not inspection');
    unique(nonEmptyString(inspection.name, `${path}.name`), `${path}.name`);
    stringList(inspection.run, `${path}.run`);
    rules(inspection.expected_materials, `${path}.expected_materials`);
    rules(inspection.expected_products, `${path}.expected_products`);
  });
  // The signature is over canonical JSON, so everything must encode.
  canonicalObject(value, at);
  return value as unknown as LayoutMetadata;
}

/** in-toto-spec §4.3.3 artifact rules, in the shapes in-toto 1.3.1 rulelib.unpack_rule accepts. */
function rules(value: unknown, path: string): void {
  if (!Array.isArray(value)) fail('invalid', path, 'not a list of rules');
  value.forEach((rule: unknown, i) => {
    const at = `${path}[${i}]`;
    const words = stringList(rule, at).map((w) => w.toLowerCase());
    const [type] = words;
    if (words.length === 2 && type !== undefined && GENERIC_RULES.has(type)) return;
    if (type !== 'match') fail('invalid', at, 'unknown rule');
    // MATCH <pattern> [IN <src>] WITH (MATERIALS|PRODUCTS) [IN <dst>] FROM <step>
    const shape = words.map((w, j) => (j % 2 === 0 && j > 0 ? w : '_')).join(' ');
    const destination =
      {
        '_ _ with _ from _': words[3],
        '_ _ in _ with _ from _': words[5],
        '_ _ with _ in _ from _': words[3],
        '_ _ in _ with _ in _ from _': words[5],
      }[shape] ?? '';
    if (destination !== 'materials' && destination !== 'products') {
      fail(
        'invalid',
        at,
        'not MATCH <pattern> [IN <src>] WITH MATERIALS|PRODUCTS [IN <dst>] FROM <step>',
      );
    }
  });
}

function artifactMap(value: unknown, path: string): void {
  if (!isRecord(value)) fail('invalid', path, 'not an object');
  for (const [artifact, digests] of Object.entries(value)) {
    // securesystemslib HASHDICT_SCHEMA: every value is hex, whatever the algorithm.
    const set = requireDigestSet(digests, `${path}.${artifact}`, fail);
    for (const [algorithm, digest] of Object.entries(set)) {
      if (!LOWER_HEX.test(digest)) fail('invalid', `${path}.${artifact}.${algorithm}`, 'not hex');
    }
  }
}

function canonicalObject(value: unknown, path: string): void {
  if (!isRecord(value)) fail('invalid', path, 'not an object');
  try {
    canonicalString(value);
  } catch (cause) {
    throw new AttestError('METADATA_FIELD_INVALID', `${path}: not canonical-JSON encodable`, {
      cause,
      evidence: { path },
    });
  }
}

function stringList(value: unknown, path: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    fail('invalid', path, 'not a list of strings');
  }
  return value;
}

function nonEmptyString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') fail('invalid', path, 'not a non-empty string');
  return value;
}

export function exactFields(
  value: Record<string, unknown>,
  fields: readonly string[],
  path: string,
): void {
  for (const field of fields) {
    if (!Object.hasOwn(value, field))
      fail('invalid', `${path}.${field}`.replace(/^\./, ''), 'missing');
  }
  for (const field of Object.keys(value)) {
    if (!fields.includes(field)) {
      fail('invalid', `${path}.${field}`.replace(/^\./, ''), 'unknown field');
    }
  }
}

/** A layout's `expires`: ISO 8601 `YYYY-MM-DDTHH:MM:SSZ`, whole seconds. */
export function formatExpires(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid Date');
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
