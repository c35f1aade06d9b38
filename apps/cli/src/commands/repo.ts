import { resolve } from 'node:path';
import type { Command } from 'commander';
import { publicKeyToPem } from '@glasshouse/attest';
import type { CallerSpec } from '@glasshouse/httpsig';
import {
  buildRepoServer,
  DistributionError,
  draftRootRotation,
  initRepository,
  parseSupervisorKeysFile,
  readRepositoryState,
  repoPaths,
  RepoClient,
  RepoService,
  supervisorSignRoot,
  supervisorSignTargets,
  tufKeyId,
  type RepoExpiries,
  type RepositoryState,
  type SupervisorKeys,
  type SupervisorTufKeys,
  type TufPublicKey,
  type VendorKeyRole,
} from '@glasshouse/distribution';
import { listenOn, parseListen, readSmallFile, untilSignal, UsageError, type Io } from '../io.js';
import {
  ROUTES,
  allowListOf,
  caller,
  collect,
  formatCallers,
  readCallerKey,
  readCallersFiles,
  signingFetch,
} from '../callers.js';
import { readLayoutKey } from './release.js';

/** The supervisor keys file is a small JSON document (two public keys). */
const MAX_SUPERVISOR_KEYS_BYTES = 64 * 1024;
const VENDOR_ROLES: readonly VendorKeyRole[] = [
  'root',
  'targets',
  'release',
  'snapshot',
  'timestamp',
];
/** How often the server checks whether the timestamp (and snapshot) need renewing. */
const REFRESH_INTERVAL_MS = 60_000;

interface InitOptions {
  dir: string;
  supervisorKeys: string;
  rootThreshold?: string;
  timestampExpiry?: string;
  snapshotExpiry?: string;
  targetsExpiry?: string;
  releasesExpiry?: string;
  rootExpiry?: string;
}

interface ServeOptions {
  dir: string;
  assembly: string;
  releaseLog: string;
  layoutKey: string;
  listen: string;
  callers?: string[];
}

