import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  agentStatus,
  initAgent,
  MAX_ROOT_BYTES,
  updateAgent,
  type AgentStatus,
  type UpdateResult,
} from '@glasshouse/agent';
import { publicKeyFromPem } from '@glasshouse/attest';
import { parseSupervisorKeysFile } from '@glasshouse/distribution';
import { readSmallFile, UsageError, type Io } from '../io.js';

/** Key files and policies are a few KiB. */
const MAX_SMALL_FILE_BYTES = 64 * 1024;

interface InitOptions {
  dir: string;
  repo: string;
  root: string;
  policy: string;
  rules: string;
  supervisorKey: string;
  verifierId: string;
  builderKey: string;
  builderId: string;
  source: string;
  logUrl?: string;
  supervisorTufKeys?: string;
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
export function registerAgentCommands(program: Command, io: Io): void {
  const agent = agentCommand(program);

  agent
    .command('init')
    .description(
      'Pin the trust roots in DIR: the TUF root, the release log witness policy (its log line names the ' +
        "log's key and URL), the supervisor's VSA key and verifier id, the builder's provenance key and id, " +
        'the source repository and the rules name to follow. Fails with AGENT_ALREADY_INITIALIZED when DIR ' +
        'has an agent already',
    )
    .requiredOption('--dir <dir>', "the agent's data directory")
    .requiredOption('--repo <url>', 'the update repository, e.g. http://127.0.0.1:8600')
    .requiredOption('--root <file>', "the TUF root to trust first (the repository's 1.root.json)")
    .requiredOption(
      '--policy <file>',
      'the release log c2sp.org/tlog-policy (log, witnesses, quorum)',
    )
    .requiredOption('--rules <name>', 'the rules release to follow, e.g. demo-rules')
    .requiredOption('--supervisor-key <file>', "the supervisor's VSA public key (SPKI PEM)")
    .requiredOption('--verifier-id <uri>', "the supervisor's verifier.id")
    .requiredOption('--builder-key <file>', "the vendor builder's provenance public key (SPKI PEM)")
    .requiredOption('--builder-id <uri>', "the vendor builder's builder.id")
    .requiredOption('--source <uri>', 'the source repository the rules are built from')
    .option('--log-url <url>', "the release log's URL (default: the policy's log line)")
    .option(
      '--supervisor-tuf-keys <file>',
      'the supervisor\'s TUF public keys ("glasshouse supervisor tuf-keys"): the root and the releases ' +
        'role must need them, and a missing signature is named by organisation',
    )
    .action(async (opts: InitOptions) => {
      const file = (path: string): Promise<string> =>
        readSmallFile(resolve(io.cwd, path), MAX_SMALL_FILE_BYTES);
      const rootPath = resolve(io.cwd, opts.root);
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
      const dir = resolve(io.cwd, opts.dir);
      const initialised = await initAgent({
        dir,
        repoUrl: opts.repo,
        root,
        policy: await file(opts.policy),
        rulesName: opts.rules,
        supervisorKeyPem: await file(opts.supervisorKey),
        verifierId: opts.verifierId,
        builderKeyPem: await file(opts.builderKey),
        builderId: opts.builderId,
        source: opts.source,
        logUrl: opts.logUrl,
        ...(tufKeys === undefined ? {} : { supervisorTufKeys: tufKeys }),
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
        'the previous rules',
    )
    .requiredOption('--dir <dir>', "the agent's data directory")
    .action(async (opts: { dir: string }) => {
      const outcome = await updateAgent({
        dir: resolve(io.cwd, opts.dir),
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
    });

  agent
    .command('status')
    .description(
      "Print the active and staged rules ('active <name> <version> <slot>', 'staged …'), the trust roots, " +
        "the last release-log checkpoint seen and the last update's result",
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
  return `${lines.join('\n')}\n${formatTrust(status)}`;
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

function formatLastUpdate(last: UpdateResult | undefined): string {
  if (last === undefined) return 'last-update none';
  switch (last.result) {
    case 'installed':
      return `last-update ${last.at} installed ${last.release.name} ${last.release.version}`;
    case 'up-to-date':
      return `last-update ${last.at} up-to-date ${last.version}`;
    case 'refused':
      return `last-update ${last.at} refused ${last.code}: ${last.message}`;
  }
}
