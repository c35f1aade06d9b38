import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import {
  AgentError,
  agentStatus,
  initAgent,
  initAgentFromTrustBundle,
  MAX_ROOT_BYTES,
  updateAgent,
  type AgentStatus,
} from '@glasshouse/agent';
import { publicKeyFromPem } from '@glasshouse/attest';
import { HttpError, readBoundedBody } from '@glasshouse/http';
import {
  checkResidencyTrust,
  MAX_TRUST_BUNDLE_BYTES,
  trustBundleFingerprint,
  type ResidencyTrust,
} from '@glasshouse/release-format';
import { parseSupervisorKeysFile } from '@glasshouse/distribution';
import { readSmallFile, UsageError, type Io } from '../io.js';
import {
  formatLastUpdate,
  formatProductStatus,
  registerAgentRollbackCommand,
  updateProductStep,
} from './agent-product.js';

/** Key files and policies are a few KiB. */
const MAX_SMALL_FILE_BYTES = 64 * 1024;

interface InitOptions {
  dir: string;
  trust?: string;
  fingerprint?: string;
  repo?: string;
  root?: string;
  policy?: string;
  rules?: string;
  supervisorKey?: string;
  verifierId?: string;
  builderKey?: string;
  builderId?: string;
  source?: string;
  logUrl?: string;
  supervisorTufKeys?: string;
  residency?: string;
  product?: string;
  productSource?: string;
}

/** The long form's options, all needed when there is no --trust. */
const LONG_FORM = [
  ['repo', '--repo'],
  ['root', '--root'],
  ['policy', '--policy'],
  ['rules', '--rules'],
  ['supervisorKey', '--supervisor-key'],
  ['verifierId', '--verifier-id'],
  ['builderKey', '--builder-key'],
  ['builderId', '--builder-id'],
  ['source', '--source'],
] as const;

/** Asks the person at the terminal; undefined when standard input is not a terminal. */
export type Confirm = (question: string) => Promise<boolean | undefined>;

/** A yes/no question on the terminal. */
export async function confirmOnTerminal(question: string): Promise<boolean | undefined> {
  if (!process.stdin.isTTY) return undefined;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/**
 * The `agent` command group, shared by every module that adds a subcommand
 * (found when another module created it first).
 */
export function agentCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'agent') ??
    program
      .command('agent')
      .description(
        "The endpoint agent: installs only rules releases that carry the vendor's and the supervisor's " +
          'signatures, appear in the witnessed release log and pass their self-test',
      )
  );
}

