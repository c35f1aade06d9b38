/**
 * The agent's trust roots, pinned once by `initAgent` and read by every
 * update: the TUF root, the witness policy of the release log (which names
 * the log's key), the supervisor's VSA key and verifier id, the vendor
 * builder's provenance key and builder id, the source repository, and the
 * name of the rules release to follow.
 *
 * Layout of DIR:
 *
 *     agent.json                  the pinned identities; written last by initAgent
 *     trust/root.json             the TUF root given at init (kept as pinned)
 *     trust/witness-policy.txt    the c2sp.org/tlog-policy of the release log
 *     trust/residency.json        optional: the data path's trust (telemetry/trust.ts)
 *     device.key                  the device key, made with the residency trust (0600)
 *     tuf/metadata/               tuf-js's metadata directory (its trusted state)
 *     state.json                  last checkpoint seen, last update result, staged slot
 *     rules/slots/<slot>/         installed bundles (install.ts)
 *     rules/active -> slots/<slot>
 *     product/versions/<slot>/    installed product versions (product-install.ts)
 *     product/current -> versions/<slot>, product/previous -> versions/<slot>
 */
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import { publicKeyFromPem, type PublicKey } from '@glasshouse/attest';
import {
  tufKeyId,
  type TufPublicKey,
  openTrustBundle,
  ReleaseFormatError,
  verifyTrustBundleFingerprint,
  type ReleaseFormatErrorCode,
  type ResidencyTrust,
  type TrustBundle,
} from '@glasshouse/release-format';
import { parsePolicy, type Policy } from '@glasshouse/tlog';
import { AgentError, type AgentErrorCode } from './errors.js';
import { readFileIfPresent, writeFileAtomic } from './files.js';
import { checkPinnedResidency, pinResidency } from './telemetry/trust.js';

export const AGENT_CONFIG_SCHEMA = 'glasshouse.agent/v1';
/** The config is a few keys and URLs. */
const MAX_CONFIG_BYTES = 256 * 1024;
/** TUF root metadata is capped like tuf-js caps it (rootMaxLength). */
export const MAX_ROOT_BYTES = 512_000;
const MAX_ID_LENGTH = 1024;
/** A TUF target path segment (distribution's portable names). */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** Where each file of DIR lives. */
export function agentPaths(dir: string) {
  return {
    config: join(dir, 'agent.json'),
    pinnedRoot: join(dir, 'trust', 'root.json'),
    policy: join(dir, 'trust', 'witness-policy.txt'),
    tufMetadata: join(dir, 'tuf', 'metadata'),
    tufDownloads: join(dir, 'tuf', 'downloads'),
    state: join(dir, 'state.json'),
    rules: join(dir, 'rules'),
    slots: join(dir, 'rules', 'slots'),
    active: join(dir, 'rules', 'active'),
    product: join(dir, 'product'),
    productVersions: join(dir, 'product', 'versions'),
    productCurrent: join(dir, 'product', 'current'),
    productPrevious: join(dir, 'product', 'previous'),
  };
}

export type AgentPaths = ReturnType<typeof agentPaths>;

/** What `agent.json` holds. */
export interface AgentConfig {
  readonly schema: typeof AGENT_CONFIG_SCHEMA;
  /** The repository's base URL; tuf-js reads `<url>/metadata` and `<url>/targets`. */
  readonly repoUrl: string;
  /** The rules release followed: targets `<rulesName>/<version>/…`. */
  readonly rulesName: string;
  /** The release log's prefix URL, for consistency proofs. */
  readonly logUrl: string;
  /** The supervisor: its VSA signing key (SPKI PEM) and `verifier.id`. */
  readonly supervisor: { readonly publicKeyPem: string; readonly verifierId: string };
  /** The vendor's builder: its provenance signing key (SPKI PEM) and `builder.id`. */
  readonly builder: { readonly publicKeyPem: string; readonly builderId: string };
  /** The source repository URI the provenance and the VSA must name. */
  readonly source: string;
  /**
   * The supervisor's TUF key IDs, when pinned: the trusted root must list its
   * root key and the `releases` role its release key.
   */
  readonly supervisorTufKeys?: { readonly root: string; readonly release: string } | undefined;
  /**
   * The product release followed, when the agent updates its own code:
   * targets `<product.name>/<version>/…`, built from `product.source`.
   */
  readonly product?: ProductConfig | undefined;
}

export interface ProductConfig {
  readonly name: string;
  /** The source repository URI the product's provenance and VSA must name. */
  readonly source: string;
}

/** The configuration with its keys and policy parsed. */
export interface Agent {
  readonly dir: string;
  /** Where each file of `dir` lives, computed once. */
  readonly paths: AgentPaths;
  readonly config: AgentConfig;
  readonly policy: Policy;
  readonly policyText: string;
  readonly supervisorKey: PublicKey;
  readonly builderKey: PublicKey;
}

