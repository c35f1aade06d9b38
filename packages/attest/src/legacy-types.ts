/**
 * Legacy in-toto metadata types (in-toto specification v0.9 §4.3–§4.4; in-toto 1.3.1 models).
 */
import type { KeyDictWithId, PublicKey } from './keys.js';
import type { DigestSet } from './statement.js';

/** An artifact rule, e.g. ["CREATE", "app.tgz"] or ["MATCH", "*", "WITH", "PRODUCTS", "FROM", "build"]. */
export type ArtifactRule = string[];

/** in-toto-spec §4.4 link (in-toto 1.3.1 `models.link.Link`). */
export interface LinkMetadata {
  _type: 'link';
  name: string;
  materials: Record<string, DigestSet>;
  products: Record<string, DigestSet>;
  byproducts: Record<string, unknown>;
  command: string[];
  environment: Record<string, unknown>;
}

/** in-toto-spec §4.3.1 step (in-toto 1.3.1 `models.layout.Step`). */
export interface StepMetadata {
  _type: 'step';
  name: string;
  threshold: number;
  pubkeys: string[];
  expected_command: string[];
  expected_materials: ArtifactRule[];
  expected_products: ArtifactRule[];
}

/** in-toto-spec §4.3.2 inspection (in-toto 1.3.1 `models.layout.Inspection`). */
export interface InspectionMetadata {
  _type: 'inspection';
  name: string;
  run: string[];
  expected_materials: ArtifactRule[];
  expected_products: ArtifactRule[];
}

/** in-toto-spec §4.3 layout (in-toto 1.3.1 `models.layout.Layout`); `expires` per §4.2. */
export interface LayoutMetadata {
  _type: 'layout';
  /** `YYYY-MM-DDTHH:MM:SSZ` */
  expires: string;
  readme: string;
  keys: Record<string, KeyDictWithId>;
  steps: StepMetadata[];
  inspect: InspectionMetadata[];
}

export type SignedMetadata = LinkMetadata | LayoutMetadata;

export interface MetadataSignature {
  keyid: string;
  /** lowercase hex */
  sig: string;
}

export interface Metablock<T extends SignedMetadata = SignedMetadata> {
  signed: T;
  signatures: MetadataSignature[];
}

export interface LinkInput {
  name: string;
  materials?: Record<string, DigestSet>;
  products?: Record<string, DigestSet>;
  byproducts?: Record<string, unknown>;
  command?: string[];
  environment?: Record<string, unknown>;
}

export interface StepInput {
  name: string;
  /** The functionaries; their keys go into the layout's `keys`. */
  functionaries: readonly PublicKey[];
  threshold: number;
  expectedCommand?: string[];
  expectedMaterials?: ArtifactRule[];
  expectedProducts?: ArtifactRule[];
}

export interface InspectionInput {
  name: string;
  run: string[];
  expectedMaterials?: ArtifactRule[];
  expectedProducts?: ArtifactRule[];
}

export interface LayoutInput {
  /** Truncated to whole seconds. */
  expires: Date;
  readme?: string;
  steps: readonly StepInput[];
  inspect?: readonly InspectionInput[];
}

export interface VerifyLayoutOptions {
  /** The pinned layout keys: each must have signed (in-toto 1.3.1 verify_layout_signatures). */
  layoutKeys: readonly PublicKey[];
  /** The verification time. */
  now: Date;
}

export interface VerifiedStep {
  /** The agreed link (every verified link has these materials and products). */
  link: LinkMetadata;
  /** Key IDs of the functionaries whose links verified, sorted. */
  functionaries: string[];
}
