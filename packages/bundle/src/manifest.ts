import { BundleError } from './errors.js';

/**
 * The `manifest.json` at the root of every rules bundle: what the bundle
 * holds (each file's SHA-256), which engine it was tested with, and the
 * self-test an endpoint must pass after installing it.
 */
export const MANIFEST_SCHEMA = 'glasshouse.rules-bundle/v1';
export const MANIFEST_PATH = 'manifest.json';

export interface SelfTestCase {
  /** Bundle path of the file to scan. */
  readonly sample: string;
  /** Sorted names of the rules that must match it, and no others; `[]` for clean files. */
  readonly expect: readonly string[];
}

export interface RulesManifest {
  readonly schema: typeof MANIFEST_SCHEMA;
  readonly name: string;
  readonly version: string;
  /** The `SOURCE_DATE_EPOCH` used for every mtime in the bundle. */
  readonly sourceDateEpoch: number;
  /** Engine name → version the self-test passed with (`yara-x` always). */
  readonly engines: Readonly<Record<string, string>>;
  /** Rule sources, in the order they are compiled (one namespace). */
  readonly rules: readonly string[];
  /** Every public rule name the sources declare, sorted. */
  readonly ruleNames: readonly string[];
  /** Bundle path → lowercase hex SHA-256, for every file except the manifest. */
  readonly files: Readonly<Record<string, string>>;
  readonly selfTest: readonly SelfTestCase[];
}

/**
 * Deterministic JSON: object keys sorted by code unit, two-space indent,
 * trailing newline. Written by hand because `JSON.stringify` puts
 * integer-like keys first whatever the insertion order.
 */
export function canonicalJson(value: unknown): string {
  return `${encode(value, '')}\n`;
}

function encode(value: unknown, indent: string): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new BundleError('MANIFEST_INVALID', 'non-finite number');
    return JSON.stringify(value);
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((v: unknown) => `${inner}${encode(v, inner)}`);
    return `[\n${items.join(',\n')}\n${indent}]`;
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort();
    if (keys.length === 0) return '{}';
    const record = value as Record<string, unknown>;
    const items = keys.map((k) => `${inner}${JSON.stringify(k)}: ${encode(record[k], inner)}`);
    return `{\n${items.join(',\n')}\n${indent}}`;
  }
  throw new BundleError('MANIFEST_INVALID', `cannot encode a ${typeof value}`);
}

export function serializeManifest(manifest: RulesManifest): Uint8Array {
  return new TextEncoder().encode(canonicalJson(manifest));
}

const HEX64 = /^[0-9a-f]{64}$/;
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

function invalid(message: string): BundleError {
  return new BundleError('MANIFEST_INVALID', `manifest.json: ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringArray(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) {
    throw invalid(`${what} must be an array of strings`);
  }
  return v;
}

/**
 * Parses and shape-checks a manifest. It must be in canonical form (the bytes
 * equal {@link serializeManifest} of the parsed value), so one bundle has one
 * manifest encoding.
 */
export function parseManifest(bytes: Uint8Array): RulesManifest {
  if (bytes.length > MAX_MANIFEST_BYTES) throw invalid('too large');
  let text: string;
  let raw: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    raw = JSON.parse(text);
  } catch (cause) {
    throw new BundleError('MANIFEST_INVALID', 'manifest.json is not UTF-8 JSON', { cause });
  }
  if (!isRecord(raw)) throw invalid('not an object');
  const known = [
    'engines',
    'files',
    'name',
    'ruleNames',
    'rules',
    'schema',
    'selfTest',
    'sourceDateEpoch',
    'version',
  ];
  for (const key of Object.keys(raw))
    if (!known.includes(key)) throw invalid(`unknown field ${key}`);
  const { schema, name, version, sourceDateEpoch, engines, files, selfTest } = raw;
  if (schema !== MANIFEST_SCHEMA) throw invalid(`schema must be ${MANIFEST_SCHEMA}`);
  if (typeof name !== 'string' || typeof version !== 'string')
    throw invalid('name and version must be strings');
  if (
    typeof sourceDateEpoch !== 'number' ||
    !Number.isSafeInteger(sourceDateEpoch) ||
    sourceDateEpoch < 0
  ) {
    throw invalid('sourceDateEpoch must be a non-negative integer');
  }
  if (!isRecord(engines) || !Object.values(engines).every((v) => typeof v === 'string')) {
    throw invalid('engines must map names to version strings');
  }
  if (
    !isRecord(files) ||
    !Object.values(files).every((v) => typeof v === 'string' && HEX64.test(v))
  ) {
    throw invalid('files must map paths to hex SHA-256 digests');
  }
  const rules = stringArray(raw.rules, 'rules');
  const ruleNames = stringArray(raw.ruleNames, 'ruleNames');
  if (!Array.isArray(selfTest)) throw invalid('selfTest must be an array');
  const cases: SelfTestCase[] = selfTest.map((c: unknown) => {
    if (!isRecord(c) || typeof c.sample !== 'string' || Object.keys(c).length !== 2) {
      throw invalid('each selfTest case is { sample, expect }');
    }
    return { sample: c.sample, expect: stringArray(c.expect, 'selfTest expect') };
  });
  for (const path of [...rules, ...cases.map((c) => c.sample)]) {
    if (!Object.hasOwn(files, path)) throw invalid(`${path} is not listed in files`);
  }
  const manifest: RulesManifest = {
    schema: MANIFEST_SCHEMA,
    name,
    version,
    sourceDateEpoch,
    engines: engines as Record<string, string>,
    rules,
    ruleNames,
    files: files as Record<string, string>,
    selfTest: cases,
  };
  if (canonicalJson(manifest) !== text) throw invalid('not in canonical form');
  return manifest;
}
