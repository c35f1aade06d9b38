import { productFilesName } from '@glasshouse/release-format';
import { ReleaseError, type ReleaseErrorCode } from '../errors.js';

/**
 * Release recipes: the small JSON file (conventionally `glasshouse-recipe.json`
 * at the root of the source repository) that says what a release is built
 * from and what it produces. Parsing is strict: unknown fields, unsafe paths
 * and malformed names or versions are refused with coded errors.
 */
export const RECIPE_FILE = 'glasshouse-recipe.json';
export const RECIPE_SCHEMA = 'glasshouse.recipe/v1';
export const MAX_RECIPE_BYTES = 64 * 1024;
export const MAX_COMMANDS = 64;
export const MAX_ARGS = 256;
export const MAX_ARG_BYTES = 4096;
export const MAX_OUTPUTS = 256;
export const MAX_PATH_BYTES = 255;

/** `rules`: YARA sources, one sample directory per rule, clean files. */
export interface RulesRecipe {
  readonly schema: typeof RECIPE_SCHEMA;
  readonly kind: 'rules';
  readonly name: string;
  readonly version: string;
  readonly inputs: {
    /** Directory searched recursively for `*.yar` files. */
    readonly rules: string;
    /** Holds `<rule name>/<file>` for every public rule. */
    readonly samples: string;
    /** Files that must match no rule. */
    readonly clean: string;
  };
}

/** `command`: argv arrays run in order in the sandbox (no shell unless argv names one). */
export interface CommandRecipe {
  readonly schema: typeof RECIPE_SCHEMA;
  readonly kind: 'command';
  readonly name: string;
  readonly version: string;
  readonly commands: readonly (readonly string[])[];
  /** Relative paths, under the build's output directory, that the build must produce. */
  readonly outputs: readonly string[];
}

/** `verdicts`: a vendor verdict list from plain-text sources (release-format's verdict-list). */
export interface VerdictsRecipe {
  readonly schema: typeof RECIPE_SCHEMA;
  readonly kind: 'verdicts';
  readonly name: string;
  readonly version: string;
  readonly inputs: {
    /** Directory searched recursively for `*.txt` files of `<sha256> <verdict>` lines. */
    readonly lists: string;
  };
}

export type Recipe = RulesRecipe | CommandRecipe | VerdictsRecipe;

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
// Semantic Versioning 2.0.0 core plus optional pre-release, no build metadata.
const VERSION =
  /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;
// Path segments are portable file names: no Unicode, so no normalisation surprises.
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

function fail(code: ReleaseErrorCode, message: string, evidence?: Record<string, unknown>): never {
  throw new ReleaseError(code, `recipe: ${message}`, evidence === undefined ? {} : { evidence });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyFields(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key))
      fail('RECIPE_UNKNOWN_FIELD', `unknown field ${where}${key}`, { field: key });
  }
  for (const key of allowed) {
    if (!Object.hasOwn(obj, key))
      fail('RECIPE_INVALID', `missing field ${where}${key}`, { field: key });
  }
}

/**
 * Checks a recipe path: relative, `/`-separated, each segment a portable file
 * name (letters, digits, `._-`, not starting with `.` or `-`), so `..`,
 * absolute paths, backslashes and hidden files are all refused.
 */
export function parseRelativePath(value: unknown, field: string): string {
  if (typeof value !== 'string') fail('RECIPE_INVALID', `${field} must be a string`, { field });
  if (value.length === 0 || value.length > MAX_PATH_BYTES) {
    fail('RECIPE_BAD_PATH', `${field} must be 1..${MAX_PATH_BYTES} characters`, {
      field,
      path: value,
    });
  }
  if (value.startsWith('/'))
    fail('RECIPE_BAD_PATH', `${field} is absolute: ${value}`, { field, path: value });
  for (const segment of value.split('/')) {
    if (!SEGMENT.test(segment)) {
      fail('RECIPE_BAD_PATH', `${field} has an unsafe segment ${JSON.stringify(segment)}`, {
        field,
        path: value,
      });
    }
  }
  return value;
}

function parseName(value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    fail('RECIPE_BAD_NAME', 'name must match [a-z0-9][a-z0-9._-]{0,63}', { name: value });
  }
  return value;
}

function parseVersion(value: unknown): string {
  if (typeof value !== 'string' || value.length > 64 || !VERSION.test(value)) {
    fail('RECIPE_BAD_VERSION', 'version must be MAJOR.MINOR.PATCH[-PRERELEASE]', {
      version: value,
    });
  }
  return value;
}

