import { LengthOrHashMismatchError, UnsignedMetadataError } from '@tufjs/models/dist/error.js';
import {
  BadVersionError,
  DownloadHTTPError,
  DownloadLengthMismatchError,
  EqualVersionError,
  ExpiredMetadataError,
  RuntimeError,
} from 'tuf-js/dist/error.js';
import { describe, expect, it } from 'vitest';
import { agentErrorFromTuf } from '../src/tuf-failures.js';

// tuf-js's and @tufjs/models's own error classes: the classification reads classes.
const code = (
  err: unknown,
  stage: 'metadata' | 'target' = 'metadata',
  fetchFailure?: unknown,
): string => agentErrorFromTuf(err, stage, fetchFailure).code;

describe('agentErrorFromTuf', () => {
  it('maps tuf-js error classes', () => {
    expect(
      code(new BadVersionError('New timestamp version 1 is less than current version 2')),
    ).toBe('AGENT_TUF_ROLLBACK');
    expect(code(new EqualVersionError('x is less than current version y'))).toBe(
      'AGENT_TUF_ROLLBACK',
    );
    expect(code(new BadVersionError("Snapshot version doesn't match timestamp"))).toBe(
      'AGENT_TUF_MIX_AND_MATCH',
    );
    expect(code(new ExpiredMetadataError('Final timestamp.json is expired'))).toBe(
      'AGENT_TUF_EXPIRED',
    );
    expect(code(new DownloadLengthMismatchError('Max length reached'))).toBe('AGENT_TUF_TOO_LARGE');
    expect(code(new UnsignedMetadataError('root was signed by 1/2 keys'))).toBe(
      'AGENT_TUF_SIGNATURES',
    );
    expect(code(new LengthOrHashMismatchError('Expected hash a but got b'), 'target')).toBe(
      'AGENT_TUF_TARGET_MISMATCH',
    );
    expect(code(new LengthOrHashMismatchError('Expected hash a but got b'))).toBe(
      'AGENT_TUF_MIX_AND_MATCH',
    );
    // A network failure is fetch's TypeError, known as the fetcher's own failure.
    const refused = new TypeError('fetch failed');
    expect(code(refused, 'metadata', refused)).toBe('AGENT_TUF_FETCH_FAILED');
    expect(code(new DownloadHTTPError('Failed to download', 404))).toBe('AGENT_TUF_FETCH_FAILED');
    expect(
      code(new ReferenceError('No snapshot metadata', { cause: new ExpiredMetadataError('x') })),
    ).toBe('AGENT_TUF_EXPIRED');
    expect(code(new Error('something else'))).toBe('AGENT_TUF_METADATA_INVALID');
  });

  it('maps failures tuf-js wraps in a RuntimeError: transfers by class, checks by message', () => {
    const wrapped = (inner: string): RuntimeError =>
      new RuntimeError(`Unable to load targets error Error: ${inner}`);
    expect(code(wrapped('releases was signed by 1/2 keys'))).toBe('AGENT_TUF_SIGNATURES');
    expect(code(wrapped('releases.json is expired'))).toBe('AGENT_TUF_EXPIRED');
    expect(code(wrapped('Version 2 of releases does not match snapshot version 3'))).toBe(
      'AGENT_TUF_MIX_AND_MATCH',
    );
    expect(
      code(
        wrapped('Max length reached'),
        'metadata',
        new DownloadLengthMismatchError('Max length reached'),
      ),
    ).toBe('AGENT_TUF_TOO_LARGE');
    expect(
      code(
        wrapped('Failed to download'),
        'metadata',
        new DownloadHTTPError('Failed to download', 500),
      ),
    ).toBe('AGENT_TUF_FETCH_FAILED');
    expect(code(wrapped('New version 1 of targets.json is less than current version 2'))).toBe(
      'AGENT_TUF_ROLLBACK',
    );
    expect(
      code(
        new RuntimeError(
          'Unable to load snapshot metadata error Error: Expected length 9 but got 3',
        ),
      ),
    ).toBe('AGENT_TUF_MIX_AND_MATCH');
  });
});
