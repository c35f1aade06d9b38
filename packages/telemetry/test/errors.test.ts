import { CodedError, hasCode } from '@glasshouse/errors';
import { describe, expect, it } from 'vitest';
import { TelemetryError } from '@glasshouse/telemetry';

describe('TelemetryError', () => {
  it('is a CodedError carrying its code', () => {
    const err = new TelemetryError('BATCH_INVALID', 'not a batch');
    expect(err).toBeInstanceOf(CodedError);
    expect(hasCode(err, 'BATCH_INVALID')).toBe(true);
    expect(err.name).toBe('TelemetryError');
  });
});