export function registerRepoCommands(program: Command, io: Io): void {
  const repo = program
    .command('repo')
    .description(
      "Run the vendor's TUF update repository: a release reaches endpoints only once both the vendor " +
        'and the supervisor signed it',
    );

  repo
    .command('init')
    .description(
      "Create the repository in DIR (empty or missing): the vendor's five TUF keys (mode 0600), and root v1 " +
        "and targets v1 as drafts signed by the vendor; root lists the vendor's and the supervisor's keys for root " +
        '(threshold 2 by default) and for targets (threshold 2). Nothing is published until the supervisor signs both. ' +
        "Prints 'vendor <role> <keyid>' per role, 'supervisor <role> <keyid>' for the pinned supervisor keys and " +
        'the next step. Fails with REPO_ALREADY_INITIALIZED on a directory that is not empty',
    )
    .requiredOption('--dir <dir>', "the repository's data directory")
    .requiredOption(
      '--supervisor-keys <file>',
      'the supervisor\'s TUF public keys, as "glasshouse supervisor tuf-keys" writes them',
    )
    .option(
      '--root-threshold <n>',
      "root keys needed to sign root (default 2: the vendor's and the supervisor's; the supervisor refuses to sign a root with 1)",
    )
    .option('--root-expiry <seconds>', 'lifetime of root metadata (default 365 days)')
    .option('--targets-expiry <seconds>', 'lifetime of targets metadata (default 365 days)')
    .option('--releases-expiry <seconds>', 'lifetime of releases metadata (default 365 days)')
    .option('--snapshot-expiry <seconds>', 'lifetime of snapshot metadata (default 7 days)')
    .option('--timestamp-expiry <seconds>', 'lifetime of timestamp metadata (default 1 day)')
    .action(async (opts: InitOptions) => {
      const expiries: Partial<RepoExpiries> = {};
      const seconds = (value: string | undefined, flag: string): number | undefined =>
        value === undefined ? undefined : wholeNumber(value, flag);
      const set = (role: keyof RepoExpiries, value: string | undefined): void => {
        const s = seconds(value, `--${role}-expiry`);
        if (s !== undefined) expiries[role] = s;
      };
      set('root', opts.rootExpiry);
      set('targets', opts.targetsExpiry);
      set('releases', opts.releasesExpiry);
      set('snapshot', opts.snapshotExpiry);
      set('timestamp', opts.timestampExpiry);
      const rootThreshold = seconds(opts.rootThreshold, '--root-threshold');
      const supervisorKeys = await readSupervisorKeys(io, opts.supervisorKeys);
      const result = await initRepository({
        dir: resolve(io.cwd, opts.dir),
        supervisorKeys,
        ...(rootThreshold === undefined ? {} : { rootThreshold }),
        expiries,
        now: new Date(),
      });
      const lines = [
        ...VENDOR_ROLES.map((role) => `vendor ${role} ${result.vendorKeys[role].keyid}`),
        `supervisor root ${tufKeyId(supervisorKeys.root)}`,
        `supervisor targets ${tufKeyId(supervisorKeys.targets)}`,
        `supervisor release ${tufKeyId(supervisorKeys.release)}`,
        'root and targets drafts v1: signed by the vendor; once the repository is served, run ' +
          '"glasshouse supervisor sign-targets --repo URL" and "glasshouse supervisor sign-root --repo URL"',
      ];
      io.stdout(`${lines.join('\n')}\n`);
    });

  repo
    .command('serve')
    .description(
      'Serve the repository over HTTP (metadata/, targets/, the drafts the supervisor signs and the ' +
        'publish call) and keep its timestamp fresh; prints "url <URL>" when ready. Publishing checks each ' +
        'release against the assembly line with the layout key and appends it to the release log. ' +
        'SIGTERM/SIGINT stop it gracefully',
    )
    .requiredOption('--dir <dir>', 'the data directory (created by repo init)')
    .requiredOption('--assembly <url>', 'the assembly line, e.g. http://127.0.0.1:8470')
    .requiredOption('--release-log <url>', 'the release log, e.g. http://127.0.0.1:8480/')
    .requiredOption(
      '--layout-key <file>',
      'the layout public key endpoints pin: PEM, or a securesystemslib ed25519 .pub JSON file',
    )
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8460')
    .option(
      '--callers <file>',
      'who else may publish (a callers file, repeatable); the vendor release key in DIR always may',
      collect,
    )
    .action(async (opts: ServeOptions) => {
      const layoutKey = await readLayoutKey(resolve(io.cwd, opts.layoutKey));
      const server = await startRepoServer({
        callers: await readCallersFiles((opts.callers ?? []).map((f) => resolve(io.cwd, f))),
        dir: resolve(io.cwd, opts.dir),
        assemblyUrl: opts.assembly,
        releaseLogUrl: opts.releaseLog,
        layoutKeyPem: publicKeyToPem(layoutKey),
        listen: opts.listen,
        io,
      });
      io.stdout(`url ${server.url}\n`);
      await untilSignal();
      io.stderr('repo: shutting down\n');
      await server.close();
    });

  repo
    .command('publish')
    .description(
      'Publish the approved RELEASE as a releases draft signed by the vendor: the repository checks it, ' +
        "appends it to the release log and stores its artifacts and attestations as targets. Prints 'draft v<N>', " +
        "'release-log <index>', 'target <name>' per target and the next step: the release reaches endpoints " +
        'once the supervisor runs "glasshouse supervisor sign-release"',
    )
    .argument('<release>', 'the release id')
    .requiredOption('--repo <url>', 'the repository, e.g. http://127.0.0.1:8460')
    .requiredOption(
      '--dir <dir>',
      "the repository's data directory (its vendor release key signs the request)",
    )
    .action(async (releaseId: string, opts: { repo: string; dir: string }) => {
      const dir = resolve(io.cwd, opts.dir);
      await readRepositoryState(dir);
      const key = await readCallerKey(repositoryCallerKeyPath(dir));
      const published = await new RepoClient(opts.repo, { fetch: signingFetch(key) }).publish(
        releaseId,
      );
      const lines = [
        `draft v${published.draftVersion}`,
        `release-log ${published.releaseLog.index}`,
        ...published.targets.map((name) => `target ${name}`),
      ];
      lines.push(
        `releases draft v${published.draftVersion}: signed by the vendor; the supervisor publishes it ` +
          `with "glasshouse supervisor sign-release --repo ${opts.repo}"`,
      );
      io.stdout(`${lines.join('\n')}\n`);
    });

  repo
    .command('migrate')
    .description(
      'Move a repository of the old scheme (targets signed by the vendor alone) to two-party targets: drafts ' +
        "root v<N+1>, whose targets role is the vendor's and the supervisor's targets keys with threshold 2, " +
        'signed by the current root key, and targets v<M+1>, the same delegation signed by the vendor. Both are ' +
        'published together once the supervisor ran "glasshouse supervisor sign-targets" and "sign-root". ' +
        "Prints 'root draft v<N>', 'targets draft v<M>' and the next step. Run it while the repository's server " +
        'is idle (it writes the drafts in DIR)',
    )
    .requiredOption('--dir <dir>', "the repository's data directory")
    .requiredOption(
      '--supervisor-keys <file>',
      'the supervisor\'s TUF public keys, as "glasshouse supervisor tuf-keys" writes them',
    )
    .action(async (opts: { dir: string; supervisorKeys: string }) => {
      const dir = resolve(io.cwd, opts.dir);
      const keys = await readSupervisorKeys(io, opts.supervisorKeys);
      const result = await migrateRepository(dir, keys.targets);
      io.stdout(
        `root draft v${result.rootVersion}
targets draft v${result.targetsVersion}
` +
          'signed by the vendor; the supervisor completes the migration with ' +
          '"glasshouse supervisor sign-targets --repo URL" and "glasshouse supervisor sign-root --repo URL"\n',
      );
    });

  repo
    .command('rotate-root')
    .description(
      'Draft root v<N+1> (TUF 5.3: clients follow it only when a threshold of the current root keys and of ' +
        "its own signed it): the same keys, except the vendor's root key when --replace-vendor-root-key " +
        "(generated here), and the threshold when --threshold. Signed by the vendor's current root key (and " +
        'the new one); the supervisor completes it with "glasshouse supervisor sign-root". Prints \'root draft ' +
        "v<N>' and the next step. Run it while the repository's server is idle (it writes the draft in DIR)",
    )
    .requiredOption('--dir <dir>', "the repository's data directory")
    .option('--replace-vendor-root-key', "replace the vendor's root key with a new one")
    .option('--threshold <n>', 'the new root threshold (at least 2)')
    .action(async (opts: { dir: string; replaceVendorRootKey?: boolean; threshold?: string }) => {
      const threshold = opts.threshold === undefined ? undefined : Number(opts.threshold);
      if (threshold !== undefined && !Number.isSafeInteger(threshold)) {
        throw new DistributionError('REPO_OPTION_INVALID', '--threshold is not an integer');
      }
      const draft = await draftRootRotation({
        dir: resolve(io.cwd, opts.dir),
        now: new Date(),
        ...(opts.replaceVendorRootKey === true ? { replaceVendorRootKey: true } : {}),
        ...(threshold === undefined ? {} : { threshold }),
      });
      io.stdout(
        `root draft v${String((draft.signed as { version?: unknown }).version)}\n` +
          'signed by the vendor; the supervisor completes it with "glasshouse supervisor sign-root --repo URL"\n',
      );
    });

  repo
    .command('status')
    .description(
      "Print what the repository in DIR publishes and which drafts are pending: 'root v<N>' (v0 until root " +
        "v1 is signed), 'targets v<N>', who signs targets ('targets signed by vendor and supervisor' or, for the " +
        "old scheme, a line beginning 'OLD SCHEME'), 'snapshot v<N> expires <time>', 'timestamp v<N> expires <time>', " +
        "'releases v<N> expires <time>' and 'target <name>' per released target, 'pending root v<N>', " +
        "'pending targets v<N>', 'pending releases v<N>'",
    )
    .requiredOption('--dir <dir>', "the repository's data directory")
    .action(async (opts: { dir: string }) => {
      const state = await readRepositoryState(resolve(io.cwd, opts.dir));
      io.stdout(formatRepositoryState(state));
    });
}

