/**
 * The enrollment bundle of `start`: what an endpoint pins, signed by the
 * vendor's and the supervisor's TUF root keys (format and checks in
 * @glasshouse/release-format trust-bundle). The vendor drafts it from its published
 * root and its services' URLs; the supervisor checks that it names its own
 * keys and the builder it pinned before adding its signature. Written to the
 * repository directory (served at TRUST_BUNDLE_PATH) and to the data
 * directory; re-signed only when its content changes.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ReleaseFormatError,
  checkResidencyIsSupervisors,
  encodeTrustBundlePayload,
  trustBundleEnvelope,
  trustBundleFingerprint,
  TRUST_BUNDLE_SCHEMA,
  type ResidencyTrust,
  type SupervisorResidencyKeys,
  type TrustBundle,
} from '@glasshouse/release-format';
import {
  TRUST_BUNDLE_FILE,
  loadTufKey,
  readRepositoryState,
  repoPaths,
  type SupervisorTufKeys,
  type TufSigningKey,
} from '@glasshouse/distribution';
import { writeFileDurably } from '@glasshouse/durable';
import { CodedError } from '@glasshouse/errors';
import type { BuilderIdentity, Supervisor } from '@glasshouse/release';

export interface TrustBundleInputs {
  readonly repoDir: string;
  readonly repoUrl: string;
  readonly logUrl: string;
  readonly witnessPolicy: string;
  readonly rulesName: string;
  readonly source: string;
  readonly builder: BuilderIdentity;
  readonly supervisor: Supervisor;
  readonly supervisorTufKeys: SupervisorTufKeys;
  /** The data path's trust (residency log policy, residency keys, key-release key), when the data half runs. */
  readonly residency?: ResidencyTrust | undefined;
  /** The supervisor's own residency keys, read from its directory: what it checks `residency` against. */
  readonly supervisorResidency?: SupervisorResidencyKeys | undefined;
}

export interface PublishedTrustBundle {
  readonly bytes: Uint8Array;
  readonly fingerprint: string;
}

/** Drafts, co-signs and writes the bundle to `<repoDir>/trust-bundle.json` and `copyTo`. */
export async function publishTrustBundle(
  inputs: TrustBundleInputs,
  copyTo: string,
): Promise<PublishedTrustBundle> {
  const { payload, vendorKey } = await vendorDraft(inputs);
  supervisorCheck(payload, inputs);
  const encoded = encodeTrustBundlePayload(payload);
  const servedPath = join(inputs.repoDir, TRUST_BUNDLE_FILE);
  // Same content as the bundle already published: keep its bytes (and fingerprint).
  const current = existsSync(servedPath) ? await readFile(servedPath) : undefined;
  const bytes =
    current !== undefined && samePayload(current, encoded)
      ? current
      : Buffer.from(trustBundleEnvelope(encoded, [vendorKey, inputs.supervisorTufKeys.root]));
  if (current === undefined || !current.equals(bytes)) await writeFileDurably(servedPath, bytes);
  if (!existsSync(copyTo) || !(await readFile(copyTo)).equals(bytes)) {
    await writeFileDurably(copyTo, bytes);
  }
  return { bytes, fingerprint: trustBundleFingerprint(bytes) };
}

/** The vendor's part: the published root and its own root key among that root's keys. */
async function vendorDraft(
  inputs: TrustBundleInputs,
): Promise<{ payload: TrustBundle; vendorKey: TufSigningKey }> {
  const paths = repoPaths(inputs.repoDir);
  const state = await readRepositoryState(inputs.repoDir);
  const tufRoot = JSON.parse(
    await readFile(paths.versioned(state.rootVersion, 'root'), 'utf8'),
  ) as TrustBundle['tufRoot'];
  const rootKeyids = (tufRoot.signed.roles as { root: { keyids: string[] } }).root.keyids;
  const vendorKeyid = rootKeyids.find(
    (k) => k !== inputs.supervisorTufKeys.root.keyid && existsSync(paths.vendorRootKey(k)),
  );
  if (vendorKeyid === undefined) {
    throw new CodedError('START_TRUST_BUNDLE', 'the vendor holds none of the root keys');
  }
  const { identity } = inputs.supervisor;
  return {
    vendorKey: await loadTufKey(paths.vendorRootKey(vendorKeyid)),
    payload: {
      schema: TRUST_BUNDLE_SCHEMA,
      tufRoot,
      witnessPolicy: inputs.witnessPolicy,
      repoUrl: inputs.repoUrl,
      logUrl: inputs.logUrl,
      rulesName: inputs.rulesName,
      source: inputs.source,
      supervisor: {
        publicKeyPem: identity.publicKeyPem,
        verifierId: identity.verifierId,
        tufKeys: {
          root: inputs.supervisorTufKeys.root.publicKey,
          release: inputs.supervisorTufKeys.release.publicKey,
        },
      },
      builder: { publicKeyPem: inputs.builder.publicKeyPem, builderId: inputs.builder.builderId },
      ...(inputs.residency === undefined ? {} : { residency: inputs.residency }),
    },
  };
}

/** The supervisor signs only a bundle naming its own keys and the builder it pinned. */
export function supervisorCheck(payload: TrustBundle, inputs: TrustBundleInputs): void {
  const { supervisor, supervisorTufKeys } = inputs;
  const refuse = (what: string): never => {
    throw new CodedError('START_TRUST_BUNDLE', `the supervisor refuses the trust bundle: ${what}`);
  };
  if (
    payload.supervisor.publicKeyPem !== supervisor.identity.publicKeyPem ||
    payload.supervisor.verifierId !== supervisor.identity.verifierId
  ) {
    refuse('it does not name its VSA key and verifier id');
  }
  if (
    payload.supervisor.tufKeys.root.keyval.public !==
      supervisorTufKeys.root.publicKey.keyval.public ||
    payload.supervisor.tufKeys.release.keyval.public !==
      supervisorTufKeys.release.publicKey.keyval.public
  ) {
    refuse('it does not name its TUF keys');
  }
  const roles = payload.tufRoot.signed.roles as { root: { keyids: string[]; threshold: number } };
  // TUF 5.3.4: the root must need the supervisor's root key, threshold at least 2.
  if (!roles.root.keyids.includes(supervisorTufKeys.root.keyid) || roles.root.threshold < 2) {
    refuse('its TUF root does not need the supervisor');
  }
  const pinned = supervisor.config.builders.find((b) => b.builderId === payload.builder.builderId);
  if (pinned?.publicKeyPem !== payload.builder.publicKeyPem) {
    refuse('it names a builder the supervisor has not pinned');
  }
  // Endpoints seal personal fields to the key-release key the bundle names: it must be the supervisor's.
  try {
    checkResidencyIsSupervisors(payload.residency, inputs.supervisorResidency);
  } catch (err) {
    if (!(err instanceof ReleaseFormatError)) throw err;
    refuse(err.message);
  }
}

function samePayload(envelopeBytes: Uint8Array, payload: Uint8Array): boolean {
  try {
    const envelope = JSON.parse(Buffer.from(envelopeBytes).toString('utf8')) as {
      payload?: unknown;
    };
    return envelope.payload === Buffer.from(payload).toString('base64');
  } catch {
    // A damaged file is replaced.
    return false;
  }
}
