/**
 * A release as an endpoint or reviewer checks it: the signed layout, every
 * `build` link and the artifacts, fetched from the assembly line and checked
 * against a layout key pinned out of band. `verifyReleaseKit` does in
 * process what in-toto-verify does for this layout (in-toto-spec §5.2 steps
 * 1–4 and the inspection's MATCH rules); `writeReleaseKit` lays the same
 * files out for the real in-toto-verify:
 *
 *     <dir>/root.layout         the layout
 *     <dir>/layout-key.pub      the pinned layout key (securesystemslib JSON)
 *     <dir>/links/<step>.<keyid8>.link
 *     <dir>/delivery/<artifact> the delivered files (run in-toto-verify here)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  formatPublicKeyFile,
  linkFileName,
  parseLayoutMetablock,
  parseLinkMetablock,
  serializeMetablock,
  type LayoutMetadata,
  type LinkMetadata,
  type Metablock,
  type PublicKey,
  sha256Hex,
} from '@glasshouse/attest';
import { assertSafeRelativePath } from '@glasshouse/bundle';
import { verifyReleaseLayout, type ReleaseRecord } from '@glasshouse/release-format';
import type { AssemblyClient } from './assembly-client.js';
import { LAYOUT_FILE_NAME } from './directory.js';

export const LAYOUT_KEY_FILE_NAME = 'layout-key.pub';

export interface ReleaseKit {
  readonly record: ReleaseRecord;
  readonly layout: Metablock<LayoutMetadata>;
  readonly links: readonly {
    readonly fileName: string;
    readonly metablock: Metablock<LinkMetadata>;
  }[];
  readonly artifacts: readonly { readonly name: string; readonly bytes: Uint8Array }[];
}

/** Fetches an approved release's layout, `build` links and artifacts. */
export async function fetchReleaseKit(client: AssemblyClient, id: string): Promise<ReleaseKit> {
  const record = await client.getRelease(id);
  const layout = parseLayoutMetablock(await client.layout(id));
  const links = [];
  for (const ref of record.attestations) {
    if (ref.kind !== 'link') continue;
    const metablock = parseLinkMetablock(await client.attestation(id, ref.sha256));
    const keyid = metablock.signatures[0]?.keyid;
    if (keyid === undefined) continue;
    links.push({ fileName: linkFileName(metablock.signed.name, keyid), metablock });
  }
  const artifacts = [];
  for (const a of record.artifacts) {
    artifacts.push({ name: a.name, bytes: await client.artifact(id, a.name) });
  }
  return { record, layout, links, artifacts };
}

/**
 * Throws unless the layout is signed by `layoutKey` and unexpired (§5.2
 * steps 1–2), the `build` step has links from `threshold` of its
 * functionaries that agree (steps 3–4, §4.3.1), and every delivered
 * artifact is a product of that step with the same SHA-256 (the layout's
 * inspection MATCH rules) and nothing else is delivered (its DISALLOW *).
 * Codes are @glasshouse/attest's (LAYOUT_EXPIRED, STEP_THRESHOLD_NOT_MET,
 * LINK_PRODUCT_MISMATCH, ...) or RELEASE_KIT_INCOMPLETE.
 */
export function verifyReleaseKit(
  kit: ReleaseKit,
  options: { layoutKey: PublicKey; now: Date },
): void {
  verifyReleaseLayout(
    {
      layout: kit.layout,
      links: kit.links.map((l) => l.metablock),
      artifacts: kit.artifacts.map((a) => ({ name: a.name, sha256: sha256Hex(a.bytes) })),
    },
    options,
  );
}

/** Writes the kit for in-toto-verify (layout at the directory's top, see the module comment). */
export async function writeReleaseKit(
  kit: ReleaseKit,
  dir: string,
  layoutKey: PublicKey,
): Promise<{ deliveryDir: string }> {
  const deliveryDir = join(dir, 'delivery');
  await mkdir(join(dir, 'links'), { recursive: true });
  await mkdir(deliveryDir, { recursive: true });
  await writeFile(join(dir, LAYOUT_FILE_NAME), serializeMetablock(kit.layout));
  await writeFile(join(dir, LAYOUT_KEY_FILE_NAME), formatPublicKeyFile(layoutKey));
  for (const link of kit.links) {
    assertSafeRelativePath(link.fileName);
    await writeFile(join(dir, 'links', link.fileName), serializeMetablock(link.metablock));
  }
  for (const artifact of kit.artifacts) {
    // Artifact names come from the vendor: no absolute paths, no `..`.
    assertSafeRelativePath(artifact.name);
    await mkdir(dirname(join(deliveryDir, artifact.name)), { recursive: true });
    await writeFile(join(deliveryDir, artifact.name), artifact.bytes);
  }
  return { deliveryDir };
}

/** The in-toto-verify invocation for a kit written by `writeReleaseKit`, run in `delivery/`. */
export function inTotoVerifyArgs(): string[] {
  return [
    '--layout',
    `../${LAYOUT_FILE_NAME}`,
    '--layout-keys',
    `../${LAYOUT_KEY_FILE_NAME}`,
    '--key-types',
    'ed25519',
    '--link-dir',
    '../links',
  ];
}