/** `agent init`, `agent update` and `agent status`. */
export function registerAgentCommands(
  program: Command,
  io: Io,
  confirm: Confirm = confirmOnTerminal,
): void {
  const agent = agentCommand(program);

  agent
    .command('init')
    .description(
      'Pin the trust roots in DIR: the TUF root, the release log witness policy (its log line names the ' +
        "log's key and URL), the supervisor's VSA key and verifier id, the builder's provenance key and id, " +
        'the source repository and the rules name to follow. Usually all from one trust bundle ' +
        '(--trust, signed by the vendor and the supervisor); the other options are the long form. ' +
        'Fails with AGENT_ALREADY_INITIALIZED when DIR has an agent already.\n\n' +
        'Example (the defaults of "glasshouse start"):\n' +
        '  glasshouse agent init --dir ./endpoint \\\n' +
        '    --trust http://127.0.0.1:8460/.well-known/glasshouse/trust-bundle.json \\\n' +
        '    --fingerprint <the sha256 "glasshouse start" printed>',
    )
    .requiredOption('--dir <dir>', "the agent's data directory")
    .option(
      '--trust <file-or-url>',
      'the trust bundle (a file, or its http(s) URL: /.well-known/glasshouse/trust-bundle.json of the repository)',
    )
    .option(
      '--fingerprint <sha256>',
      "the trust bundle's SHA-256 as its publisher printed it; without it you are asked to compare " +
        '(trust on first use), and refused when not on a terminal',
    )
    .option('--repo <url>', 'long form: the update repository, e.g. http://127.0.0.1:8460')
    .option(
      '--root <file>',
      "long form: the TUF root to trust first (the repository's 1.root.json)",
    )
    .option(
      '--policy <file>',
      'long form: the release log c2sp.org/tlog-policy (log, witnesses, quorum)',
    )
    .option('--rules <name>', 'long form: the rules release to follow, e.g. demo-rules')
    .option(
      '--product <name>',
      "the product release to follow: the agent's own code, installed by agent update (needs --product-source)",
    )
    .option('--product-source <uri>', "the source repository the product's provenance must name")
    .option('--supervisor-key <file>', "long form: the supervisor's VSA public key (SPKI PEM)")
    .option('--verifier-id <uri>', "long form: the supervisor's verifier.id")
    .option(
      '--builder-key <file>',
      "long form: the vendor builder's provenance public key (SPKI PEM)",
    )
    .option('--builder-id <uri>', "long form: the vendor builder's builder.id")
    .option('--source <uri>', 'long form: the source repository the rules are built from')
    .option('--log-url <url>', "the release log's URL (default: the policy's log line)")
    .option(
      '--supervisor-tuf-keys <file>',
      'the supervisor\'s TUF public keys ("glasshouse supervisor tuf-keys"): the root and the releases ' +
        'role must need them, and a missing signature is named by organisation',
    )
    .option(
      '--residency <file>',
      'long form: the residency trust for telemetry (JSON: routerUrl, logPolicy, vendorKey, supervisorKey, ' +
        'keyRelease); a trust bundle carries it in its residency field',
    )
    .action(async (opts: InitOptions) => {
      const dir = resolve(io.cwd, opts.dir);
      if (opts.trust !== undefined) {
        const given = LONG_FORM.filter(([key]) => opts[key] !== undefined).map(([, flag]) => flag);
        if (
          given.length > 0 ||
          opts.logUrl !== undefined ||
          opts.supervisorTufKeys !== undefined ||
          opts.residency !== undefined
        ) {
          throw new UsageError(
            `--trust replaces the long form; drop ${given.join(' ') || 'the other options'}`,
          );
        }
        const bundle = await readTrustBundle(opts.trust, io.cwd);
        let fingerprint = opts.fingerprint;
        if (fingerprint === undefined) {
          fingerprint = trustBundleFingerprint(bundle);
          io.stderr(
            `The trust bundle's SHA-256 fingerprint is\n\n  ${fingerprint}\n\n` +
              'Nothing vouches for this bundle yet: if you accept it, this endpoint trusts whoever made it ' +
              '(trust on first use). Compare the fingerprint with the one its publisher gave you ' +
              '(printed by "glasshouse start"), or pass it with --fingerprint.\n',
          );
          const accepted = await confirm('Does it match? [y/N] ');
          if (accepted !== true) {
            throw new AgentError(
              'AGENT_TRUST_BUNDLE_UNCONFIRMED',
              accepted === undefined
                ? 'not on a terminal: give the fingerprint with --fingerprint'
                : 'the fingerprint was not confirmed',
            );
          }
        }
        const initialised = await initAgentFromTrustBundle({
          dir,
          bundle,
          fingerprint,
          ...productOption(opts),
        });
        io.stdout(
          `agent initialised in ${dir} from trust bundle ${fingerprint}\n${formatTrust(await agentStatus(initialised.dir))}`,
        );
        return;
      }
      const missing = LONG_FORM.filter(([key]) => opts[key] === undefined).map(([, flag]) => flag);
      if (missing.length > 0) {
        throw new UsageError(`give --trust, or the long form (missing ${missing.join(' ')})`);
      }
      const long = opts as Required<Pick<InitOptions, (typeof LONG_FORM)[number][0]>> & InitOptions;
      const file = (path: string): Promise<string> =>
        readSmallFile(resolve(io.cwd, path), MAX_SMALL_FILE_BYTES);
      const rootPath = resolve(io.cwd, long.root);
      const root = await readFile(rootPath).catch((cause: unknown) => {
        throw new UsageError(`cannot read ${rootPath}: ${(cause as Error).message}`, { cause });
      });
      if (root.length > MAX_ROOT_BYTES) {
        throw new UsageError(`${rootPath} is larger than ${MAX_ROOT_BYTES} bytes`);
      }
      const tufKeys =
        opts.supervisorTufKeys === undefined
          ? undefined
          : parseSupervisorKeysFile(await file(opts.supervisorTufKeys));
      const initialised = await initAgent({
        dir,
        repoUrl: long.repo,
        root,
        policy: await file(long.policy),
        rulesName: long.rules,
        supervisorKeyPem: await file(long.supervisorKey),
        verifierId: long.verifierId,
        builderKeyPem: await file(long.builderKey),
        builderId: long.builderId,
        source: long.source,
        logUrl: opts.logUrl,
        ...(tufKeys === undefined ? {} : { supervisorTufKeys: tufKeys }),
        ...(opts.residency === undefined
          ? {}
          : { residency: parseResidencyFile(await file(opts.residency), opts.residency) }),
        ...productOption(opts),
      });
      io.stdout(`agent initialised in ${dir}\n${formatTrust(await agentStatus(initialised.dir))}`);
    });

  agent
    .command('update')
    .description(
      'Refresh TUF metadata and install the newest release of the rules: TUF (both signatures), the ' +
        'release-log receipt (witness quorum, consistent with the last checkpoint seen), the VSA and the ' +
        "provenance, then the self-test in a staging slot and an atomic switch. Prints 'installed <name> " +
        "<version> <slot>' or 'up-to-date <version>'; a refusal prints its code, exits 1 and keeps " +
        'the previous rules. When the agent follows a product (init --product), then the same checks for ' +
        'the newest product release, its tarball unpacked into a new version directory, checked against the ' +
        "release's file manifest and self-checked (the new code's --version and its scan of the rules' " +
        'samples) before DIR/product/current is switched atomically; the running agent is not touched, the ' +
        'new version runs from the next start. An older product release is refused unless it is a rollback ' +
        'release both organisations signed.',
    )
    .requiredOption('--dir <dir>', "the agent's data directory")
    .option(
      '--allow-engine-without-timeout',
      'self-test even with the WebAssembly YARA-X fallback, which cannot stop a runaway rule',
    )
    .action(async (opts: { dir: string; allowEngineWithoutTimeout?: boolean }) => {
      const dir = resolve(io.cwd, opts.dir);
      const outcome = await updateAgent({
        dir,
        allowEngineWithoutTimeout: opts.allowEngineWithoutTimeout === true,
        onProgress: (message) => {
          io.stderr(`agent: ${message}\n`);
        },
      });
      switch (outcome.status) {
        case 'installed':
          io.stdout(
            `installed ${outcome.release.name} ${outcome.release.version} ${outcome.slot}\n`,
          );
          break;
        case 'up-to-date':
          io.stdout(`up-to-date ${outcome.version}\n`);
          break;
      }
      if ((await agentStatus(dir)).product !== undefined) await updateProductStep(dir, io);
    });

  registerAgentRollbackCommand(agent, io);

  agent
    .command('status')
    .description(
      "Print the active and staged rules ('active <name> <version> <slot>', 'staged …'), the trust roots, " +
        "the last release-log checkpoint seen and the last update's result; with a product, the version " +
        "running now and the one installed (current at the next start), the previous one and the product's " +
        'last update',
    )
    .requiredOption('--dir <dir>', "the agent's data directory")
    .option('--json', 'print the status as JSON')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const status = await agentStatus(resolve(io.cwd, opts.dir));
      if (opts.json === true) {
        io.stdout(`${JSON.stringify(status, null, 2)}\n`);
        return;
      }
      io.stdout(formatStatus(status));
    });
}

