// The shared helper, under the name these tests use.
export { rejectionCode as codeOf } from '../../errors/test/codes.js';
