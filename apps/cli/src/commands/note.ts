import type { Command } from 'commander';
import { openNote, parseSignerKey, parseVerifierKey, signNote } from '@glasshouse/tlog';
import { MAX_KEY_FILE_BYTES, readSmallFile, type Io } from '../io.js';

/** Notes are small: a checkpoint is a few hundred bytes. */
const MAX_NOTE_BYTES = 1 << 20;

export function registerNoteCommands(program: Command, io: Io): void {
  const note = program.command('note').description('Sign and verify C2SP signed notes');

  note
    .command('sign')
    .description('Sign the text read from stdin and print the signed note')
    .requiredOption('--key-file <file>', 'file holding a PRIVATE+KEY+… signer key')
    .action(async (opts: { keyFile: string }) => {
      const signer = parseSignerKey((await readSmallFile(opts.keyFile, MAX_KEY_FILE_BYTES)).trim());
      const text = Buffer.from(await io.readStdin(MAX_NOTE_BYTES)).toString('utf8');
      io.stdout(signNote(text, [signer]));
    });

  note
    .command('verify')
    .description(
      'Read a signed note from stdin; print its text when at least one given key verifies it (exit 0), else print the error code (exit 1)',
    )
    .requiredOption('--vkey <vkey...>', 'verifier key name+hexid+base64 (repeatable)')
    .action(async (opts: { vkey: string[] }) => {
      const verifiers = opts.vkey.map((k) => parseVerifierKey(k));
      const opened = openNote(await io.readStdin(MAX_NOTE_BYTES), verifiers);
      io.stdout(opened.text);
    });
}
