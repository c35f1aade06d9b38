import { stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { publicKeyFromPem, signingKeyFromPem } from '@glasshouse/attest';
import {
  ensureSupervisorTufKeys,
  formatSupervisorKeysFile,
  RepoClient,
  RepoMonitor,
  supervisorDirApprovals,
  supervisorSignRelease,
  supervisorSignRoot,
  supervisorSignTargets,
  type RepoMonitorPass,
  type SupervisorTufKeys,
} from '@glasshouse/distribution';
import { hasCode } from '@glasshouse/errors';
import { WitnessError } from '@glasshouse/witness';
import {
  AssemblyClient,
  initSupervisorDir,
  openSupervisor,
  SUPERVISOR_KEY_FILE,
  type ApprovalPolicy,
  type PinnedBuilder,
  type Supervisor,
} from '@glasshouse/release';
import { readCallerKey, signingFetch } from '../callers.js';
import {
  MAX_KEY_FILE_BYTES,
  readSmallFile,
  untilSignal,
  UsageError,
  wholeSeconds,
  type Io,
} from '../io.js';
import { ALERTS_FILE, cliAlertSink } from './monitor.js';

const DEFAULT_DIR = 'supervisor';
/** The repository monitor's state under the supervisor's directory. */
const REPO_MONITOR_DIR = 'repo-monitor';

interface InitOptions {
  dir: string;
  verifierId?: string;
  builderKey?: string;
  builderId?: string;
  reviewer?: string[];
  requireReview?: boolean;
}

export function registerSupervisorCommands(program: Command, io: Io): void {
  const supervisor = program
    .command('supervisor')
    .description(
      "Run the independent supervisor: review releases, rebuild them from source and approve (or reject) them on the vendor's assembly line",
    );

  supervisor
    .command('init')
    .description(
      "Create the supervisor's key (mode 0600) and configuration in DIR, or update them: pin a builder's key, " +
        'set the approval policy. Prints the public key PEM (give it to "assembly init --supervisor-key"), ' +
        "'keyid <id>', 'verifier <id>', 'policy review-required=<bool> reviewers=<list or *>' and " +
        "'builder <id> <keyid>' per pinned builder",
    )
    .option('--dir <dir>', "the supervisor's data directory", DEFAULT_DIR)
    .option('--verifier-id <uri>', "the verifier id of the supervisor's VSAs (first init only)")
    .option(
      '--builder-key <file>',
      "pin this builder public key (PEM, as 'assembly init' prints it)",
    )
    .option('--builder-id <uri>', 'the builder id the pinned key signs for (with --builder-key)')
    .option(
      '--reviewer <name>',
      'a reviewer allowed to approve by review (repeat for several); sets the policy',
      (name: string, previous: string[] | undefined) => [...(previous ?? []), name],
    )
    .option('--require-review', 'approve only releases reviewed by an allowed reviewer (default)')
    .option('--no-require-review', 'approve on a matching rebuild alone')
    .action(async (opts: InitOptions) => {
      if ((opts.builderKey === undefined) !== (opts.builderId === undefined)) {
        throw new UsageError('--builder-key and --builder-id go together');
      }
      let builder: PinnedBuilder | undefined;
      if (opts.builderKey !== undefined && opts.builderId !== undefined) {
        builder = {
          builderId: opts.builderId,
          publicKeyPem: await readSmallFile(resolve(io.cwd, opts.builderKey), MAX_KEY_FILE_BYTES),
        };
      }
      const policy: ApprovalPolicy | undefined =
        opts.reviewer === undefined && opts.requireReview === undefined
          ? undefined
          : { requireReview: opts.requireReview ?? true, reviewers: opts.reviewer ?? [] };
      const { identity, config } = await initSupervisorDir({
        dir: resolve(io.cwd, opts.dir),
        verifierId: opts.verifierId,
        policy,
        builder,
      });
      const lines = [
        identity.publicKeyPem.trimEnd(),
        `keyid ${identity.keyid}`,
        `verifier ${identity.verifierId}`,
        `policy review-required=${config.policy.requireReview} reviewers=${
          config.policy.reviewers.length === 0 ? '*' : config.policy.reviewers.join(',')
        }`,
        ...config.builders.map(
          (b) => `builder ${b.builderId} ${publicKeyFromPem(b.publicKeyPem).keyid}`,
        ),
      ];
      io.stdout(`${lines.join('\n')}\n`);
    });

  supervisor
    .command('review')
    .description(
      "Sign REVIEWER's note about RELEASE and upload it to the assembly line; prints 'review <sha256>' " +
        "and 'status <status>'. The policy may restrict who can review",
    )
    .argument('<release>', 'the release id')
    .requiredOption('--assembly <url>', 'the assembly line, e.g. http://127.0.0.1:8470')
    .requiredOption('--reviewer <name>', 'who reviewed the release')
    .requiredOption('--note <text>', 'what the reviewer checked and found')
    .option('--dir <dir>', "the supervisor's data directory", DEFAULT_DIR)
    .action(
      async (
        releaseId: string,
        opts: { assembly: string; reviewer: string; note: string; dir: string },
      ) => {
        const client = new AssemblyClient(opts.assembly, await supervisorFetch(opts.dir));
        const sup = await open(opts.dir);
        const result = await sup.review(client, releaseId, opts.reviewer, opts.note);
        io.stdout(`review ${result.sha256}\nstatus ${result.record.status}\n`);
      },
    );

  supervisor
    .command('rebuild')
    .description(
      "Check RELEASE's provenance against the pinned builder key and the approval policy, rebuild it " +
        "from source in the supervisor's own sandbox and compare every output (progress on stderr). " +
        "On a match, signs and uploads a link, a VSA and an approval and prints 'approved <id>', " +
        "'link <sha256> <file>', 'vsa <sha256>', 'approval <sha256>'. On a mismatch, uploads a signed " +
        "report, prints 'differs <file>' per differing file on stderr and fails with SUPERVISOR_REBUILD_MISMATCH",
    )
    .argument('<release>', 'the release id')
    .requiredOption('--assembly <url>', 'the assembly line, e.g. http://127.0.0.1:8470')
    .option('--dir <dir>', "the supervisor's data directory", DEFAULT_DIR)
    .action(async (releaseId: string, opts: { assembly: string; dir: string }) => {
      const client = new AssemblyClient(opts.assembly, await supervisorFetch(opts.dir));
      const sup = await open(opts.dir);
      if (sup.sandbox.kind === 'none') {
        io.stderr(
          `supervisor: no sandbox (${sup.sandbox.reason}); command builds will be rebuilt without isolation\n`,
        );
      }
      let approval;
      // SIGTERM or SIGINT cancels the rebuild: its build process stops, its checkout is removed.
      const cancel = (): void => {
        io.stderr('rebuild: cancelled\n');
        sup.cancelRebuilds();
      };
      process.once('SIGTERM', cancel);
      process.once('SIGINT', cancel);
      try {
        approval = await sup.rebuild(client, releaseId, (message) => {
          io.stderr(`rebuild: ${message}\n`);
        });
      } catch (err) {
        if (hasCode(err, 'SUPERVISOR_REBUILD_MISMATCH')) {
          const files = err.evidence?.differingFiles;
          if (Array.isArray(files)) {
            for (const file of files) io.stderr(`differs ${String(file)}\n`);
          }
        }
        throw err;
      } finally {
        process.off('SIGTERM', cancel);
        process.off('SIGINT', cancel);
      }
      io.stdout(
        [
          `approved ${approval.record.id}`,
          `link ${approval.link.sha256} ${approval.link.fileName}`,
          `vsa ${approval.vsa.sha256}`,
          `approval ${approval.approval.sha256}`,
        ].join('\n') + '\n',
      );
    });

  supervisor
    .command('tuf-keys')
    .description(
      "Create the supervisor's three TUF keys in DIR (mode 0600) if missing: a root key, so the vendor cannot " +
        "rotate the repository's keys alone, a targets key, so the vendor cannot re-delegate releases alone, " +
        'and a release key, so no release is published without it. Writes their public halves to FILE (or ' +
        'stdout) for "glasshouse repo init --supervisor-keys" and prints ' +
        "'tuf-root <keyid>', 'tuf-targets <keyid>' and 'tuf-release <keyid>' (on stderr when the file goes to stdout)",
    )
    .option('--dir <dir>', "the supervisor's data directory", DEFAULT_DIR)
    .option('--out <file>', 'write the public keys file here instead of to stdout')
    .action(async (opts: { dir: string; out?: string }) => {
      const keys = await tufKeys(opts.dir);
      const file = formatSupervisorKeysFile(keys);
      const ids =
        `tuf-root ${keys.root.keyid}\ntuf-targets ${keys.targets.keyid}\n` +
        `tuf-release ${keys.release.keyid}\n`;
      if (opts.out === undefined) {
        io.stdout(file);
        io.stderr(ids);
        return;
      }
      const out = resolve(io.cwd, opts.out);
      try {
        await writeFile(out, file);
      } catch (cause) {
        throw new UsageError(`cannot write ${out}: ${(cause as Error).message}`, { cause });
      }
      io.stdout(ids);
    });

  supervisor
    .command('sign-root')
    .description(
      "Sign the repository's pending root draft with the supervisor's TUF root key, after checking that " +
        "it needs both organisations for root (threshold at least 2) and for targets (the supervisor's targets " +
        "key, threshold at least 2; else TARGETS_ROLE_NOT_TWO_PARTY); prints 'root v<N> signed; published: yes|no', " +
        "with ' (waiting for the targets draft)' when the root goes out with a targets draft not yet signed",
    )
    .requiredOption('--repo <url>', 'the repository, e.g. http://127.0.0.1:8460')
    .option('--dir <dir>', "the supervisor's data directory", DEFAULT_DIR)
    .action(async (opts: { repo: string; dir: string }) => {
      const client = new RepoClient(opts.repo);
      const result = await supervisorSignRoot(client, await tufKeys(opts.dir));
      io.stdout(
        `root v${result.version} signed; published: ${yesNo(result.published)}` +
          `${result.awaitingTargets ? ' (waiting for the targets draft)' : ''}\n`,
      );
    });

  supervisor
    .command('sign-targets')
    .description(
      "Sign the repository's pending targets draft with the supervisor's TUF targets key, only when it still " +
        "delegates every path to 'releases' alone, terminating, with the vendor's published release key and the " +
        "supervisor's at threshold 2, and lists no target itself. Refusals name the change: " +
        'TARGETS_THRESHOLD_LOWERED, TARGETS_KEY_SWAPPED, TARGETS_TOP_LEVEL_TARGET, TARGETS_DELEGATION_CHANGED. ' +
        "Prints 'targets v<N> signed (<signed>/<threshold>); published: yes|no', with ' (goes out with the " +
        "root draft)' when it waits for a pending root",
    )
    .requiredOption('--repo <url>', 'the repository, e.g. http://127.0.0.1:8460')
    .option('--dir <dir>', "the supervisor's data directory", DEFAULT_DIR)
    .action(async (opts: { repo: string; dir: string }) => {
      const result = await supervisorSignTargets(
        new RepoClient(opts.repo),
        await tufKeys(opts.dir),
      );
      io.stdout(
        `targets v${result.version} signed (${result.signed}/${result.threshold}); ` +
          `published: ${yesNo(result.published)}` +
          `${result.awaitingRoot ? ' (goes out with the root draft)' : ''}\n`,
      );
    });

  supervisor
    .command('watch-repo')
    .description(
      "Watch the vendor's update repository: poll its timestamp and snapshot and the metadata they name, and " +
        "raise an alert, with the metadata as evidence, when targets or a delegated role lacks the supervisor's " +
        'signature or a target is not part of a release it approved. Alerts go to <dir>/alerts.jsonl, stderr ' +
        'and the webhook, once per metadata file (remembered in <dir>/repo-monitor/). With --once, exits 1 ' +
        '(ALERTS_RAISED) when this check raised one',
    )
    .requiredOption('--repo <url>', 'the repository, e.g. http://127.0.0.1:8460')
    .option('--dir <dir>', "the supervisor's data directory", DEFAULT_DIR)
    .option('--once', 'check once and exit')
    .option('--webhook <url>', 'also POST each alert as JSON to this URL')
    .option('--interval <seconds>', 'seconds between checks (without --once)', '30')
    .action(
      async (opts: {
        repo: string;
        dir: string;
        once?: boolean;
        webhook?: string;
        interval: string;
      }) => {
        const intervalS = wholeSeconds('--interval', opts.interval);
        const dir = resolve(io.cwd, opts.dir);
        const running = await startRepoMonitor({
          repoUrl: opts.repo,
          supervisorDir: dir,
          supervisorTufKeys: await tufKeys(opts.dir),
          intervalMs: intervalS * 1000,
          once: opts.once === true,
          io,
          ...(opts.webhook === undefined ? {} : { webhook: opts.webhook }),
        });
        if (opts.once === true) {
          const pass = await running.firstPass;
          await running.stop();
          if (pass.alert !== undefined) {
            throw new WitnessError(
              'ALERTS_RAISED',
              `the repository serves what the supervisor did not sign; see ${running.alertsPath}`,
              { evidence: { codes: pass.findings.map((f) => f.code) } },
            );
          }
          io.stdout(
            `repository checked at timestamp v${pass.timestampVersion}: ${pass.findings.length} finding(s), no new alert\n`,
          );
          return;
        }
        await untilSignal();
        await running.stop();
      },
    );

  supervisor
    .command('sign-release')
    .description(
      "Sign the repository's pending releases draft with the supervisor's TUF release key, only when every " +
        'new target belongs to a release this supervisor approved (its own signed approvals in DIR); prints ' +
        "'releases v<N> signed (<signed>/<threshold>); published: yes|no'. Fails with DRAFT_MISSING when " +
        'nothing is pending and RELEASES_DRAFT_REFUSED naming the first target it did not approve',
    )
    .requiredOption('--repo <url>', 'the repository, e.g. http://127.0.0.1:8460')
    .option('--dir <dir>', "the supervisor's data directory", DEFAULT_DIR)
    .action(async (opts: { repo: string; dir: string }) => {
      const dir = resolve(io.cwd, opts.dir);
      const keys = await tufKeys(opts.dir);
      const approvalKey = signingKeyFromPem(
        await readSmallFile(join(dir, SUPERVISOR_KEY_FILE), MAX_KEY_FILE_BYTES),
      );
      const result = await supervisorSignRelease(
        new RepoClient(opts.repo),
        keys,
        supervisorDirApprovals(dir, approvalKey.verifier),
      );
      io.stdout(
        `releases v${result.version} signed (${result.signed}/${result.threshold}); ` +
          `published: ${yesNo(result.published)}\n`,
      );
    });

  /** The supervisor signs its uploads to the assembly line with its own key (RFC 9421). */
  async function supervisorFetch(dir: string): Promise<{ fetch: typeof fetch }> {
    return {
      fetch: signingFetch(await readCallerKey(join(resolve(io.cwd, dir), SUPERVISOR_KEY_FILE))),
    };
  }

  function open(dir: string): Promise<Supervisor> {
    return openSupervisor({ dir: resolve(io.cwd, dir) });
  }

  /** The TUF keys of an initialised supervisor directory, created on first use. */
  async function tufKeys(dir: string): Promise<SupervisorTufKeys> {
    const path = resolve(io.cwd, dir);
    try {
      await stat(join(path, SUPERVISOR_KEY_FILE));
    } catch (cause) {
      throw new UsageError(
        `${path} is not a supervisor directory (no ${SUPERVISOR_KEY_FILE}); run "glasshouse supervisor init --dir ${dir}" first`,
        { cause },
      );
    }
    return ensureSupervisorTufKeys(path);
  }
}

export interface RepoMonitorStartOptions {
  readonly repoUrl: string;
  /** The supervisor's directory: its approvals, its approval key, alerts.jsonl. */
  readonly supervisorDir: string;
  readonly supervisorTufKeys: SupervisorTufKeys;
  readonly intervalMs: number;
  readonly io: Io;
  readonly webhook?: string;
  /** Only the first pass, no loop. */
  readonly once?: boolean;
}

export interface RunningRepoMonitor {
  readonly alertsPath: string;
  /** The first check (its failure rejects it). */
  readonly firstPass: Promise<RepoMonitorPass>;
  stop(): Promise<void>;
}

/**
 * The supervisor's repository monitor (distribution's RepoMonitor) with the
 * release-log monitor's sinks: `<supervisor>/alerts.jsonl`, stderr and an
 * optional webhook. Failed passes are said on stderr once per message.
 */
export async function startRepoMonitor(opts: RepoMonitorStartOptions): Promise<RunningRepoMonitor> {
  const { io } = opts;
  const alertsPath = join(opts.supervisorDir, ALERTS_FILE);
  const approvalKey = signingKeyFromPem(
    await readSmallFile(join(opts.supervisorDir, SUPERVISOR_KEY_FILE), MAX_KEY_FILE_BYTES),
  );
  const alerts = cliAlertSink({
    path: alertsPath,
    io,
    alertPrefix: 'supervisor repository monitor: ALERT ',
    errorPrefix: 'supervisor repository monitor: ',
    ...(opts.webhook === undefined ? {} : { webhook: opts.webhook }),
  });
  const monitor = await RepoMonitor.open({
    url: opts.repoUrl,
    keys: {
      targets: opts.supervisorTufKeys.targets.publicKey,
      release: opts.supervisorTufKeys.release.publicKey,
    },
    approvals: supervisorDirApprovals(opts.supervisorDir, approvalKey.verifier),
    alerts,
    stateDir: join(opts.supervisorDir, REPO_MONITOR_DIR),
  });
  const firstPass = monitor.check();
  if (opts.once === true) {
    return { alertsPath, firstPass, stop: async () => alerts.close?.() };
  }
  const stop = new AbortController();
  let lastError: string | undefined;
  const running = firstPass
    .catch(() => undefined)
    .then(() =>
      monitor.run(stop.signal, opts.intervalMs, {
        waitFirst: true,
        onPass: () => {
          lastError = undefined;
        },
        onError: (err) => {
          const line = describeError(err);
          // An outage is said once, not every interval.
          if (line !== lastError) io.stderr(`supervisor repository monitor: ${line}\n`);
          lastError = line;
        },
      }),
    );
  return {
    alertsPath,
    firstPass,
    stop: async () => {
      stop.abort();
      await running;
      await alerts.close?.();
    },
  };
}

function describeError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}
