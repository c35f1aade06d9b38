// Durable, atomic file operations.
export {
  ensureDirDurably,
  isErrno,
  removeFileDurably,
  syncDir,
  writeFileDurably,
  writeNewFileDurably,
} from './durable.js';
