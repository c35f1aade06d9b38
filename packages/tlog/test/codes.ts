import { codeOf as sharedCodeOf } from '../../errors/test/codes.js';
import type { TlogErrorCode } from '../src/errors.js';

/** The shared `codeOf`, typed with tlog's codes so that a misspelt code fails to compile. */
export const codeOf = (run: () => unknown): TlogErrorCode | 'accepted' =>
  sharedCodeOf(run) as TlogErrorCode | 'accepted';