/** `repo status` output, one fact a line. */
export function formatRepositoryState(state: RepositoryState): string {
  const lines = [
    `root v${state.rootVersion}`,
    `targets v${state.targetsVersion}`,
    state.targetsScheme === 'two-party'
      ? 'targets signed by vendor and supervisor (threshold 2)'
      : 'OLD SCHEME: targets signed by the vendor alone, who could re-delegate releases; ' +
        'migrate with "glasshouse repo migrate"',
  ];
  if (state.snapshot !== undefined) {
    lines.push(`snapshot v${state.snapshot.version} expires ${state.snapshot.expires}`);
  }
  if (state.timestamp !== undefined) {
    lines.push(`timestamp v${state.timestamp.version} expires ${state.timestamp.expires}`);
  }
  if (state.releases !== undefined) {
    lines.push(`releases v${state.releases.version} expires ${state.releases.expires}`);
    for (const name of state.releases.targets) lines.push(`target ${name}`);
  }
  if (state.pending.root !== undefined) lines.push(`pending root v${state.pending.root}`);
  if (state.pending.targets !== undefined) lines.push(`pending targets v${state.pending.targets}`);
  if (state.pending.releases !== undefined) {
    lines.push(`pending releases v${state.pending.releases}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The supervisor's keys file; it must name a targets key (files of the old scheme do not). */
async function readSupervisorKeys(
  io: Io,
  file: string,
): Promise<SupervisorKeys & { targets: TufPublicKey }> {
  const keys = parseSupervisorKeysFile(
    await readSmallFile(resolve(io.cwd, file), MAX_SUPERVISOR_KEYS_BYTES),
  );
  if (keys.targets === undefined) {
    throw new DistributionError(
      'REPO_OPTION_INVALID',
      'the supervisor keys file names no targets key; the supervisor writes a new one with "glasshouse supervisor tuf-keys"',
    );
  }
  return { ...keys, targets: keys.targets };
}

/**
 * Drafts the migration of an old-scheme repository (see `repo migrate`);
 * REPO_OPTION_INVALID when targets already needs both organisations.
 */
export async function migrateRepository(
  dir: string,
  supervisorTargetsKey: TufPublicKey,
): Promise<{ rootVersion: number; targetsVersion: number }> {
  const state = await readRepositoryState(dir);
  if (state.targetsScheme === 'two-party') {
    throw new DistributionError(
      'REPO_OPTION_INVALID',
      'targets already needs the vendor and the supervisor; nothing to migrate',
    );
  }
  const draft = await draftRootRotation({ dir, now: new Date(), supervisorTargetsKey });
  return {
    rootVersion: Number((draft.signed as { version?: unknown }).version),
    targetsVersion: state.targetsVersion + 1,
  };
}

/**
 * Both organisations' part of the targets ceremony on one machine (`npm
 * start`): the supervisor signs a pending targets draft and then a pending
 * root draft, over HTTP, each after its own checks. A repository of the
 * old scheme is first migrated. Returns what it did, one line each.
 */
export async function ensureTwoPartyTargets(opts: {
  readonly repoDir: string;
  readonly repoUrl: string;
  readonly supervisorTufKeys: SupervisorTufKeys;
}): Promise<string[]> {
  const done: string[] = [];
  let state = await readRepositoryState(opts.repoDir);
  if (state.rootVersion > 0 && state.targetsScheme === 'vendor-only') {
    const drafted = await migrateRepository(opts.repoDir, opts.supervisorTufKeys.targets.publicKey);
    done.push(
      `vendor: the repository ran the old scheme (targets signed by the vendor alone); drafted root v${drafted.rootVersion} and targets v${drafted.targetsVersion} naming the supervisor's targets key`,
    );
    state = await readRepositoryState(opts.repoDir);
  }
  const client = new RepoClient(opts.repoUrl);
  if (state.pending.targets !== undefined) {
    const signed = await supervisorSignTargets(client, opts.supervisorTufKeys);
    done.push(
      `supervisor: checked and co-signed targets v${signed.version} (the releases delegation needs both release keys)`,
    );
  }
  if (state.rootVersion > 0 && state.pending.root !== undefined) {
    const signed = await supervisorSignRoot(client, opts.supervisorTufKeys);
    done.push(
      `supervisor: co-signed root v${signed.version}; published: ${signed.published ? 'yes' : 'no'}`,
    );
  }
  return done;
}