export interface InitAgentOptions {
  readonly dir: string;
  readonly repoUrl: string;
  /** The TUF root to trust first (the repository's `1.root.json`). */
  readonly root: Uint8Array;
  /** The release log's c2sp.org/tlog-policy. */
  readonly policy: string;
  readonly rulesName: string;
  readonly supervisorKeyPem: string;
  readonly verifierId: string;
  readonly builderKeyPem: string;
  readonly builderId: string;
  readonly source: string;
  /** Overrides the URL of the policy's `log` line. */
  readonly logUrl?: string | undefined;
  readonly supervisorTufKeys?: { readonly root: TufPublicKey; readonly release: TufPublicKey };
  /** The data path's trust (router, residency log, key-release key); pins telemetry too. */
  readonly residency?: ResidencyTrust | undefined;
  /** The product release to follow (product updates); none by default. */
  readonly product?: ProductConfig | undefined;
}

/**
 * Pins the trust roots in DIR. Everything is checked before `agent.json`
 * is written (the commit point): the root must be self-signed TUF root
 * metadata tuf-js accepts, the policy must parse and name a log with a URL
 * (or `logUrl` be given), the keys must be Ed25519 SPKI PEM.
 */
export async function initAgent(options: InitAgentOptions): Promise<Agent> {
  const paths = agentPaths(options.dir);
  if ((await readFileIfPresent(paths.config, MAX_CONFIG_BYTES)) !== undefined) {
    throw new AgentError('AGENT_ALREADY_INITIALIZED', `${options.dir} already has an agent.json`);
  }
  const dirExisted = await stat(options.dir).then(
    () => true,
    (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    },
  );
  try {
    return await pinTrust(options, paths);
  } catch (err) {
    // A refused init leaves DIR as it found it.
    if (dirExisted) {
      await rm(join(options.dir, 'tuf'), { recursive: true, force: true });
      await rm(join(options.dir, 'trust'), { recursive: true, force: true });
      await rm(join(options.dir, 'device.key'), { force: true });
    } else {
      await rm(options.dir, { recursive: true, force: true });
    }
    throw err;
  }
}

/** The trust bundle's refusals (release-format) as the agent's codes. */
const TRUST_BUNDLE_CODES: Readonly<Record<ReleaseFormatErrorCode, AgentErrorCode>> = {
  TRUST_BUNDLE_MALFORMED: 'AGENT_TRUST_BUNDLE_MALFORMED',
  TRUST_BUNDLE_FINGERPRINT_INVALID: 'AGENT_OPTION_INVALID',
  TRUST_BUNDLE_FINGERPRINT_MISMATCH: 'AGENT_TRUST_BUNDLE_FINGERPRINT_MISMATCH',
  TRUST_BUNDLE_KEY_MISMATCH: 'AGENT_TRUST_BUNDLE_KEY_MISMATCH',
  TRUST_BUNDLE_SIGNATURE_INVALID: 'AGENT_TRUST_BUNDLE_SIGNATURE_INVALID',
  TRUST_BUNDLE_SIGNATURE_MISSING: 'AGENT_TRUST_BUNDLE_SIGNATURE_MISSING',
  // Not trust bundle codes; listed so the table is total.
  RELEASE_LOG_ENTRY_INVALID: 'AGENT_TRUST_BUNDLE_MALFORMED',
  SUPERVISOR_ATTESTATION_INVALID: 'AGENT_TRUST_BUNDLE_MALFORMED',
  // The supervisor's check before it co-signs; an endpoint never runs it.
  TRUST_BUNDLE_RESIDENCY_FOREIGN: 'AGENT_TRUST_BUNDLE_MALFORMED',
  PRODUCT_FILES_INVALID: 'AGENT_TRUST_BUNDLE_MALFORMED',
  VERDICT_LIST_INVALID: 'AGENT_TRUST_BUNDLE_MALFORMED',
  RELEASE_KIT_INCOMPLETE: 'AGENT_TRUST_BUNDLE_MALFORMED',
};

/**
 * `initAgent` from a trust bundle (release-format trust-bundle.ts): the fingerprint, when
 * given, is checked first, then both signatures; nothing is written before.
 */
