import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { clientOptions } from '../callers.js';
import {
  publicKeyFromKeyDict,
  publicKeyFromPem,
  publicKeyToPem,
  sha256Hex,
  type PublicKey,
} from '@glasshouse/attest';
import { CodedError } from '@glasshouse/errors';
import {
  AssemblyClient,
  fetchReleaseKit,
  inTotoVerifyArgs,
  verifyReleaseKit,
  writeReleaseKit,
  type ReleaseRecord,
} from '@glasshouse/release';
import { MAX_KEY_FILE_BYTES, readSmallFile, UsageError, type Io } from '../io.js';

const IN_TOTO_VERIFY = 'in-toto-verify';
const IN_TOTO_VERIFY_TIMEOUT_MS = 60_000;

export function registerReleaseCommands(program: Command, io: Io): void {
  const release = program
    .command('release')
    .description('Request and inspect releases on an assembly line');

  release
    .command('build')
    .description(
      'Build COMMIT of GIT_URL on the assembly line (progress on stderr); prints the release id and the artifact digests',
    )
    .requiredOption('--assembly <url>', 'the assembly line, e.g. http://127.0.0.1:8470')
    .requiredOption('--source <git-url>', 'the source repository (URL or absolute path)')
    .requiredOption('--commit <sha>', 'the full 40-hex commit to build')
    .requiredOption(
      '--key <file>',
      "a release engineer's key (PKCS#8 PEM) the assembly line accepts build requests from",
    )
    .action(async (opts: { assembly: string; source: string; commit: string; key: string }) => {
      const client = new AssemblyClient(
        opts.assembly,
        await clientOptions(resolve(io.cwd, opts.key)),
      );
      const record = await client.build(opts.source, opts.commit, (line) => {
        io.stderr(`${line}\n`);
      });
      io.stdout(formatRelease(record));
    });

  release
    .command('show')
    .description('Print a release record as JSON')
    .requiredOption('--assembly <url>', 'the assembly line')
    .argument('<id>', 'the release id')
    .action(async (id: string, opts: { assembly: string }) => {
      const record = await new AssemblyClient(opts.assembly).getRelease(id);
      io.stdout(`${JSON.stringify(record, null, 2)}\n`);
    });

  release
    .command('verify')
    .description(
      'Check an approved release as an endpoint does, with public keys only: its layout is signed by the ' +
        'pinned layout key and unexpired, the builder and the supervisor both signed a build link, and every ' +
        "delivered artifact is a product of that step. Prints 'verified <id> <name> <version>' and " +
        "'artifact <sha256> <name>' lines. --out DIR also writes the kit for the real in-toto-verify and " +
        "prints 'kit <dir>' and 'run <command>'; --in-toto-verify runs it too",
    )
    .argument('<id>', 'the release id')
    .requiredOption('--assembly <url>', 'the assembly line, e.g. http://127.0.0.1:8470')
    .requiredOption(
      '--layout-key <file>',
      'the layout public key, pinned out of band: PEM, or a securesystemslib ed25519 .pub JSON file',
    )
    .option(
      '--out <dir>',
      'write the layout, key, links and delivered files here for in-toto-verify',
    )
    .option('--in-toto-verify', 'also run in-toto-verify on the written kit (needs --out)')
    .action(
      async (
        id: string,
        opts: { assembly: string; layoutKey: string; out?: string; inTotoVerify?: boolean },
      ) => {
        if (opts.inTotoVerify === true && opts.out === undefined) {
          throw new UsageError('--in-toto-verify needs --out DIR');
        }
        const layoutKey = await readLayoutKey(resolve(io.cwd, opts.layoutKey));
        const client = new AssemblyClient(opts.assembly);
        const kit = await fetchReleaseKit(client, id);
        verifyReleaseKit(kit, { layoutKey, now: new Date() });
        const { record } = kit;
        const lines = [`verified ${record.id} ${record.name} ${record.version}`];
        for (const a of kit.artifacts) {
          lines.push(`artifact ${sha256Hex(a.bytes)} ${a.name}`);
        }
        if (opts.out !== undefined) {
          const dir = resolve(io.cwd, opts.out);
          const { deliveryDir } = await writeReleaseKit(kit, dir, layoutKey);
          lines.push(`kit ${dir}`);
          lines.push(
            `run cd ${shellQuote(deliveryDir)} && ${[IN_TOTO_VERIFY, ...inTotoVerifyArgs()].join(' ')}`,
          );
          io.stdout(`${lines.join('\n')}\n`);
          if (opts.inTotoVerify === true) {
            await runInTotoVerify(deliveryDir, io);
            io.stdout('in-toto-verify passed\n');
          }
          return;
        }
        io.stdout(`${lines.join('\n')}\n`);
      },
    );

  release
    .command('layout-key')
    .description(
      'Print the layout public key (PEM) the assembly line reports, and its keyid on stderr. A convenience ' +
        'only: an endpoint must pin the layout key out of band (from the vendor, checked by the supervisor), ' +
        'never trust what the service it checks hands out',
    )
    .requiredOption('--assembly <url>', 'the assembly line, e.g. http://127.0.0.1:8470')
    .action(async (opts: { assembly: string }) => {
      const info = await new AssemblyClient(opts.assembly).layoutKey();
      const key = publicKeyFromPem(info.publicKeyPem);
      io.stdout(publicKeyToPem(key));
      io.stderr(`layout-key: keyid ${key.keyid} as reported by ${opts.assembly}\n`);
    });
}

