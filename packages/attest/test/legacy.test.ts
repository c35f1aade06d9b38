import { describe, expect, it } from 'vitest';
import { canonicalString } from '../src/canonical.js';
import { signingKeyFromSeed } from '../src/keys.js';
import {
  type LayoutMetadata,
  type LinkMetadata,
  type Metablock,
  buildLayout,
  buildLink,
  formatExpires,
  linkFileName,
  parseLayoutMetablock,
  parseLinkMetablock,
  parseMetablock,
  serializeMetablock,
  signMetadata,
  verifyLayout,
  verifyMetablockSignature,
  verifyProduct,
  verifyStepLinks,
} from '../src/legacy.js';
import { codeOf } from '../../errors/test/codes.js';
import { readVector } from './vectors.js';

interface MetablockVector {
  metablock: Metablock;
  canonical: string;
}

const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n);
const builder = signingKeyFromSeed(seed(1));
const rebuilder = signingKeyFromSeed(seed(2));
const owner = signingKeyFromSeed(seed(3));
const stranger = signingKeyFromSeed(seed(9));

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const NOW = new Date('2026-01-01T00:00:00Z');

function vectorLayoutInput(): Parameters<typeof buildLayout>[0] {
  return {
    expires: new Date('2030-01-01T00:00:00Z'),
    readme: 'glasshouse test',
    steps: [
      {
        name: 'build',
        threshold: 2,
        functionaries: [builder.verifier, rebuilder.verifier],
        expectedMaterials: [['ALLOW', '*']],
        expectedProducts: [
          ['CREATE', 'app.tgz'],
          ['DISALLOW', '*'],
        ],
      },
    ],
    inspect: [
      {
        name: 'check-artifact',
        run: ['true'],
        expectedMaterials: [
          ['MATCH', 'app.tgz', 'WITH', 'PRODUCTS', 'FROM', 'build'],
          ['DISALLOW', '*'],
        ],
        expectedProducts: [],
      },
    ],
  };
}

function link(products: Record<string, string>): LinkMetadata {
  return buildLink({
    name: 'build',
    products: Object.fromEntries(Object.entries(products).map(([p, d]) => [p, { sha256: d }])),
  });
}

describe('legacy in-toto metadata against in-toto 1.3.1', () => {
  it('reproduces a link signed by in-toto byte for byte', () => {
    const v = readVector('legacy/build-link.json') as MetablockVector;
    const theirs = parseLinkMetablock(JSON.stringify(v.metablock));
    expect(canonicalString(theirs.signed)).toBe(v.canonical);
    const ours = signMetadata(
      buildLink({
        name: 'build',
        materials: { 'src/main.c': { sha256: 'aa'.repeat(32) } },
        products: { 'app.tgz': { sha256: 'bb'.repeat(32) } },
        byproducts: { 'return-value': 0, stdout: '', stderr: 'line "one"\n' },
        command: ['make', 'dist'],
      }),
      [builder],
    );
    expect(ours.signatures).toEqual(v.metablock.signatures);
    verifyMetablockSignature(theirs, builder.verifier);
  });

  it('reproduces a layout signed by in-toto byte for byte', () => {
    const v = readVector('legacy/root-layout.json') as MetablockVector;
    const theirs = parseLayoutMetablock(JSON.stringify(v.metablock));
    expect(canonicalString(theirs.signed)).toBe(v.canonical);
    const ours = signMetadata(buildLayout(vectorLayoutInput()), [owner]);
    expect(canonicalString(ours.signed)).toBe(v.canonical);
    expect(ours.signatures).toEqual(v.metablock.signatures);
    expect(verifyLayout(theirs, { layoutKeys: [owner.verifier], now: NOW })).toEqual(ours.signed);
  });

  it('names link files <step>.<keyid[:8]>.link', () => {
    expect(linkFileName('build', builder.keyid)).toBe(`build.${builder.keyid.slice(0, 8)}.link`);
  });

  it('round-trips through its own file format', () => {
    const signed = signMetadata(link({ 'app.tgz': A }), [builder]);
    const text = serializeMetablock(signed);
    expect(parseMetablock(text)).toEqual(signed);
    expect(parseMetablock(new TextEncoder().encode(text))).toEqual(signed);
  });

  it('writes expires as YYYY-MM-DDTHH:MM:SSZ', () => {
    expect(formatExpires(new Date('2030-06-07T08:09:10.999Z'))).toBe('2030-06-07T08:09:10Z');
  });
});

