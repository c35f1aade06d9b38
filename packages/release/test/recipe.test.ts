import { describe, expect, it } from 'vitest';
import { codeOf } from '../../errors/test/codes.js';
import { MAX_RECIPE_BYTES, parseRecipe } from '../src/build/recipe.js';

const enc = new TextEncoder();
const rules = {
  schema: 'glasshouse.recipe/v1',
  kind: 'rules',
  name: 'demo-rules',
  version: '1.0.0',
  inputs: { rules: 'rules', samples: 'samples', clean: 'test/clean' },
};
const command = {
  schema: 'glasshouse.recipe/v1',
  kind: 'command',
  name: 'agent',
  version: '2.1.0-rc.1',
  commands: [
    ['npm', 'ci', '--offline'],
    ['npm', 'pack'],
  ],
  outputs: ['glasshouse-agent-2.1.0.tgz'],
};

const recipeCode = (value: unknown): string =>
  codeOf(() => parseRecipe(enc.encode(typeof value === 'string' ? value : JSON.stringify(value))));

describe('recipe', () => {
  it('parses both kinds', () => {
    expect(parseRecipe(enc.encode(JSON.stringify(rules)))).toEqual(rules);
    expect(parseRecipe(enc.encode(JSON.stringify(command)))).toEqual(command);
  });

  it.each([
    ['not JSON', '{', 'RECIPE_NOT_JSON'],
    ['too large', ' '.repeat(MAX_RECIPE_BYTES + 1), 'RECIPE_TOO_LARGE'],
    ['array', [], 'RECIPE_INVALID'],
    ['wrong schema', { ...rules, schema: 'v0' }, 'RECIPE_INVALID'],
    ['unknown kind', { ...rules, kind: 'docker' }, 'RECIPE_INVALID'],
    ['unknown field', { ...rules, extra: 1 }, 'RECIPE_UNKNOWN_FIELD'],
    ['unknown input', { ...rules, inputs: { ...rules.inputs, more: 'x' } }, 'RECIPE_UNKNOWN_FIELD'],
    ['missing input', { ...rules, inputs: { rules: 'r', samples: 's' } }, 'RECIPE_INVALID'],
    ['bad name', { ...rules, name: 'Demo Rules' }, 'RECIPE_BAD_NAME'],
    ['bad version', { ...rules, version: '1.0' }, 'RECIPE_BAD_VERSION'],
    ['leading zero', { ...rules, version: '01.0.0' }, 'RECIPE_BAD_VERSION'],
    ['absolute path', { ...rules, inputs: { ...rules.inputs, rules: '/etc' } }, 'RECIPE_BAD_PATH'],
    [
      'parent path',
      { ...rules, inputs: { ...rules.inputs, rules: 'a/../../b' } },
      'RECIPE_BAD_PATH',
    ],
    ['hidden path', { ...rules, inputs: { ...rules.inputs, rules: '.git' } }, 'RECIPE_BAD_PATH'],
    ['backslash', { ...rules, inputs: { ...rules.inputs, rules: 'a\\b' } }, 'RECIPE_BAD_PATH'],
    [
      'nested inputs',
      { ...rules, inputs: { ...rules.inputs, samples: 'rules/samples' } },
      'RECIPE_BAD_PATH',
    ],
    ['same inputs', { ...rules, inputs: { ...rules.inputs, samples: 'rules' } }, 'RECIPE_BAD_PATH'],
    ['string command', { ...command, commands: ['npm ci'] }, 'RECIPE_INVALID'],
    ['empty argv', { ...command, commands: [[]] }, 'RECIPE_INVALID'],
    ['NUL in argv', { ...command, commands: [['a\0b']] }, 'RECIPE_INVALID'],
    ['no outputs', { ...command, outputs: [] }, 'RECIPE_INVALID'],
    ['output escapes', { ...command, outputs: ['../x.tgz'] }, 'RECIPE_BAD_PATH'],
    [
      'output the build makes itself',
      { ...command, outputs: ['agent-2.1.0-rc.1.tgz', 'agent-2.1.0-rc.1.files.json'] },
      'RECIPE_INVALID',
    ],
    ['duplicate outputs', { ...command, outputs: ['a', 'a'] }, 'RECIPE_INVALID'],
    ['rules field on command', { ...command, inputs: rules.inputs }, 'RECIPE_UNKNOWN_FIELD'],
  ])('refuses %s', (_name, value, code) => {
    expect(recipeCode(value)).toBe(code);
  });
});
