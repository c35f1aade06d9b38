/**
 * The in-toto layout of an approved release: signed by the vendor's layout
 * key at approval, verified by endpoints against the delivered files. It
 * names the vendor's builder and the supervisor's rebuilder as the two
 * functionaries of the one `build` step, whose links both roles write. Pure.
 */
import {
  buildLayout,
  verifyLayout,
  verifyProduct,
  verifyStepLinks,
  type LayoutMetadata,
  type LinkMetadata,
  type Metablock,
  type PublicKey,
  type VerifiedStep,
} from '@glasshouse/attest';
import { ReleaseFormatError } from './errors.js';

/** The in-toto step name of a rules build, in both roles' links and in the layout. */
export const BUILD_STEP_NAME = 'build';
/** The inspection of the release layout: the endpoint runs it on the delivered files. */
export const DELIVERY_INSPECTION_NAME = 'check-delivered-artifacts';
/** How long a release layout stays valid by default. */
export const DEFAULT_LAYOUT_VALIDITY_DAYS = 365;

/** What the layout names of a release. */
export interface LayoutRelease {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly source: string;
  readonly commit: string;
  readonly artifacts: readonly { readonly name: string }[];
}

/**
 * The in-toto layout of an approved release (in-toto-spec §4.3): one `build`
 * step, threshold 2, functionaries the vendor builder and the supervisor
 * rebuilder, which must both report the same materials and products
 * (§4.3.1); the products are exactly the artifacts. The inspection runs on
 * the endpoint in a directory holding the delivered files and requires each
 * to match the step's product (§4.3.3 MATCH) and nothing else to be there.
 */
export function releaseLayout(input: {
  release: LayoutRelease;
  builderKey: PublicKey;
  rebuilderKey: PublicKey;
  /** The builder link's command, repeated as the step's expected_command. */
  expectedCommand: readonly string[];
  expires: Date;
}): LayoutMetadata {
  const { release } = input;
  const names = release.artifacts.map((a) => a.name);
  const match = names.map((name) => ['MATCH', name, 'WITH', 'PRODUCTS', 'FROM', BUILD_STEP_NAME]);
  return buildLayout({
    expires: input.expires,
    readme:
      `Release ${release.id}: ${release.name} ${release.version}, built from ` +
      `${release.source} at ${release.commit} by the vendor's builder and rebuilt ` +
      `to the same bytes by the supervisor.`,
    steps: [
      {
        name: BUILD_STEP_NAME,
        threshold: 2,
        functionaries: [input.builderKey, input.rebuilderKey],
        expectedCommand: [...input.expectedCommand],
        expectedMaterials: [['ALLOW', '*']],
        expectedProducts: [...names.map((name) => ['CREATE', name]), ['DISALLOW', '*']],
      },
    ],
    inspect: [
      {
        name: DELIVERY_INSPECTION_NAME,
        run: ['sha256sum', '--', ...names],
        expectedMaterials: [...match, ['DISALLOW', '*']],
        expectedProducts: [...match, ['DISALLOW', '*']],
      },
    ],
  });
}

/**
 * What in-toto-verify checks of a release layout, in process (in-toto-spec
 * §5.2 steps 1–4 and the inspection's MATCH rules): the layout is signed by
 * `layoutKey` and unexpired; the `build` step has links from `threshold` of
 * its functionaries that agree (§4.3.1); every delivered artifact (by name
 * and SHA-256) is a product of that step; and every product is delivered
 * (the inspection's DISALLOW *). Codes are @glasshouse/attest's
 * (LAYOUT_EXPIRED, STEP_THRESHOLD_NOT_MET, LINK_PRODUCT_MISMATCH, …) or
 * RELEASE_KIT_INCOMPLETE. Returns the verified layout and the agreed link.
 */
export function verifyReleaseLayout(
  kit: {
    readonly layout: Metablock<LayoutMetadata>;
    readonly links: readonly Metablock<LinkMetadata>[];
    readonly artifacts: readonly { readonly name: string; readonly sha256: string }[];
  },
  options: { readonly layoutKey: PublicKey; readonly now: Date },
): { layout: LayoutMetadata; step: VerifiedStep } {
  const layout = verifyLayout(kit.layout, { layoutKeys: [options.layoutKey], now: options.now });
  const step = verifyStepLinks(layout, BUILD_STEP_NAME, kit.links);
  for (const artifact of kit.artifacts) {
    verifyProduct(step.link, artifact.name, { sha256: artifact.sha256 });
  }
  const delivered = new Set(kit.artifacts.map((a) => a.name));
  const missing = Object.keys(step.link.products).filter((p) => !delivered.has(p));
  if (missing.length > 0) {
    throw new ReleaseFormatError(
      'RELEASE_KIT_INCOMPLETE',
      'products of the build are not delivered',
      { evidence: { missing } },
    );
  }
  return { layout, step };
}
