/**
 * What `agent status` shows: the active and staged rules, the trust roots,
 * the last release-log checkpoint seen and the last update's result.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAgent, type AgentConfig } from './config.js';
import { activeSlot, slotDir, slotRelease } from './install.js';
import { productLink, productSlotDir, productVersionOf } from './product-install.js';
import {
  readState,
  type ProductState,
  type SeenCheckpoint,
  type StagedSlot,
  type UpdateResult,
} from './state.js';

/** A product version directory as status shows it. */
export interface ProductVersion {
  readonly slot: string;
  readonly path: string;
  readonly version?: string;
}

export interface AgentStatus {
  readonly active:
    | {
        readonly slot: string;
        readonly path: string;
        readonly name?: string;
        readonly version?: string;
      }
    | undefined;
  readonly staged: StagedSlot | undefined;
  readonly trust: {
    readonly config: AgentConfig;
    /** The policy's log and witness lines and its quorum. */
    readonly log: string;
    readonly witnesses: readonly string[];
    readonly quorum: string;
    /** Version of the TUF root tuf-js trusts now. */
    readonly tufRootVersion: number | undefined;
  };
  readonly lastCheckpoint: SeenCheckpoint | undefined;
  readonly lastUpdate: UpdateResult | undefined;
  /** The installed product (the version the agent starts next time), when one is followed. */
  readonly product:
    | (ProductState & {
        readonly name: string;
        readonly current: ProductVersion | undefined;
        readonly previous: ProductVersion | undefined;
      })
    | undefined;
}

export async function agentStatus(dir: string): Promise<AgentStatus> {
  const agent = await loadAgent(dir);
  const { paths } = agent;
  const state = await readState(paths);
  const slot = await activeSlot(paths);
  const release = slot === undefined ? undefined : await slotRelease(paths, slot);
  return {
    active: slot === undefined ? undefined : { slot, path: slotDir(paths, slot), ...release },
    staged: state.staged,
    trust: {
      config: agent.config,
      log: agent.policy.logs[0]?.vkey ?? '',
      witnesses: agent.policy.witnesses.map((w) => `${w.name} ${w.vkey}`),
      quorum: agent.policy.quorum,
      tufRootVersion: await tufRootVersion(paths.tufMetadata),
    },
    lastCheckpoint: state.lastCheckpoint,
    lastUpdate: state.lastUpdate,
    product:
      agent.config.product === undefined
        ? undefined
        : {
            ...state.product,
            name: agent.config.product.name,
            current: await productVersion(paths, await productLink(paths.productCurrent)),
            previous: await productVersion(paths, await productLink(paths.productPrevious)),
          },
  };
}

async function productVersion(
  paths: Parameters<typeof productSlotDir>[0],
  slot: string | undefined,
): Promise<ProductVersion | undefined> {
  if (slot === undefined) return undefined;
  const path = productSlotDir(paths, slot);
  const found = await productVersionOf(path);
  return { slot, path, ...(found === undefined ? {} : { version: found.version }) };
}

async function tufRootVersion(metadataDir: string): Promise<number | undefined> {
  try {
    const root = JSON.parse(await readFile(join(metadataDir, 'root.json'), 'utf8')) as {
      signed?: { version?: unknown };
    };
    return typeof root.signed?.version === 'number' ? root.signed.version : undefined;
  } catch {
    return undefined; // shown as unknown; update reports why tuf-js cannot load it
  }
}