/** A whole number, at least 1, of at most 10 digits; a usage error otherwise. */
function wholeNumber(value: string, flag: string): number {
  if (!/^[0-9]{1,10}$/.test(value) || Number(value) < 1) {
    throw new UsageError(`${flag} wants a whole number, at least 1, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

export interface StartRepoServerOptions {
  readonly dir: string;
  readonly assemblyUrl: string;
  readonly releaseLogUrl: string;
  /** The layout key endpoints pin (PEM). */
  readonly layoutKeyPem: string;
  readonly listen: string;
  readonly io: Io;
  /** How often to check whether the timestamp needs renewing; default one minute. */
  readonly refreshIntervalMs?: number;
  /** Who may publish besides the repository's own vendor release key. */
  readonly callers?: readonly CallerSpec[];
}

export interface RunningRepoServer {
  readonly url: string;
  readonly service: RepoService;
  /** Stops the timestamp refresh and the server. */
  close(): Promise<void>;
}

/**
 * Serves the repository in `dir` (which `repo init` created) and renews its
 * timestamp in the background (failures on stderr); resolves once it is
 * listening.
 */
export async function startRepoServer(opts: StartRepoServerOptions): Promise<RunningRepoServer> {
  const address = parseListen(opts.listen);
  await readRepositoryState(opts.dir);
  // The repository signs its release-log adds with its vendor release key,
  // and the same key (its operator) may publish.
  const key = await readCallerKey(repositoryCallerKeyPath(opts.dir));
  const service = new RepoService({
    dir: opts.dir,
    assemblyUrl: opts.assemblyUrl,
    releaseLogUrl: opts.releaseLogUrl,
    layoutKeyPem: opts.layoutKeyPem,
    releaseLogFetch: signingFetch(key),
  });
  const allowList = allowListOf([
    caller('repository operator', key, ROUTES.repoPublish),
    ...(opts.callers ?? []),
  ]);
  opts.io.stderr(formatCallers('repo', allowList));
  const app = buildRepoServer({ service, writers: { allowList } });
  let url: string;
  try {
    url = await listenOn(app, address);
  } catch (err) {
    await app.close();
    throw err;
  }
  service.startTimestampRefresh(opts.refreshIntervalMs ?? REFRESH_INTERVAL_MS, (err) => {
    opts.io.stderr(`repo: timestamp refresh: ${describe(err)}\n`);
  });
  return {
    url,
    service,
    close: async () => {
      service.stop();
      await app.close();
    },
  };
}

/**
 * The repository's caller key: its vendor release key, which signs releases
 * drafts. It signs the repository's adds to the release log and `repo publish`.
 */
export function repositoryCallerKeyPath(dir: string): string {
  return repoPaths(dir).vendorKey('release');
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}
