import type { KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { formatCallersFile, jwkThumbprint } from '@glasshouse/httpsig';
import { generateSignerKey } from '@glasshouse/tlog';
import {
  allowListOf,
  collect,
  newCallerKeyPem,
  readCallerPublicKey,
  readCallersFiles,
} from '../callers.js';
import { writeSecretFile, type Io } from '../io.js';

export function registerKeyCommands(program: Command, io: Io): void {
  const keys = program
    .command('keys')
    .description(
      'Caller keys: every write to a service is signed (RFC 9421, Ed25519) by a key on its callers list',
    );

  keys
    .command('new')
    .description(
      "Create a caller key (PKCS#8 PEM, mode 0600) in FILE; prints 'keyid <id>' (the RFC 7638 thumbprint services know it by) and the public key PEM",
    )
    .requiredOption('--out <file>', 'where to write the key; must not exist')
    .action(async (opts: { out: string }) => {
      const path = resolve(io.cwd, opts.out);
      await writeSecretFile(path, newCallerKeyPem());
      io.stdout(describeKey(await readCallerPublicKey(path)));
    });

  keys
    .command('show')
    .description(
      "Print 'keyid <id>' and the public key PEM of FILE: a caller key, a log's log.key, or a public key PEM",
    )
    .argument('<file>', 'the key file')
    .action(async (file: string) => {
      io.stdout(describeKey(await readCallerPublicKey(resolve(io.cwd, file))));
    });

  keys
    .command('caller')
    .description(
      'Print a callers file (for "serve --callers") allowing the key in FILE the given write routes, ' +
        "e.g. --allow 'POST /releases'",
    )
    .requiredOption('--name <name>', 'who the caller is, for logs and listings')
    .requiredOption('--allow <route>', 'a write route, METHOD /path (repeatable)', collect)
    .argument('<file>', 'the caller key file (private or public)')
    .action(async (file: string, opts: { name: string; allow: string[] }) => {
      const publicKey = await readCallerPublicKey(resolve(io.cwd, file));
      io.stdout(
        formatCallersFile(allowListOf([{ name: opts.name, publicKey, allow: opts.allow }])),
      );
    });

  keys
    .command('accepted')
    .description(
      "List the callers in callers files: '<name> <keyid> <routes>' per caller (a service also " +
        'accepts its own operator key, and lists every caller on stderr when it starts)',
    )
    .argument('<file...>', 'callers files')
    .action(async (files: string[]) => {
      const list = allowListOf(await readCallersFiles(files.map((f) => resolve(io.cwd, f))));
      io.stdout(
        list
          .list()
          .map((c) => `${c.name} ${c.keyid} ${c.allow.join(', ')}\n`)
          .join(''),
      );
    });

  program
    .command('keygen')
    .description(
      'Generate an Ed25519 signed-note key: writes the PRIVATE+KEY+… signer key to FILE (mode 0600) and prints the verifier key',
    )
    .requiredOption('--name <name>', 'key name (for a log: its origin)')
    .requiredOption('--out <file>', 'where to write the signer key; must not exist')
    .action(async (opts: { name: string; out: string }) => {
      const { signerKey, verifierKey } = generateSignerKey(opts.name);
      await writeSecretFile(opts.out, `${signerKey}\n`);
      io.stdout(`${verifierKey}\n`);
    });
}

function describeKey(key: KeyObject): string {
  return `keyid ${jwkThumbprint(key)}\n${key.export({ type: 'spki', format: 'pem' }).toString()}`;
}
