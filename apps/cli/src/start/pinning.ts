/**
 * The vendor's assembly line and the supervisor, each with its own key,
 * pinned to each other's public key: the supervisor accepts provenance
 * only from the pinned builder key, the assembly line accepts approvals
 * only from the pinned supervisor key. A pin already in place is left
 * untouched.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { publicKeyFromPem } from '@glasshouse/attest';
import {
  ASSEMBLY_CONFIG_FILE,
  SUPERVISOR_CONFIG_FILE,
  initAssemblyDir,
  initSupervisorDir,
  openSupervisor,
  type BuilderIdentity,
  type Supervisor,
} from '@glasshouse/release';
import type { StartPaths } from './paths.js';

export async function pinEachOther(
  paths: StartPaths,
): Promise<{ builder: BuilderIdentity; supervising: Supervisor }> {
  const builder = await initAssemblyDir({ dir: paths.assembly });
  const builderKeyid = publicKeyFromPem(builder.publicKeyPem).keyid;
  let supervising = existsSync(join(paths.supervisor, SUPERVISOR_CONFIG_FILE))
    ? await openSupervisor({ dir: paths.supervisor })
    : undefined;
  const pinned = supervising?.config.builders.find((b) => b.builderId === builder.builderId);
  if (
    supervising === undefined ||
    pinned === undefined ||
    publicKeyFromPem(pinned.publicKeyPem).keyid !== builderKeyid
  ) {
    await initSupervisorDir({
      dir: paths.supervisor,
      builder: { builderId: builder.builderId, publicKeyPem: builder.publicKeyPem },
    });
    supervising = await openSupervisor({ dir: paths.supervisor });
  }
  if ((await pinnedSupervisorKeyid(paths.assembly)) !== supervising.identity.keyid) {
    await initAssemblyDir({
      dir: paths.assembly,
      supervisorKeyPem: supervising.identity.publicKeyPem,
    });
  }
  return { builder, supervising };
}

/** The keyid of the supervisor key pinned in an assembly line's configuration, if any. */
async function pinnedSupervisorKeyid(assemblyDir: string): Promise<string | undefined> {
  const config = JSON.parse(await readFile(join(assemblyDir, ASSEMBLY_CONFIG_FILE), 'utf8')) as {
    supervisor?: { publicKeyPem?: unknown };
  };
  const pem = config.supervisor?.publicKeyPem;
  return typeof pem === 'string' ? publicKeyFromPem(pem).keyid : undefined;
}
