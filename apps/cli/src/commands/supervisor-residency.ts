/**
 * The supervisor's part of the data path: `supervisor key-release init`
 * (the X25519 key pair personal fields are sealed to; the private key never
 * leaves the supervisor's directory) and `supervisor sign-policy` (its
 * co-signature of a residency policy version).
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parsePolicy } from '@glasshouse/residency';
import { readSmallFile, UsageError, type Io } from '../io.js';
import {
  ensureKeyReleaseKey,
  KEY_RELEASE_PRIVATE,
  KEY_RELEASE_PUBLIC,
  partyKey,
} from '../residency/parties.js';
import { envelopeOf, signPolicy } from '../residency/policy-files.js';

function supervisorCommand(program: Command): Command {
  const found = program.commands.find((c) => c.name() === 'supervisor');
  if (found === undefined) throw new Error('register the supervisor commands first');
  return found;
}

export function registerSupervisorResidencyCommands(program: Command, io: Io): void {
  const supervisor = supervisorCommand(program);
  const keyRelease = supervisor
    .command('key-release')
    .description(
      "The supervisor's key-release key: endpoints seal the personal fields of telemetry to it",
    );

  keyRelease
    .command('init')
    .description(
      `Create the key-release X25519 key pair in DIR: ${KEY_RELEASE_PRIVATE} (base64, mode 0600, stays here) and ` +
        `${KEY_RELEASE_PUBLIC} (base64, what the trust bundle carries to endpoints). Prints the key id; an ` +
        'existing pair is kept',
    )
    .requiredOption('--dir <dir>', 'the key-release directory, e.g. data/supervisor/key-release')
    .action(async (opts: { dir: string }) => {
      const dir = resolve(io.cwd, opts.dir);
      const made = await ensureKeyReleaseKey(dir);
      io.stdout(
        `key-release ${made.keyId} ${made.created ? 'created' : 'kept'}\npublic ${join(dir, KEY_RELEASE_PUBLIC)}\n`,
      );
    });

  supervisor
    .command('sign-policy')
    .description(
      "Co-sign a residency policy version with the supervisor's residency key, after printing what it maps " +
        '(the vendor signs with "residency policy sign"). Refusals: RESIDENCY_POLICY_MISMATCH, POLICY_INVALID',
    )
    .requiredOption('--payload <file>', 'the drafted payload')
    .requiredOption('--key <file>', "the supervisor's residency signing key (Ed25519 PKCS#8 PEM)")
    .requiredOption(
      '--envelope <file>',
      'the envelope to add the signature to (created when missing)',
    )
    .action(async (opts: { payload: string; key: string; envelope: string }) => {
      const payload = await readFile(resolve(io.cwd, opts.payload)).catch((cause: unknown) => {
        throw new UsageError(`cannot read ${opts.payload}`, { cause });
      });
      const policy = parsePolicy(payload);
      io.stderr(
        `policy v${policy.version}: ${Object.entries(policy.regions)
          .map(([r, s]) => `${r}->${s}`)
          .join(' ')}${policy.default === undefined ? '' : ` *->${policy.default}`}\n`,
      );
      const path = resolve(io.cwd, opts.envelope);
      const existing = existsSync(path) ? await readSmallFile(path, 128 * 1024) : undefined;
      const text = signPolicy(payload, await partyKey(resolve(io.cwd, opts.key)), existing);
      await writeFile(path, text);
      io.stdout(
        `signed ${opts.envelope} (${envelopeOf(text).envelope.signatures.length} signatures)\n`,
      );
    });
}
