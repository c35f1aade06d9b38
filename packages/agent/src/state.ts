/**
 * What the agent remembers between updates (DIR/state.json, replaced
 * atomically): the largest release-log checkpoint it has seen, the slot
 * staged last (when it did not become active) and the last update's result.
 */
import type { AgentPaths } from './config.js';
import { AgentError } from './errors.js';
import { readFileIfPresent, writeFileAtomic } from './files.js';

const MAX_STATE_BYTES = 1024 * 1024;

/** A checkpoint of the release log that verified against the policy. */
export interface SeenCheckpoint {
  readonly origin: string;
  /** Decimal tree size. */
  readonly size: string;
  /** Base64 root hash. */
  readonly rootHash: string;
  /** The cosigned note, verbatim: evidence when a later checkpoint disagrees. */
  readonly note: string;
}

export interface ReleaseRef {
  readonly name: string;
  readonly version: string;
  readonly releaseId: string;
  /** SHA-256 of the rules bundle. */
  readonly sha256: string;
}

export type UpdateResult =
  | {
      readonly result: 'installed';
      readonly at: string;
      readonly release: ReleaseRef;
      readonly slot: string;
    }
  | { readonly result: 'up-to-date'; readonly at: string; readonly version: string }
  | {
      readonly result: 'refused';
      readonly at: string;
      readonly code: string;
      readonly message: string;
      readonly version?: string | undefined;
    };

export interface StagedSlot {
  readonly slot: string;
  readonly release: ReleaseRef;
  /** Why it is not active. */
  readonly reason: string;
}

export interface AgentState {
  readonly lastCheckpoint?: SeenCheckpoint | undefined;
  readonly lastUpdate?: UpdateResult | undefined;
  readonly staged?: StagedSlot | undefined;
  /** Product updates (product-update.ts). */
  readonly product?: ProductState | undefined;
}

export type ProductUpdateResult =
  | UpdateResult
  | {
      readonly result: 'rolled-back';
      readonly at: string;
      readonly from: string;
      readonly to: string;
    };

export interface ProductState {
  readonly lastUpdate?: ProductUpdateResult | undefined;
  /** The last version whose install failed its checks (its directory is removed). */
  readonly failed?: StagedSlot | undefined;
  /**
   * The version `agent rollback` left: not installed again by `agent update`
   * until a newer one is published.
   */
  readonly rolledBackFrom?: string | undefined;
}

export async function readState(paths: Pick<AgentPaths, 'state'>): Promise<AgentState> {
  const path = paths.state;
  let bytes;
  try {
    bytes = await readFileIfPresent(path, MAX_STATE_BYTES);
  } catch (cause) {
    throw new AgentError('AGENT_CONFIG_INVALID', `cannot read ${path}`, { cause });
  }
  if (bytes === undefined) return {};
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TypeError('not an object');
    }
    return value;
  } catch (cause) {
    throw new AgentError('AGENT_CONFIG_INVALID', `${path} is not the agent's state`, { cause });
  }
}

/** Replaces the state atomically and durably (written, synced, renamed over, directory synced). */
export async function writeState(
  paths: Pick<AgentPaths, 'state'>,
  state: AgentState,
): Promise<void> {
  await writeFileAtomic(paths.state, `${JSON.stringify(state, null, 2)}\n`);
}
