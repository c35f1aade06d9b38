// Durable, atomic file operations.
export {
  ensureDirDurably,
  isErrno,
  readFileUpTo,
  removeFileDurably,
  syncDir,
  writeFileDurably,
  writeNewFileDurably,
} from './durable.js';
