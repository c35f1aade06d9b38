/**
 * A vendor and a supervisor on one machine, each with its own directory and
 * keys, pinned to each other the way their operators would do it (public
 * keys handed over), talking over real HTTP on loopback.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AssemblyClient,
  buildAssemblyServer,
  detectSandbox,
  initAssemblyDir,
  initSupervisorDir,
  openAssemblyLine,
  openSupervisor,
  type AssemblyLine,
  type ApprovalPolicy,
  type BuilderIdentity,
  type SandboxInfo,
  type Supervisor,
} from '../src/index.js';
import { TestRepo } from './assembly-fixtures.js';

export const BUILDER_ID = 'https://vendor.example.org/assembly/builder';
export const VERIFIER_ID = 'https://supervisor.example.org/rebuilder';

export interface Supervised {
  readonly work: string;
  readonly repo: TestRepo;
  readonly assemblyDir: string;
  readonly supervisorDir: string;
  readonly builder: BuilderIdentity;
  readonly line: AssemblyLine;
  readonly client: AssemblyClient;
  readonly url: string;
  readonly sandbox: SandboxInfo;
  /** Opens the supervisor (again), e.g. after its policy changed. */
  openSupervisor(): Promise<Supervisor>;
  setPolicy(policy: ApprovalPolicy): Promise<void>;
  close(): Promise<void>;
}

export async function startSupervised(policy: ApprovalPolicy): Promise<Supervised> {
  const work = await mkdtemp(join(tmpdir(), 'glasshouse-supervised-'));
  const repo = await TestRepo.create(join(work, 'source'));
  const sandbox = await detectSandbox();
  const assemblyDir = join(work, 'vendor');
  const supervisorDir = join(work, 'supervisor');
  const builder = await initAssemblyDir({ dir: assemblyDir, builderId: BUILDER_ID });
  const { identity } = await initSupervisorDir({
    dir: supervisorDir,
    verifierId: VERIFIER_ID,
    policy,
    builder: { builderId: builder.builderId, publicKeyPem: builder.publicKeyPem },
  });
  await initAssemblyDir({ dir: assemblyDir, supervisorKeyPem: identity.publicKeyPem });
  const line = await openAssemblyLine({ dir: assemblyDir, debianYara: 'off', sandbox });
  const app = buildAssemblyServer({ line });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    work,
    repo,
    assemblyDir,
    supervisorDir,
    builder,
    line,
    url,
    sandbox,
    client: new AssemblyClient(url),
    openSupervisor: () =>
      openSupervisor({ dir: supervisorDir, debianYara: 'off', sandbox, scratchDir: work }),
    setPolicy: async (next) => {
      await initSupervisorDir({ dir: supervisorDir, policy: next });
    },
    close: async () => {
      await app.close();
      line.close();
      await rm(work, { recursive: true, force: true });
    },
  };
}