describe('layout verification', () => {
  const layout = signMetadata(buildLayout(vectorLayoutInput()), [owner]);

  it('needs a valid signature by every pinned layout key', () => {
    expect(codeOf(() => verifyLayout(layout, { layoutKeys: [owner.verifier], now: NOW }))).toBe(
      'accepted',
    );
    expect(codeOf(() => verifyLayout(layout, { layoutKeys: [stranger.verifier], now: NOW }))).toBe(
      'METADATA_SIGNATURE_INVALID',
    );
    expect(
      codeOf(() =>
        verifyLayout(layout, { layoutKeys: [owner.verifier, stranger.verifier], now: NOW }),
      ),
    ).toBe('METADATA_SIGNATURE_INVALID');
    expect(codeOf(() => verifyLayout(layout, { layoutKeys: [], now: NOW }))).toBe(
      'LAYOUT_VERIFY_OPTIONS_INVALID',
    );
    const relabelled: Metablock = {
      ...layout,
      signatures: [
        { keyid: owner.keyid, sig: signMetadata(layout.signed, [stranger]).signatures[0]!.sig },
      ],
    };
    expect(codeOf(() => verifyLayout(relabelled, { layoutKeys: [owner.verifier], now: NOW }))).toBe(
      'METADATA_SIGNATURE_INVALID',
    );
  });

  it('rejects a changed layout', () => {
    const changed: Metablock<LayoutMetadata> = {
      ...layout,
      signed: { ...layout.signed, readme: 'changed' },
    };
    expect(codeOf(() => verifyLayout(changed, { layoutKeys: [owner.verifier], now: NOW }))).toBe(
      'METADATA_SIGNATURE_INVALID',
    );
  });

  it('is valid through its expires second and expired after', () => {
    const at = (iso: string): unknown =>
      codeOf(() => verifyLayout(layout, { layoutKeys: [owner.verifier], now: new Date(iso) }));
    expect(at('2030-01-01T00:00:00Z')).toBe('accepted');
    expect(at('2030-01-01T00:00:00.001Z')).toBe('LAYOUT_EXPIRED');
  });

  it('refuses a link where a layout is expected', () => {
    const l = signMetadata(link({ 'app.tgz': A }), [owner]);
    expect(codeOf(() => verifyLayout(l, { layoutKeys: [owner.verifier], now: NOW }))).toBe(
      'METADATA_TYPE_MISMATCH',
    );
  });
});

