// The page side of the benchmark: the same work, exposed for page.evaluate.
import { runWork } from './work.js';

(globalThis as { benchWork?: typeof runWork }).benchWork = runWork;
