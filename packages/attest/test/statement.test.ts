import { describe, expect, it } from 'vitest';
import { parseEnvelope, serializeEnvelope, signEnvelope } from '../src/dsse.js';
import { signingKeyFromSeed } from '../src/keys.js';
import {
  IN_TOTO_PAYLOAD_TYPE,
  STATEMENT_TYPE_V1,
  buildStatement,
  digestSetsMatch,
  parseStatement,
  serializeStatement,
  signStatement,
  subjectMatches,
  validateStatement,
  verifyStatementEnvelope,
  verifySubject,
} from '../src/statement.js';
import { codeOf } from '../../errors/test/codes.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const builder = signingKeyFromSeed(new Uint8Array(32).fill(1));
const supervisor = signingKeyFromSeed(new Uint8Array(32).fill(2));

const statement = buildStatement({
  subject: [{ name: 'app.tgz', digest: { sha256: A } }],
  predicateType: 'https://example.com/predicate/v1',
  predicate: { note: 'hi' },
});

describe('in-toto Statement v1', () => {
  it('builds a Statement that validates and survives serialisation', () => {
    expect(statement._type).toBe(STATEMENT_TYPE_V1);
    const bytes = serializeStatement(statement);
    expect(parseStatement(bytes)).toEqual(statement);
    // Keys sorted: equal Statements, equal bytes.
    expect(Buffer.from(bytes).toString()).toMatch(
      /^\{"_type":.*"predicate":.*"predicateType":.*"subject":/,
    );
  });

  it('ignores unknown fields (parsing rules) but checks known ones', () => {
    const extra = { ...statement, example_extension: { x: 1 } };
    expect(codeOf(() => validateStatement(extra))).toBe('accepted');
    expect(codeOf(() => validateStatement({ ...statement, predicate: undefined }))).toBe(
      'accepted',
    );
  });

  it('refuses missing and mistyped fields with codes', () => {
    const cases: [unknown, string][] = [
      ['str', 'STATEMENT_MALFORMED'],
      [{ ...statement, _type: 'https://in-toto.io/Statement/v0.1' }, 'STATEMENT_TYPE_UNSUPPORTED'],
      [{ ...statement, subject: undefined }, 'STATEMENT_FIELD_MISSING'],
      [{ ...statement, subject: [] }, 'STATEMENT_FIELD_MISSING'],
      [{ ...statement, subject: {} }, 'STATEMENT_FIELD_INVALID'],
      [{ ...statement, subject: [{ name: 'x' }] }, 'STATEMENT_FIELD_MISSING'],
      [{ ...statement, subject: [{ uri: 'https://x.example/a' }] }, 'STATEMENT_FIELD_MISSING'],
      [{ ...statement, subject: [{ name: 1, digest: { sha256: A } }] }, 'STATEMENT_FIELD_INVALID'],
      [{ ...statement, subject: [{ digest: {} }] }, 'STATEMENT_FIELD_MISSING'],
      [
        { ...statement, subject: [{ digest: { sha256: 'A'.repeat(64) } }] },
        'STATEMENT_FIELD_INVALID',
      ],
      [
        { ...statement, subject: [{ digest: { sha256: 'a'.repeat(63) } }] },
        'STATEMENT_FIELD_INVALID',
      ],
      [{ ...statement, subject: [{ digest: { sha256: 1 } }] }, 'STATEMENT_FIELD_INVALID'],
      [
        { ...statement, subject: [{ digest: { sha256: A }, content: '!!' }] },
        'STATEMENT_FIELD_INVALID',
      ],
      [{ ...statement, predicateType: undefined }, 'STATEMENT_FIELD_MISSING'],
      [{ ...statement, predicateType: 'not a uri' }, 'STATEMENT_FIELD_INVALID'],
      [{ ...statement, predicateType: 'HTTPS://x.example/' }, 'STATEMENT_FIELD_INVALID'],
      [{ ...statement, predicate: [] }, 'STATEMENT_FIELD_INVALID'],
    ];
    for (const [value, code] of cases) {
      expect(
        codeOf(() => validateStatement(value)),
        JSON.stringify(value),
      ).toBe(code);
    }
  });

  it('accepts other digest algorithms by their own rules', () => {
    const s = {
      ...statement,
      subject: [
        { digest: { gitCommit: 'c'.repeat(40) } },
        { digest: { sha512: 'd'.repeat(128), custom: 'whatever' } },
      ],
    };
    expect(codeOf(() => validateStatement(s))).toBe('accepted');
  });

  it('parses payload bytes strictly', () => {
    expect(codeOf(() => parseStatement(Uint8Array.of(0xff)))).toBe('STATEMENT_MALFORMED');
    expect(codeOf(() => parseStatement(new TextEncoder().encode('[')))).toBe('STATEMENT_MALFORMED');
    expect(codeOf(() => parseStatement(serializeStatement(statement), 10))).toBe(
      'STATEMENT_TOO_LARGE',
    );
  });
});

describe('Statement envelopes, verified with public keys only', () => {
  it('signs and verifies', () => {
    const envelope = parseEnvelope(serializeEnvelope(signStatement(statement, [builder])));
    expect(envelope.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE);
    const out = verifyStatementEnvelope(envelope, {
      keys: [builder.verifier],
      predicateType: 'https://example.com/predicate/v1',
    });
    expect(out.statement).toEqual(statement);
    expect(out.verifiedBy).toEqual([builder.verifier]);
  });

  it('refuses the wrong key, payload type or predicate type', () => {
    const envelope = signStatement(statement, [builder]);
    expect(codeOf(() => verifyStatementEnvelope(envelope, { keys: [supervisor.verifier] }))).toBe(
      'ENVELOPE_THRESHOLD_NOT_MET',
    );
    expect(
      codeOf(() =>
        verifyStatementEnvelope(envelope, {
          keys: [builder.verifier],
          predicateType: 'https://slsa.dev/provenance/v1',
        }),
      ),
    ).toBe('STATEMENT_PREDICATE_TYPE_MISMATCH');
    const other = signEnvelope('application/json', serializeStatement(statement), [builder]);
    expect(codeOf(() => verifyStatementEnvelope(other, { keys: [builder.verifier] }))).toBe(
      'ENVELOPE_PAYLOAD_TYPE_UNSUPPORTED',
    );
    const notStatement = signEnvelope(IN_TOTO_PAYLOAD_TYPE, new TextEncoder().encode('{}'), [
      builder,
    ]);
    expect(codeOf(() => verifyStatementEnvelope(notStatement, { keys: [builder.verifier] }))).toBe(
      'STATEMENT_TYPE_UNSUPPORTED',
    );
  });

  it('accepts the predicate-specific in-toto payload type', () => {
    const envelope = signEnvelope(
      'application/vnd.in-toto.provenance+json',
      serializeStatement(statement),
      [builder],
    );
    expect(codeOf(() => verifyStatementEnvelope(envelope, { keys: [builder.verifier] }))).toBe(
      'accepted',
    );
  });
});

describe('subject matching', () => {
  it('matches by digest and, when asked, by name', () => {
    expect(subjectMatches(statement, undefined, { sha256: A })).toBe(true);
    expect(subjectMatches(statement, 'app.tgz', { sha256: A })).toBe(true);
    expect(subjectMatches(statement, 'other.tgz', { sha256: A })).toBe(false);
    expect(subjectMatches(statement, undefined, { sha256: B })).toBe(false);
    expect(
      codeOf(() => {
        verifySubject(statement, 'app.tgz', { sha256: B });
      }),
    ).toBe('STATEMENT_SUBJECT_NOT_FOUND');
  });

  it('needs a shared accepted algorithm and no disagreement', () => {
    expect(digestSetsMatch({ sha256: A, sha512: 'c'.repeat(128) }, { sha256: A })).toBe(true);
    expect(digestSetsMatch({ sha256: A }, { sha512: 'c'.repeat(128) })).toBe(false);
    expect(
      digestSetsMatch(
        { sha256: A, sha512: 'c'.repeat(128) },
        { sha256: A, sha512: 'd'.repeat(128) },
      ),
    ).toBe(false);
    // md5 and sha1 are not accepted for matching (digest_set.md guidelines).
    expect(digestSetsMatch({ md5: 'e'.repeat(32) }, { md5: 'e'.repeat(32) })).toBe(false);
  });
});