describe('step verification (threshold 2: builder and rebuilder)', () => {
  const layout = buildLayout(vectorLayoutInput());
  const good = [
    signMetadata(link({ 'app.tgz': A }), [builder]),
    signMetadata(link({ 'app.tgz': A }), [rebuilder]),
  ];

  it('accepts two agreeing links from both functionaries', () => {
    const out = verifyStepLinks(layout, 'build', good);
    expect(out.functionaries).toEqual([builder.keyid, rebuilder.keyid].sort());
    expect(
      codeOf(() => {
        verifyProduct(out.link, 'app.tgz', { sha256: A });
      }),
    ).toBe('accepted');
    expect(
      codeOf(() => {
        verifyProduct(out.link, 'app.tgz', { sha256: B });
      }),
    ).toBe('LINK_PRODUCT_MISMATCH');
    expect(
      codeOf(() => {
        verifyProduct(out.link, 'other.tgz', { sha256: A });
      }),
    ).toBe('LINK_PRODUCT_MISMATCH');
  });

  it('refuses a missing rebuilder link', () => {
    expect(codeOf(() => verifyStepLinks(layout, 'build', [good[0]!]))).toBe(
      'STEP_THRESHOLD_NOT_MET',
    );
  });

  it('counts a functionary once, and ignores strangers and bad signatures', () => {
    const twice = [good[0]!, signMetadata(link({ 'app.tgz': A }), [builder])];
    expect(codeOf(() => verifyStepLinks(layout, 'build', twice))).toBe('STEP_THRESHOLD_NOT_MET');
    const strangerLink = signMetadata(link({ 'app.tgz': A }), [stranger]);
    expect(codeOf(() => verifyStepLinks(layout, 'build', [good[0]!, strangerLink]))).toBe(
      'STEP_THRESHOLD_NOT_MET',
    );
    const forged: Metablock = {
      signed: link({ 'app.tgz': B }),
      signatures: good[1]!.signatures,
    };
    expect(codeOf(() => verifyStepLinks(layout, 'build', [good[0]!, forged]))).toBe(
      'STEP_THRESHOLD_NOT_MET',
    );
  });

  it('refuses links that disagree on the product', () => {
    const other = signMetadata(link({ 'app.tgz': B }), [rebuilder]);
    expect(codeOf(() => verifyStepLinks(layout, 'build', [good[0]!, other]))).toBe(
      'STEP_LINKS_DISAGREE',
    );
  });

  it('refuses an unknown step', () => {
    expect(codeOf(() => verifyStepLinks(layout, 'package', good))).toBe('LAYOUT_STEP_NOT_FOUND');
  });
});

