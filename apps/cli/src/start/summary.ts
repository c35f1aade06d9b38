/**
 * What `start` prints on stdout once everything is up: what runs where,
 * commands to try, and a last line `ready <json>` for scripts and tests.
 * The release half's sections come first; each later half's HalfReport adds
 * its section, its commands to try and its ready fields.
 */
import { join, relative } from 'node:path';
import { consistentTargetPath } from '@glasshouse/distribution';
import { normalizeSourceUri } from '@glasshouse/release';
import type { PublishedRelease } from './demo-release.js';
import type { HalfReport } from './context.js';
import type { StartPaths } from './paths.js';
import { MONITOR_INTERVAL_MS, type ReleaseHalf } from './release-half.js';
import { POLICY_WITNESS_NAME } from './witness-policy.js';

/** A path as the summary shows it: relative to `cwd` when under it, else absolute. */
export function shownPath(p: string, cwd: string): string {
  const rel = relative(cwd, p);
  return rel === '' || rel.startsWith('..') ? p : `./${rel}`;
}

export function formatSummary(
  r: ReleaseHalf,
  later: readonly HalfReport[],
  paths: StartPaths,
  cwd: string,
): string {
  const shown = (p: string): string => shownPath(p, cwd);
  const { release } = r;
  const artifacts = release?.targets.filter((t) => t.custom.kind === 'artifact') ?? [];
  const receipt = release?.targets.find((t) => t.custom.kind === 'release-log-receipt');
  const logIndex = receipt === undefined ? undefined : logIndexOf(receipt.custom);
  const alerts =
    r.monitorPass.alerts === 0
      ? 'no alerts'
      : `${r.monitorPass.alerts} ALERT(S): see ${shown(r.monitor.alertsPath)}`;
  const lines = [
    'Glasshouse is running. Each role has its own keys and data directory; they talk over HTTP on loopback.',
    '',
    'vendor',
    `  release log       ${r.log.url}`,
    `    origin          ${r.log.origin}`,
    `    verifier key    ${r.log.verifierKey}`,
    `    data            ${shown(paths.log)}`,
    '                    publishes a checkpoint only once the witness cosigned it',
    `  assembly line     ${r.assembly.url}`,
    `    builder         ${r.builder.builderId} (key ${r.builder.keyid})`,
    `    layout key      ${shown(paths.layoutKey)} (key ${r.assembly.line.layoutKey.keyid})`,
    `    data            ${shown(paths.assembly)}`,
    `  repository        ${r.repoUrl}  (TUF: ${r.repoUrl}/metadata/, ${r.repoUrl}/targets/)`,
    `    trust root      ${r.repoUrl}/metadata/1.root.json (vendor and supervisor, threshold 2)`,
    '    targets         signed by the vendor and the supervisor (threshold 2)',
    `    data            ${shown(paths.repo)}`,
    'supervisor',
    `  witness           ${r.witness.url}/`,
    `    verifier key    ${r.witness.verifierKey}`,
    `    data            ${shown(paths.witness)}`,
    `  monitor           the release log every ${MONITOR_INTERVAL_MS / 1000} s: every entry must be a release it approved`,
    `    verified        size ${r.monitorPass.size}, ${alerts}`,
    `    alerts          ${shown(r.monitor.alertsPath)} and stderr`,
    `  repo monitor      the repository every ${MONITOR_INTERVAL_MS / 1000} s: targets and releases co-signed, every target approved`,
    `    verified        ${r.repoFindings === 0 ? 'no findings' : `${r.repoFindings} FINDING(S): see ${shown(r.repoMonitor.alertsPath)}`}`,
    `  keys              approvals ${r.supervisor.keyid}, TUF root ${r.supervisorTufKeys.root.keyid}, TUF release ${r.supervisorTufKeys.release.keyid}`,
    `  data              ${shown(paths.supervisor)}`,
    `witness policy      ${shown(paths.policy)}  (quorum: ${POLICY_WITNESS_NAME})`,
    `trust bundle        ${r.trustBundle.url}`,
    `  file              ${shown(paths.trustBundle)}`,
    `  sha256            ${r.trustBundle.fingerprint}`,
    '                    what an endpoint pins: TUF root, witness policy, supervisor and builder keys',
    '',
    ...(release === undefined
      ? ['demo release        skipped: git is not installed (install git and start again)']
      : [
          `demo release        ${release.name} ${release.version}, release ${release.releaseId}${
            logIndex === undefined ? '' : `, release-log index ${logIndex}`
          }`,
          `  source            ${shown(paths.demoSource)}`,
          ...artifacts.map((t) => `  artifact          ${t.name}  sha256 ${t.sha256}`),
          `  targets           ${release.targets.length} (artifacts, attestations, release-log receipt)`,
        ]),
    ...productLines(r.product, paths, shown),
  ];
  for (const half of later) {
    if (half.lines.length > 0) lines.push('', ...half.lines);
  }
  lines.push(
    '',
    'Try it:',
    ...(release === undefined
      ? []
      : [
          '  # the release as an endpoint checks it: layout, builder and supervisor links, artifacts',
          `  npx glasshouse release verify ${release.releaseId} --assembly ${r.assembly.url} --layout-key ${shown(paths.layoutKey)}`,
        ]),
    '  # the TUF metadata a tuf-js client starts from (pinning metadata/1.root.json)',
    `  curl ${r.repoUrl}/metadata/timestamp.json`,
    '  # the release log checkpoint, cosigned by the witness',
    `  curl ${r.log.url}checkpoint`,
  );
  if (receipt !== undefined) {
    lines.push(
      '  # the release-log receipt, checked offline against the witness policy, with the entry rebuilt from the TUF targets',
      `  curl -s ${r.repoUrl}/targets/${consistentTargetPath(receipt.name, receipt.sha256)} -o /tmp/release.tlog-proof`,
      `  npx glasshouse log verify --policy ${shown(paths.policy)} --entry ${shown(paths.demoEntry)} /tmp/release.tlog-proof`,
    );
  }
  lines.push(
    '  # an entry the supervisor never approved: its monitor alerts within seconds (the log keeps it for good)',
    `  echo bogus > /tmp/bogus && npx glasshouse log add --url ${r.log.url} --key ${shown(join(paths.log, 'log.key'))} /tmp/bogus`,
  );
  if (release !== undefined) {
    const endpoint = shown(paths.endpoint);
    const product = r.product;
    lines.push(
      '  # protect an endpoint: pin the trust bundle (signed by the vendor and the supervisor), install the',
      '  # supervised rules, scan (the demo samples include the EICAR test file: exit 1, detections listed)',
      `  npx glasshouse agent init --dir ${endpoint} --trust ${r.trustBundle.url} --fingerprint ${r.trustBundle.fingerprint}${
        product === undefined
          ? ''
          : ` --product ${product.name} --product-source ${normalizeSourceUri(paths.productSource)}`
      }`,
      `  npx glasshouse agent update --dir ${endpoint}`,
      `  npx glasshouse agent scan --dir ${endpoint} ${shown(join(paths.demoSource, 'samples'))}`,
    );
    if (product !== undefined) {
      lines.push(
        '  # the agent updates itself the same way: agent update also installed its product release (the same',
        '  # checks, then unpacked into a new version directory, checked against the file manifest, self-checked',
        '  # with the new code) and switched product/current; the running agent is untouched, so status shows',
        '  # the version running now beside the one installed, which takes effect at the next start:',
        `  npx glasshouse agent status --dir ${endpoint}`,
        '  # the next start runs the installed version from its own directory:',
        `  node ${shown(join(paths.endpoint, 'product', 'current', 'dist', 'glasshouse.js'))} agent status --dir ${endpoint}`,
        '  # once a newer version is installed, rollback makes the previous one current again (at the next',
        '  # start); with only this version installed it answers AGENT_NO_PREVIOUS_VERSION',
        `  npx glasshouse agent rollback --dir ${endpoint}`,
      );
    }
  }
  for (const half of later) lines.push(...half.tryIt);
  lines.push('', 'Ctrl-C stops it.', '');
  const laterReady: Record<string, unknown> = {};
  for (const half of later) Object.assign(laterReady, half.ready);
  const ready = {
    logUrl: r.log.url,
    witnessUrl: r.witness.url,
    assemblyUrl: r.assembly.url,
    repoUrl: r.repoUrl,
    releaseId: release?.releaseId ?? null,
    targets: release?.targets.map((t) => t.name) ?? [],
    productReleaseId: r.product?.releaseId ?? null,
    productSource: r.product === undefined ? null : normalizeSourceUri(paths.productSource),
    policyPath: paths.policy,
    layoutKeyPath: paths.layoutKey,
    entryPath: paths.demoEntry,
    trustBundleUrl: r.trustBundle.url,
    trustBundleFingerprint: r.trustBundle.fingerprint,
    trustBundlePath: paths.trustBundle,
    ...laterReady,
    dataDir: paths.data,
  };
  lines.push(`ready ${JSON.stringify(ready)}`, '');
  return lines.join('\n');
}

/** The agent's own product release, or why there is none. */
function productLines(
  product: PublishedRelease | undefined,
  paths: StartPaths,
  shown: (p: string) => string,
): string[] {
  if (product === undefined) return [];
  return [
    `product release     ${product.name} ${product.version}, release ${product.releaseId}: the agent itself`,
    `  source            ${shown(paths.productSource)} (npm ci --offline, esbuild, npm pack in the sandbox)`,
    ...product.targets
      .filter((t) => t.custom.kind === 'artifact')
      .map((t) => `  artifact          ${t.name}  sha256 ${t.sha256}`),
  ];
}

function logIndexOf(custom: unknown): string | undefined {
  const index = (custom as { releaseLog?: { index?: unknown } }).releaseLog?.index;
  return typeof index === 'string' ? index : undefined;
}
