// Re-exports for tests, and a helper that asserts a coded failure.
import { expect } from 'vitest';
import { hasCode } from '@glasshouse/errors';
import type { ResidencyErrorCode } from '../src/index.js';

export * from '../src/index.js';
export { hasCode };

/** Runs `fn` and asserts it throws a ResidencyError with `code`; returns the error. */
export function expectCode(
  fn: () => unknown,
  code: ResidencyErrorCode,
): Error & { evidence?: unknown } {
  try {
    fn();
  } catch (err) {
    expect((err as { code?: unknown }).code, (err as Error).message).toBe(code);
    expect(hasCode(err, code)).toBe(true);
    return err as Error & { evidence?: unknown };
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

/** The async form of expectCode. */
export async function expectCodeAsync(
  fn: () => Promise<unknown>,
  code: ResidencyErrorCode,
): Promise<Error & { evidence?: unknown }> {
  try {
    await fn();
  } catch (err) {
    expect((err as { code?: unknown }).code, (err as Error).message).toBe(code);
    return err as Error & { evidence?: unknown };
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

/** JSON text bytes of any value (for hand-made, possibly invalid inputs). */
export function utf8Json(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value)}\n`);
}