function parseResidencyFile(text: string, path: string): ResidencyTrust {
  try {
    const value: unknown = JSON.parse(text);
    checkResidencyTrust(value);
    return value;
  } catch (cause) {
    throw new UsageError(`${path} is not a residency trust: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** The bundle's bytes from a file or an http(s) URL, at most MAX_TRUST_BUNDLE_BYTES. */
async function readTrustBundle(source: string, cwd: string): Promise<Uint8Array> {
  if (!/^https?:\/\//i.test(source)) {
    const path = resolve(cwd, source);
    const bytes = await readFile(path).catch((cause: unknown) => {
      throw new UsageError(`cannot read ${path}: ${(cause as Error).message}`, { cause });
    });
    return bytes.length > MAX_TRUST_BUNDLE_BYTES ? refuseSize() : bytes;
  }
  let res: Response;
  try {
    res = await fetch(source, { signal: AbortSignal.timeout(30_000), redirect: 'error' });
  } catch (cause) {
    throw new UsageError(`cannot fetch ${source}: ${(cause as Error).message}`, { cause });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new UsageError(`cannot fetch ${source}: HTTP ${res.status}`);
  }
  try {
    return await readBoundedBody(res, MAX_TRUST_BUNDLE_BYTES);
  } catch (err) {
    // HttpError's one code is BODY_TOO_LARGE.
    if (err instanceof HttpError) return refuseSize(err);
    throw err;
  }
}

function refuseSize(cause?: unknown): never {
  throw new AgentError('AGENT_TRUST_BUNDLE_MALFORMED', 'the trust bundle is over the size limit', {
    cause,
    evidence: { max: MAX_TRUST_BUNDLE_BYTES },
  });
}

/** `agent status` output, one fact a line. */
export function formatStatus(status: AgentStatus): string {
  const lines: string[] = [];
  const { active, staged } = status;
  lines.push(
    active === undefined
      ? 'active none'
      : `active ${active.name ?? '?'} ${active.version ?? '?'} ${active.slot}`,
  );
  if (staged !== undefined) {
    lines.push(
      `staged ${staged.release.name} ${staged.release.version} ${staged.slot} (${staged.reason})`,
    );
  }
  const cp = status.lastCheckpoint;
  lines.push(
    cp === undefined ? 'checkpoint none' : `checkpoint ${cp.origin} ${cp.size} ${cp.rootHash}`,
  );
  lines.push(formatLastUpdate(status.lastUpdate));
  return `${lines.join('\n')}\n${formatProductStatus(status)}${formatTrust(status)}`;
}

function productOption(opts: InitOptions): { product?: { name: string; source: string } } {
  if (opts.product === undefined && opts.productSource === undefined) return {};
  if (opts.product === undefined || opts.productSource === undefined) {
    throw new UsageError('--product and --product-source go together');
  }
  return { product: { name: opts.product, source: opts.productSource } };
}

function formatTrust(status: AgentStatus): string {
  const { config } = status.trust;
  const keyid = (pem: string): string => publicKeyFromPem(pem).keyid;
  const lines = [
    `rules ${config.rulesName}`,
    `repository ${config.repoUrl}`,
    `tuf root v${status.trust.tufRootVersion ?? '?'}`,
    `release log ${config.logUrl} ${status.trust.log}`,
    ...status.trust.witnesses.map((w) => `witness ${w}`),
    `quorum ${status.trust.quorum}`,
    `supervisor ${keyid(config.supervisor.publicKeyPem)} ${config.supervisor.verifierId}`,
    `builder ${keyid(config.builder.publicKeyPem)} ${config.builder.builderId}`,
    `source ${config.source}`,
  ];
  if (config.supervisorTufKeys !== undefined) {
    lines.push(
      `supervisor tuf root ${config.supervisorTufKeys.root}`,
      `supervisor tuf release ${config.supervisorTufKeys.release}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
