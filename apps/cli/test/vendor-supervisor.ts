/**
 * The vendor's assembly line and the supervisor, set up through the CLI as
 * an operator would: `assembly init` (builder and layout keys), `supervisor
 * init` pinning the builder key, `assembly init --supervisor-key` pinning
 * the supervisor. Each command's result is kept so a test can assert on it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CallerSpec } from '@glasshouse/httpsig';
import { ROUTES, caller, ensureCallerKey, readCallerKey } from '../src/callers.js';
import { runCli, type CliResult } from './cli-harness.js';

export const BUILDER_ID = 'https://b.example/1';
export const REVIEWER = 'Alice Auditor';
const PEM = /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----\n/g;

/** The public key PEMs in a command's output, in order. */
export function pems(text: string): string[] {
  return text.match(PEM) ?? [];
}

export interface VendorAndSupervisor {
  readonly assemblyDir: string;
  readonly supervisorDir: string;
  /** `<work>/builder.pem`, `<work>/layout.pem`, `<work>/supervisor.pem`. */
  readonly builderKeyFile: string;
  readonly layoutKeyFile: string;
  readonly supervisorKeyFile: string;
  readonly builderPem: string;
  readonly layoutPem: string;
  readonly supervisorPem: string;
  /** `<work>/engineer.key`: the release engineer's caller key, which signs build requests. */
  readonly engineerKeyFile: string;
  /** What each of the three commands answered. */
  readonly results: {
    readonly assemblyInit: CliResult;
    readonly supervisorInit: CliResult;
    readonly assemblyPin: CliResult;
  };
}

/** Sets up `<work>/assembly` and `<work>/supervisor`, each pinned to the other's key. */
export async function initVendorAndSupervisor(work: string): Promise<VendorAndSupervisor> {
  const assemblyDir = join(work, 'assembly');
  const supervisorDir = join(work, 'supervisor');
  const builderKeyFile = join(work, 'builder.pem');
  const layoutKeyFile = join(work, 'layout.pem');
  const supervisorKeyFile = join(work, 'supervisor.pem');
  const engineerKeyFile = join(work, 'engineer.key');
  await ensureCallerKey(engineerKeyFile);
  const assemblyInit = await ok(
    runCli(['assembly', 'init', '--dir', assemblyDir, '--builder-id', BUILDER_ID]),
  );
  const [builderPem = '', layoutPem = ''] = pems(assemblyInit.stdout);
  await writeFile(builderKeyFile, builderPem);
  await writeFile(layoutKeyFile, layoutPem);
  const supervisorInit = await ok(
    runCli([
      'supervisor',
      'init',
      '--dir',
      supervisorDir,
      '--builder-key',
      builderKeyFile,
      '--builder-id',
      BUILDER_ID,
      '--reviewer',
      REVIEWER,
    ]),
  );
  const [supervisorPem = ''] = pems(supervisorInit.stdout);
  await writeFile(supervisorKeyFile, supervisorPem);
  const assemblyPin = await ok(
    runCli(['assembly', 'init', '--dir', assemblyDir, '--supervisor-key', supervisorKeyFile]),
  );
  return {
    assemblyDir,
    supervisorDir,
    builderKeyFile,
    layoutKeyFile,
    supervisorKeyFile,
    builderPem,
    layoutPem,
    supervisorPem,
    engineerKeyFile,
    results: { assemblyInit, supervisorInit, assemblyPin },
  };
}

/** The callers an assembly line of `env` accepts besides the pinned supervisor: its release engineer. */
export async function engineerCallers(env: VendorAndSupervisor): Promise<CallerSpec[]> {
  return [
    caller('release engineer', await readCallerKey(env.engineerKeyFile), ROUTES.assemblyBuild),
  ];
}

/**
 * Builds `commit` of `source` on the assembly line at `url`, has the
 * supervisor review and rebuild it; returns the `release build` and
 * `supervisor rebuild` results.
 */
export async function buildAndApprove(
  env: VendorAndSupervisor,
  url: string,
  source: string,
  commit: string,
): Promise<{ releaseId: string; built: CliResult; rebuilt: CliResult }> {
  const built = await ok(
    runCli([
      'release',
      'build',
      '--key',
      env.engineerKeyFile,
      '--assembly',
      url,
      '--source',
      source,
      '--commit',
      commit,
    ]),
  );
  const releaseId = /^release (\S+)$/m.exec(built.stdout)?.[1] ?? '';
  await ok(reviewRelease(url, env.supervisorDir, releaseId, REVIEWER, 'read the recipe'));
  const rebuilt = await ok(
    runCli(['supervisor', 'rebuild', releaseId, '--assembly', url, '--dir', env.supervisorDir]),
  );
  return { releaseId, built, rebuilt };
}

/** `supervisor review RELEASE` by `reviewer` with `note`. */
export function reviewRelease(
  url: string,
  supervisorDir: string,
  releaseId: string,
  reviewer: string,
  note: string,
): Promise<CliResult> {
  return runCli([
    'supervisor',
    'review',
    releaseId,
    '--assembly',
    url,
    '--dir',
    supervisorDir,
    '--reviewer',
    reviewer,
    '--note',
    note,
  ]);
}

/** The command's result; throws with its stderr when it did not exit 0. */
async function ok(run: Promise<CliResult>): Promise<CliResult> {
  const res = await run;
  if (res.code !== 0) throw new Error(`exit ${res.code}: ${res.stderr}`);
  return res;
}