/** A layout key file: an SPKI PEM, or securesystemslib's ed25519 `.pub` JSON. */
export async function readLayoutKey(path: string): Promise<PublicKey> {
  const text = await readSmallFile(path, MAX_KEY_FILE_BYTES);
  try {
    return text.includes('-----BEGIN')
      ? publicKeyFromPem(text)
      : publicKeyFromKeyDict(JSON.parse(text) as unknown);
  } catch (cause) {
    throw new UsageError(
      `${path} is not an Ed25519 public key (PEM or securesystemslib .pub JSON): ${(cause as Error).message}`,
      { cause },
    );
  }
}

/**
 * Runs the real in-toto-verify in `cwd` (no shell). Its output goes to stderr
 * when it fails: IN_TOTO_VERIFY_FAILED on a non-zero exit (or a timeout),
 * IN_TOTO_VERIFY_MISSING when it is not installed.
 */
function runInTotoVerify(cwd: string, io: Io): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      IN_TOTO_VERIFY,
      inTotoVerifyArgs(),
      { cwd, timeout: IN_TOTO_VERIFY_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) {
          resolvePromise();
          return;
        }
        if (error.code === 'ENOENT') {
          reject(
            new CodedError(
              'IN_TOTO_VERIFY_MISSING',
              `${IN_TOTO_VERIFY} is not installed (Debian and Ubuntu: apt-get install in-toto)`,
              { cause: error },
            ),
          );
          return;
        }
        const output = `${stdout}${stderr}`;
        if (output !== '') io.stderr(output.endsWith('\n') ? output : `${output}\n`);
        const how =
          typeof error.code === 'number'
            ? `exited with ${error.code}`
            : error.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER'
              ? 'wrote more output than expected and was stopped'
              : error.killed
                ? `did not finish within ${IN_TOTO_VERIFY_TIMEOUT_MS / 1000} s`
                : `failed: ${error.message}`;
        reject(
          new CodedError('IN_TOTO_VERIFY_FAILED', `${IN_TOTO_VERIFY} ${how}`, {
            cause: error,
            evidence: { exitCode: error.code, signal: error.signal, output },
          }),
        );
      },
    );
  });
}

/** Quotes a path for a POSIX shell when it needs it. */
function shellQuote(path: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}

/** `release <id>`, then `artifact <sha256> <name>` and `attestation <kind> <sha256>` lines. */
export function formatRelease(record: ReleaseRecord): string {
  const lines = [`release ${record.id}`];
  for (const a of record.artifacts) lines.push(`artifact ${a.sha256} ${a.name}`);
  for (const a of record.attestations) lines.push(`attestation ${a.kind} ${a.sha256}`);
  return `${lines.join('\n')}\n`;
}