export async function initAgentFromTrustBundle(options: {
  readonly dir: string;
  readonly bundle: Uint8Array;
  readonly fingerprint?: string | undefined;
  /** The product release to follow, besides what the bundle pins. */
  readonly product?: ProductConfig | undefined;
}): Promise<Agent> {
  let bundle: TrustBundle;
  try {
    if (options.fingerprint !== undefined) {
      verifyTrustBundleFingerprint(options.bundle, options.fingerprint);
    }
    bundle = openTrustBundle(options.bundle);
  } catch (err) {
    if (!(err instanceof ReleaseFormatError)) throw err;
    throw new AgentError(TRUST_BUNDLE_CODES[err.code], err.message, {
      cause: err,
      ...(err.evidence === undefined ? {} : { evidence: { ...err.evidence } }),
    });
  }
  return initAgent({
    dir: options.dir,
    repoUrl: bundle.repoUrl,
    root: Buffer.from(`${JSON.stringify(bundle.tufRoot, null, 2)}\n`),
    policy: bundle.witnessPolicy,
    rulesName: bundle.rulesName,
    supervisorKeyPem: bundle.supervisor.publicKeyPem,
    verifierId: bundle.supervisor.verifierId,
    builderKeyPem: bundle.builder.publicKeyPem,
    builderId: bundle.builder.builderId,
    source: bundle.source,
    logUrl: bundle.logUrl,
    supervisorTufKeys: bundle.supervisor.tufKeys,
    residency: bundle.residency,
    product: options.product,
  });
}

async function pinTrust(options: InitAgentOptions, paths: AgentPaths): Promise<Agent> {
  const config: AgentConfig = {
    schema: AGENT_CONFIG_SCHEMA,
    repoUrl: httpUrl(options.repoUrl, 'the repository URL').replace(/\/+$/, ''),
    rulesName: rulesName(options.rulesName),
    logUrl: '',
    supervisor: {
      publicKeyPem: options.supervisorKeyPem,
      verifierId: identifier(options.verifierId, 'the verifier id'),
    },
    builder: {
      publicKeyPem: options.builderKeyPem,
      builderId: identifier(options.builderId, 'the builder id'),
    },
    source: identifier(options.source, 'the source URI'),
    ...(options.supervisorTufKeys === undefined
      ? {}
      : {
          supervisorTufKeys: {
            root: tufKeyId(options.supervisorTufKeys.root),
            release: tufKeyId(options.supervisorTufKeys.release),
          },
        }),
    ...(options.product === undefined
      ? {}
      : {
          product: {
            name: rulesName(options.product.name, 'product'),
            source: identifier(options.product.source, 'the product source URI'),
          },
        }),
  };
  const policy = parsePolicyOption(options.policy);
  const logUrl = options.logUrl ?? policy.logs[0]?.url;
  if (logUrl === undefined) {
    throw new AgentError(
      'AGENT_OPTION_INVALID',
      "the policy's log line has no URL; give the release log's URL",
    );
  }
  const full: AgentConfig = { ...config, logUrl: withSlash(httpUrl(logUrl, 'the log URL')) };
  checkKeys(full);
  if (options.residency !== undefined) checkPinnedResidency(options.residency);
  if (options.root.length > MAX_ROOT_BYTES) {
    throw new AgentError('AGENT_OPTION_INVALID', `the TUF root is over ${MAX_ROOT_BYTES} bytes`);
  }

  // tuf-js loads the trusted root when an Updater is made, checking that it
  // is root metadata signed by a threshold of its own keys (TUF 5.2).
  await rm(paths.tufMetadata, { recursive: true, force: true });
  await writeFileAtomic(join(paths.tufMetadata, 'root.json'), options.root);
  try {
    new Updater({
      metadataDir: paths.tufMetadata,
      metadataBaseUrl: `${full.repoUrl}/metadata`,
    });
  } catch (cause) {
    await rm(paths.tufMetadata, { recursive: true, force: true });
    throw new AgentError('AGENT_OPTION_INVALID', 'the TUF root is not valid root metadata', {
      cause,
    });
  }
  await writeFileAtomic(paths.pinnedRoot, options.root);
  await writeFileAtomic(paths.policy, options.policy);
  if (options.residency !== undefined) await pinResidency(options.dir, options.residency);
  await writeFileAtomic(paths.config, `${JSON.stringify(full, null, 2)}\n`);
  return loadAgent(options.dir);
}