describe('strict parsing of legacy metadata', () => {
  const linkBlock = JSON.parse(
    serializeMetablock(signMetadata(link({ 'app.tgz': A }), [builder])),
  ) as {
    signed: Record<string, unknown>;
    signatures: Record<string, unknown>[];
  };
  const layoutBlock = JSON.parse(
    serializeMetablock(signMetadata(buildLayout(vectorLayoutInput()), [owner])),
  ) as { signed: LayoutMetadata & Record<string, unknown> };

  it('refuses malformed link files with codes', () => {
    const cases: [unknown, string][] = [
      [[], 'METADATA_MALFORMED'],
      [{ ...linkBlock, extra: 1 }, 'METADATA_FIELD_INVALID'],
      [{ signed: linkBlock.signed }, 'METADATA_FIELD_INVALID'],
      [{ ...linkBlock, signatures: {} }, 'METADATA_FIELD_INVALID'],
      [{ ...linkBlock, signatures: [{ keyid: 'AB', sig: 'ab' }] }, 'METADATA_FIELD_INVALID'],
      [{ ...linkBlock, signatures: [{ keyid: 'ab', sig: 'AB' }] }, 'METADATA_FIELD_INVALID'],
      [{ ...linkBlock, signed: { ...linkBlock.signed, _type: 'Link' } }, 'METADATA_MALFORMED'],
      [{ ...linkBlock, signed: { ...linkBlock.signed, extra: 1 } }, 'METADATA_FIELD_INVALID'],
      [{ ...linkBlock, signed: { ...linkBlock.signed, name: '' } }, 'METADATA_FIELD_INVALID'],
      [
        { ...linkBlock, signed: { ...linkBlock.signed, command: 'make' } },
        'METADATA_FIELD_INVALID',
      ],
      [
        { ...linkBlock, signed: { ...linkBlock.signed, products: { x: { sha256: 'zz' } } } },
        'METADATA_FIELD_INVALID',
      ],
      [
        { ...linkBlock, signed: { ...linkBlock.signed, products: { x: { custom: 'not-hex' } } } },
        'METADATA_FIELD_INVALID',
      ],
      [
        { ...linkBlock, signed: { ...linkBlock.signed, byproducts: { t: 1.5 } } },
        'METADATA_FIELD_INVALID',
      ],
    ];
    for (const [value, code] of cases) {
      expect(
        codeOf(() => parseMetablock(JSON.stringify(value))),
        JSON.stringify(value),
      ).toBe(code);
    }
    expect(codeOf(() => parseMetablock('{'))).toBe('METADATA_MALFORMED');
    expect(codeOf(() => parseMetablock('{}', { maxSize: 1 }))).toBe('METADATA_TOO_LARGE');
    expect(codeOf(() => parseLayoutMetablock(JSON.stringify(linkBlock)))).toBe(
      'METADATA_TYPE_MISMATCH',
    );
  });

  it('refuses malformed layouts with codes', () => {
    const signed = layoutBlock.signed;
    const [step] = signed.steps;
    const [inspection] = signed.inspect;
    const keyid = builder.keyid;
    const key = signed.keys[keyid]!;
    const cases: Record<string, unknown>[] = [
      { ...signed, expires: '2030-01-01' },
      { ...signed, expires: '2030-02-30T00:00:00Z' },
      { ...signed, expires: '2030-01-01T00:00:00.000Z' },
      { ...signed, readme: 1 },
      { ...signed, keys: { ...signed.keys, [keyid]: { ...key, keyid: rebuilder.keyid } } },
      { ...signed, keys: { ...signed.keys, [keyid]: { ...key, comment: 'x' } } },
      { ...signed, steps: [{ ...step, threshold: 3 }] },
      { ...signed, steps: [{ ...step, threshold: 0 }] },
      { ...signed, steps: [{ ...step, pubkeys: [keyid, keyid] }] },
      { ...signed, steps: [{ ...step, pubkeys: [stranger.keyid] }] },
      { ...signed, steps: [{ ...step, expected_products: [['CREATE']] }] },
      { ...signed, steps: [{ ...step, expected_products: [['MAKE', 'x']] }] },
      {
        ...signed,
        steps: [{ ...step, expected_products: [['MATCH', 'x', 'WITH', 'LINKS', 'FROM', 's']] }],
      },
      { ...signed, steps: [{ ...step, expected_products: [['MATCH', 'x', 'FROM', 's']] }] },
      { ...signed, steps: [step, step] },
      { ...signed, inspect: [{ ...inspection, name: 'build' }] },
      { ...signed, inspect: [{ ...inspection, run: 'true' }] },
      { ...signed, inspect: [{ ...inspection, _type: 'step' }] },
    ];
    for (const bad of cases) {
      expect(
        codeOf(() => parseMetablock(JSON.stringify({ ...layoutBlock, signed: bad }))),
        JSON.stringify(bad),
      ).toMatch(/^(METADATA_FIELD_INVALID|KEY_ID_MISMATCH)$/);
    }
    // Every documented MATCH shape is accepted, case-insensitively.
    const shapes = [
      ['MATCH', '*', 'WITH', 'PRODUCTS', 'FROM', 'build'],
      ['match', '*', 'in', 'a', 'with', 'materials', 'from', 'build'],
      ['MATCH', '*', 'WITH', 'PRODUCTS', 'IN', 'b', 'FROM', 'build'],
      ['MATCH', '*', 'IN', 'a', 'WITH', 'PRODUCTS', 'IN', 'b', 'FROM', 'build'],
    ];
    const ok = { ...signed, steps: [{ ...step, expected_materials: shapes }] };
    expect(codeOf(() => parseMetablock(JSON.stringify({ ...layoutBlock, signed: ok })))).toBe(
      'accepted',
    );
  });

  it('refuses building invalid metadata and bad signers', () => {
    expect(codeOf(() => buildLink({ name: '' }))).toBe('METADATA_FIELD_INVALID');
    expect(
      codeOf(() =>
        buildLayout({
          ...vectorLayoutInput(),
          steps: [{ ...vectorLayoutInput().steps[0]!, threshold: 3 }],
        }),
      ),
    ).toBe('METADATA_FIELD_INVALID');
    expect(codeOf(() => signMetadata(link({ 'app.tgz': A }), []))).toBe('METADATA_SIGNER_INVALID');
    expect(codeOf(() => signMetadata(link({ 'app.tgz': A }), [builder, builder]))).toBe(
      'METADATA_SIGNER_INVALID',
    );
  });
});
