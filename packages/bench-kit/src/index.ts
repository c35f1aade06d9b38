export {
  type Child,
  freePort,
  killChildren,
  onStop,
  reportFailure,
  reportReady,
  startChild,
  withBenchDir,
} from './children.js';
export { measure, rawSha256Rate } from './rate.js';
export { type RateRow, formatRate, formatTable, printRateTable } from './table.js';