/** Reads DIR's configuration: AGENT_NOT_INITIALIZED without one, AGENT_CONFIG_INVALID when damaged. */
export async function loadAgent(dir: string): Promise<Agent> {
  const paths = agentPaths(dir);
  const bytes = await readFileIfPresent(paths.config, MAX_CONFIG_BYTES).catch((cause: unknown) => {
    throw new AgentError('AGENT_CONFIG_INVALID', `cannot read ${paths.config}`, { cause });
  });
  if (bytes === undefined) {
    throw new AgentError('AGENT_NOT_INITIALIZED', `${dir} has no agent.json; run agent init`);
  }
  let config: AgentConfig;
  let policyText: string;
  try {
    config = parseConfig(JSON.parse(bytes.toString('utf8')));
    policyText = await readFile(paths.policy, 'utf8');
  } catch (cause) {
    if (cause instanceof AgentError) throw cause;
    throw new AgentError('AGENT_CONFIG_INVALID', `${paths.config} cannot be read`, { cause });
  }
  const { supervisorKey, builderKey } = checkKeys(config);
  let policy: Policy;
  try {
    policy = parsePolicy(policyText);
  } catch (cause) {
    throw new AgentError('AGENT_CONFIG_INVALID', 'the pinned witness policy does not parse', {
      cause,
    });
  }
  return { dir, paths, config, policy, policyText, supervisorKey, builderKey };
}

function parseConfig(value: unknown): AgentConfig {
  const invalid = (what: string): never => {
    throw new AgentError('AGENT_CONFIG_INVALID', `agent.json: ${what}`);
  };
  const v = value as Partial<Record<keyof AgentConfig, unknown>> | null;
  if (typeof v !== 'object' || v === null) return invalid('not an object');
  if (v.schema !== AGENT_CONFIG_SCHEMA) invalid(`schema is not ${AGENT_CONFIG_SCHEMA}`);
  for (const key of ['repoUrl', 'rulesName', 'logUrl', 'source'] as const) {
    if (typeof v[key] !== 'string' || v[key] === '') invalid(`${key} is not a string`);
  }
  const sup = v.supervisor as { publicKeyPem?: unknown; verifierId?: unknown } | undefined;
  if (typeof sup?.publicKeyPem !== 'string' || typeof sup.verifierId !== 'string') {
    invalid('supervisor is not {publicKeyPem, verifierId}');
  }
  const bld = v.builder as { publicKeyPem?: unknown; builderId?: unknown } | undefined;
  if (typeof bld?.publicKeyPem !== 'string' || typeof bld.builderId !== 'string') {
    invalid('builder is not {publicKeyPem, builderId}');
  }
  const tuf = v.supervisorTufKeys as { root?: unknown; release?: unknown } | undefined;
  if (
    tuf !== undefined &&
    (typeof tuf.root !== 'string' ||
      !/^[0-9a-f]{64}$/.test(tuf.root) ||
      typeof tuf.release !== 'string' ||
      !/^[0-9a-f]{64}$/.test(tuf.release))
  ) {
    invalid('supervisorTufKeys is not {root, release} key IDs');
  }
  const product = v.product as { name?: unknown; source?: unknown } | undefined;
  if (
    product !== undefined &&
    (typeof product.name !== 'string' ||
      !NAME.test(product.name) ||
      typeof product.source !== 'string' ||
      product.source === '')
  ) {
    invalid('product is not {name, source}');
  }
  return v as AgentConfig;
}

function checkKeys(config: AgentConfig): { supervisorKey: PublicKey; builderKey: PublicKey } {
  const key = (pem: string, whose: string): PublicKey => {
    try {
      return publicKeyFromPem(pem);
    } catch (cause) {
      throw new AgentError('AGENT_OPTION_INVALID', `${whose} key is not an Ed25519 SPKI PEM`, {
        cause,
      });
    }
  };
  return {
    supervisorKey: key(config.supervisor.publicKeyPem, "the supervisor's"),
    builderKey: key(config.builder.publicKeyPem, "the builder's"),
  };
}

function parsePolicyOption(text: string): Policy {
  let policy: Policy;
  try {
    policy = parsePolicy(text);
  } catch (cause) {
    throw new AgentError('AGENT_OPTION_INVALID', 'the witness policy does not parse', { cause });
  }
  // The agent follows one release log.
  if (policy.logs.length !== 1) {
    throw new AgentError('AGENT_OPTION_INVALID', 'the witness policy must name exactly one log', {
      evidence: { logs: policy.logs.length },
    });
  }
  return policy;
}

function httpUrl(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new AgentError('AGENT_OPTION_INVALID', `${what} is not a URL`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AgentError('AGENT_OPTION_INVALID', `${what} is not an http(s) URL`);
  }
  return value;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function identifier(value: string, what: string): string {
  // Ids are compared byte for byte; refuse what cannot be one.
  if (value === '' || value.length > MAX_ID_LENGTH || /\s/.test(value)) {
    throw new AgentError(
      'AGENT_OPTION_INVALID',
      `${what} must be 1-${MAX_ID_LENGTH} characters without spaces`,
    );
  }
  return value;
}

function rulesName(value: string, what: 'rules' | 'product' = 'rules'): string {
  if (!NAME.test(value)) {
    throw new AgentError(
      'AGENT_OPTION_INVALID',
      `the ${what} name is not a portable target name segment`,
    );
  }
  return value;
}
