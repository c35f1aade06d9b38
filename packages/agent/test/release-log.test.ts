import { describe, expect, it } from 'vitest';
import { checkConsistency } from '../src/release-log.js';
import type { SeenCheckpoint } from '../src/state.js';
import { rejectionCode } from '../../errors/test/codes.js';

const cp = (size: number, rootHash: string): SeenCheckpoint => ({
  origin: 'example.org/log',
  size: String(size),
  rootHash,
  note: `example.org/log\n${size}\n${rootHash}\n`,
});
const ROOT_A = Buffer.alloc(32, 1).toString('base64');
const ROOT_B = Buffer.alloc(32, 2).toString('base64');
const noProofs = (): Promise<Uint8Array[]> => Promise.reject(new Error('unreachable'));

describe('checkConsistency', () => {
  it('accepts the first checkpoint and the same one again', async () => {
    expect(await checkConsistency(undefined, cp(3, ROOT_A), noProofs)).toEqual(cp(3, ROOT_A));
    expect(await checkConsistency(cp(3, ROOT_A), cp(3, ROOT_A), noProofs)).toEqual(cp(3, ROOT_A));
  });

  it('refuses two trees of one size, another origin, and a proof that does not verify', async () => {
    expect(await rejectionCode(checkConsistency(cp(3, ROOT_A), cp(3, ROOT_B), noProofs))).toBe(
      'AGENT_LOG_FORK',
    );
    expect(
      await rejectionCode(
        checkConsistency(cp(3, ROOT_A), { ...cp(3, ROOT_A), origin: 'other' }, noProofs),
      ),
    ).toBe('AGENT_LOG_FORK');
    const bogus = (): Promise<Uint8Array[]> => Promise.resolve([new Uint8Array(32).fill(9)]);
    expect(await rejectionCode(checkConsistency(cp(1, ROOT_A), cp(2, ROOT_B), bogus))).toBe(
      'AGENT_LOG_FORK',
    );
    expect(await rejectionCode(checkConsistency(cp(1, ROOT_A), cp(2, ROOT_B), noProofs))).toBe(
      'AGENT_LOG_UNREACHABLE',
    );
  });
});
