/**
 * The access path as deployed: the access log, the key release and the
 * gateway each in a process of its own (access-child.ts), beside a world
 * (witness, residency log, site) in the caller's process. Used by the kill -9
 * test and by the benchmark. Each role listens on a fixed loopback port, so
 * a restart keeps its URL.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeAccessPolicy } from '@glasshouse/access-format';
import { type Child, freePort, startChild } from '@glasshouse/bench-kit';
import { generateSignerKey } from '@glasshouse/tlog';
import { witnessLines } from '../../telemetry/test/residency-fixture.js';
import type { ChildConfig } from './access-child.js';
import { type AccessWorld, SITE } from './access-world.js';

export type Role = ChildConfig['role'];

export interface AccessProcesses {
  readonly logUrl: string;
  readonly keyReleaseUrl: string;
  readonly gatewayUrl: string;
  /** The access log's c2sp.org/tlog-policy (its key and the world's witness). */
  readonly policy: string;
  /** Each role's data directory. */
  readonly dirs: Readonly<Record<Role, string>>;
  start(role: Role): Promise<void>;
  /** SIGKILL: the process dies mid-work. */
  kill(role: Role): Promise<void>;
  /** SIGTERM, waiting for a clean exit. */
  stop(role: Role): Promise<void>;
  close(): Promise<void>;
}

const b64 = (x: Uint8Array): string => Buffer.from(x).toString('base64');

/** Configures the three processes (none is started yet: `start` each). */
export async function accessProcesses(w: AccessWorld, origin: string): Promise<AccessProcesses> {
  const keys = generateSignerKey(origin);
  await w.witness.addLog(keys.verifierKey);
  const policy = `log ${keys.verifierKey}\n${witnessLines(w.witness)}`;
  const [logPort, krPort, gwPort] = [await freePort(), await freePort(), await freePort()];
  const logUrl = `http://127.0.0.1:${logPort}/`;
  const keyReleaseUrl = `http://127.0.0.1:${krPort}/`;
  const gatewayUrl = `http://127.0.0.1:${gwPort}/`;
  const common = {
    accessLogPolicy: policy,
    accessPolicy: new TextDecoder().decode(encodeAccessPolicy(w.accessPolicy)),
    registry: w.registryText,
    supervisorKey: b64(w.supervisor.publicKey),
    customers: { [w.customer.id]: b64(w.customer.key.publicKey) },
    regions: { EU: SITE },
    gatewaySeed: b64(w.gatewayKey.seed),
    gatewayKey: b64(w.gatewayKey.publicKey),
    accessLogUrl: logUrl,
  };
  const configs: Record<Role, ChildConfig> = {
    log: {
      ...common,
      role: 'log',
      port: logPort,
      dir: await w.tempDir('processes-log'),
      logSignerKey: keys.signerKey,
    },
    keyrelease: {
      ...common,
      role: 'keyrelease',
      port: krPort,
      dir: await w.tempDir('processes-kr'),
      keyReleasePrivateKey: b64(w.keyReleaseKeys.privateKey),
    },
    gateway: {
      ...common,
      role: 'gateway',
      port: gwPort,
      dir: await w.tempDir('processes-gw'),
      siteId: SITE,
      siteUrl: w.siteUrl,
      keyReleaseUrl,
    },
  };
  const children = new Map<Role, Child<{ url: string }>>();
  return {
    logUrl,
    keyReleaseUrl,
    gatewayUrl,
    policy,
    dirs: {
      log: configs.log.dir,
      keyrelease: configs.keyrelease.dir,
      gateway: configs.gateway.dir,
    },
    start: async (role) => {
      const file = join(configs[role].dir, 'config.json');
      await writeFile(file, JSON.stringify(configs[role]));
      children.set(
        role,
        await startChild(new URL('access-child.ts', import.meta.url), [file], 30_000),
      );
    },
    kill: async (role) => {
      const child = children.get(role);
      if (child === undefined) return;
      process.kill(child.pid, 'SIGKILL');
      await child.stop(1_000);
    },
    stop: async (role) => {
      await children.get(role)?.stop();
    },
    close: async () => {
      for (const child of children.values()) await child.stop(2_000);
    },
  };
}