function parseCommands(value: unknown): string[][] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_COMMANDS) {
    fail('RECIPE_INVALID', `commands must be 1..${MAX_COMMANDS} argv arrays`);
  }
  return value.map((argv: unknown, i) => {
    if (!Array.isArray(argv) || argv.length === 0 || argv.length > MAX_ARGS) {
      fail(
        'RECIPE_INVALID',
        `commands[${i}] must be a non-empty argv array of at most ${MAX_ARGS}`,
      );
    }
    return argv.map((arg: unknown, j) => {
      if (typeof arg !== 'string' || arg.length > MAX_ARG_BYTES || arg.includes('\0')) {
        fail(
          'RECIPE_INVALID',
          `commands[${i}][${j}] must be a string without NUL, at most ${MAX_ARG_BYTES}`,
        );
      }
      if (j === 0 && arg.length === 0) fail('RECIPE_INVALID', `commands[${i}][0] is empty`);
      return arg;
    });
  });
}

function parseOutputs(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_OUTPUTS) {
    fail('RECIPE_INVALID', `outputs must be 1..${MAX_OUTPUTS} paths`);
  }
  const outputs = value.map((p: unknown, i) => parseRelativePath(p, `outputs[${i}]`));
  if (new Set(outputs).size !== outputs.length) fail('RECIPE_INVALID', 'outputs has duplicates');
  return outputs;
}

/** Parses recipe bytes (UTF-8 JSON, at most {@link MAX_RECIPE_BYTES}). */
export function parseRecipe(bytes: Uint8Array): Recipe {
  if (bytes.length > MAX_RECIPE_BYTES) {
    fail('RECIPE_TOO_LARGE', `${bytes.length} bytes, limit ${MAX_RECIPE_BYTES}`, {
      size: bytes.length,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new ReleaseError('RECIPE_NOT_JSON', 'recipe: not UTF-8 JSON', { cause });
  }
  if (!isRecord(raw)) fail('RECIPE_INVALID', 'top level must be an object');
  if (raw.schema !== RECIPE_SCHEMA) fail('RECIPE_INVALID', `schema must be ${RECIPE_SCHEMA}`);
  switch (raw.kind) {
    case 'rules': {
      onlyFields(raw, ['schema', 'kind', 'name', 'version', 'inputs'], '');
      const inputs = raw.inputs;
      if (!isRecord(inputs)) fail('RECIPE_INVALID', 'inputs must be an object');
      onlyFields(inputs, ['rules', 'samples', 'clean'], 'inputs.');
      const parsed = {
        rules: parseRelativePath(inputs.rules, 'inputs.rules'),
        samples: parseRelativePath(inputs.samples, 'inputs.samples'),
        clean: parseRelativePath(inputs.clean, 'inputs.clean'),
      };
      const dirs = Object.values(parsed);
      for (const a of dirs) {
        for (const b of dirs) {
          if (a !== b && (b.startsWith(`${a}/`) || a === b)) {
            fail('RECIPE_BAD_PATH', `inputs overlap: ${a} contains ${b}`);
          }
        }
      }
      if (new Set(dirs).size !== dirs.length)
        fail('RECIPE_BAD_PATH', 'inputs must be distinct directories');
      return {
        schema: RECIPE_SCHEMA,
        kind: 'rules',
        name: parseName(raw.name),
        version: parseVersion(raw.version),
        inputs: parsed,
      };
    }
    case 'command': {
      onlyFields(raw, ['schema', 'kind', 'name', 'version', 'commands', 'outputs'], '');
      const name = parseName(raw.name);
      const version = parseVersion(raw.version);
      const outputs = parseOutputs(raw.outputs);
      // The build writes the product's file manifest itself (build/product-files.ts).
      if (outputs.includes(productFilesName({ name, version }))) {
        fail(
          'RECIPE_INVALID',
          `outputs: ${productFilesName({ name, version })} is made by the build`,
        );
      }
      return {
        schema: RECIPE_SCHEMA,
        kind: 'command',
        name,
        version,
        commands: parseCommands(raw.commands),
        outputs,
      };
    }
    case 'verdicts': {
      onlyFields(raw, ['schema', 'kind', 'name', 'version', 'inputs'], '');
      const inputs = raw.inputs;
      if (!isRecord(inputs)) fail('RECIPE_INVALID', 'inputs must be an object');
      onlyFields(inputs, ['lists'], 'inputs.');
      return {
        schema: RECIPE_SCHEMA,
        kind: 'verdicts',
        name: parseName(raw.name),
        version: parseVersion(raw.version),
        inputs: { lists: parseRelativePath(inputs.lists, 'inputs.lists') },
      };
    }
    default:
      fail('RECIPE_INVALID', 'kind must be "rules", "command" or "verdicts"', { kind: raw.kind });
  }
}
