/**
 * What the assembly line says about a build, in the ecosystem's formats: a
 * SLSA Provenance v1 predicate in an in-toto Statement (signed in DSSE) and
 * a legacy in-toto link for the `build` step. Pure: every fact, time
 * included, comes in as an argument.
 */
import {
  buildLink,
  buildProvenance,
  linkFileName,
  provenanceStatement,
  signMetadata,
  signStatement,
  type DigestSet,
  type Envelope,
  type LinkMetadata,
  type Metablock,
  type ResourceDescriptor,
  type SigningKey,
  type Statement,
} from '@glasshouse/attest';
import { BUILD_STEP_NAME } from '@glasshouse/release-format';
import type { Recipe } from './recipe.js';

/** `buildType` of a `rules` recipe built by the assembly line. */
export const RULES_BUILD_TYPE = 'https://glasshouse.example/recipe/rules/v1';
/** `buildType` of a `command` recipe built by the assembly line. */
export const COMMAND_BUILD_TYPE = 'https://glasshouse.example/recipe/command/v1';
/** `buildType` of a `verdicts` recipe (a vendor verdict list) built by the assembly line. */
export const VERDICTS_BUILD_TYPE = 'https://glasshouse.example/recipe/verdicts/v1';
const BUILD_TYPES: Readonly<Record<Recipe['kind'], string>> = {
  rules: RULES_BUILD_TYPE,
  command: COMMAND_BUILD_TYPE,
  verdicts: VERDICTS_BUILD_TYPE,
};
/** The default builder id when `assembly init` is not given one. */
export const DEFAULT_BUILDER_ID = 'https://glasshouse.example/assembly-line/builder/v1';
/** The link `command` of a `rules` build (the build runs in-process, not as a command). */
export const RULES_LINK_COMMAND: readonly string[] = ['glasshouse-build-rules'];
/** The link `command` of a `verdicts` build (in-process as well). */
export const VERDICTS_LINK_COMMAND: readonly string[] = ['glasshouse-build-verdicts'];

export interface BuiltArtifact {
  /** Relative, `/`-separated: the bundle's file name or a declared output path. */
  readonly name: string;
  readonly sha256: string;
  readonly size: number;
}

/** Everything the provenance states about one build. */
export interface BuildFacts {
  /** The release id, used as `invocationId`. */
  readonly releaseId: string;
  readonly builderId: string;
  /** The source repository URI and the full commit built. */
  readonly source: { readonly uri: string; readonly commit: string };
  readonly recipe: Recipe;
  /** Path of the recipe in the source and the SHA-256 of its bytes. */
  readonly recipeFile: { readonly path: string; readonly sha256: string };
  readonly sourceDateEpoch: number;
  readonly artifacts: readonly BuiltArtifact[];
  /** True only when every command ran in the sandbox (a `rules` build runs no command). */
  readonly isolated: boolean;
  readonly sandbox:
    { readonly kind: 'bubblewrap'; readonly version: string } | { readonly kind: 'none' };
  /** Engine versions by name, e.g. `{ 'yara-x': '1.20.0', '@litko/yara-x-linux-x64-gnu': '0.7.2' }` (rules builds). */
  readonly engines: Readonly<Record<string, string>>;
  /** `process.version` of the builder, e.g. `v20.20.0`. */
  readonly nodeVersion: string;
  readonly startedOn: Date;
  readonly finishedOn: Date;
}

/** The subjects of a build: every artifact by name and SHA-256. */
export function buildSubjects(
  artifacts: readonly BuiltArtifact[],
): { name: string; digest: DigestSet }[] {
  return artifacts.map((a) => ({ name: a.name, digest: { sha256: a.sha256 } }));
}

/**
 * The in-toto Statement with the build's SLSA Provenance v1. The README's
 * "Provenance" section lists every field; `externalParameters` hold only
 * what a rebuilder needs to repeat the build (source, commit, recipe path).
 */
export function buildProvenanceStatement(facts: BuildFacts): Statement {
  const resolvedDependencies: ResourceDescriptor[] = [
    { uri: sourceDependencyUri(facts.source.uri), digest: { gitCommit: facts.source.commit } },
    { name: facts.recipeFile.path, digest: { sha256: facts.recipeFile.sha256 } },
    ...Object.keys(facts.engines)
      .sort()
      .map((name) => ({ name, uri: engineUri(name, facts.engines[name] ?? '') })),
    { name: 'node', uri: `pkg:generic/node@${facts.nodeVersion.replace(/^v/, '')}` },
  ];
  const internalParameters: Record<string, unknown> = {
    isolated: facts.isolated,
    sandbox: facts.sandbox,
    sourceDateEpoch: facts.sourceDateEpoch,
  };
  const provenance = buildProvenance({
    buildType: BUILD_TYPES[facts.recipe.kind],
    externalParameters: {
      source: { uri: facts.source.uri, digest: { gitCommit: facts.source.commit } },
      recipe: facts.recipeFile.path,
    },
    internalParameters,
    resolvedDependencies,
    builder: { id: facts.builderId },
    invocationId: facts.releaseId,
    startedOn: facts.startedOn,
    finishedOn: facts.finishedOn,
  });
  return provenanceStatement(buildSubjects(facts.artifacts), provenance);
}

/** The provenance Statement signed by the builder key in a DSSE envelope. */
export function signProvenance(facts: BuildFacts, builderKey: SigningKey): Envelope {
  return signStatement(buildProvenanceStatement(facts), [builderKey]);
}

/**
 * The legacy link `command` of a recipe: a `rules` build is
 * `["glasshouse-build-rules"]`; a `command` build is its one argv, or its
 * argvs joined by `"&&"` elements when there are several (the commands run
 * one after another, without a shell, stopping at the first failure).
 */
export function linkCommand(recipe: Recipe): string[] {
  if (recipe.kind === 'rules') return [...RULES_LINK_COMMAND];
  if (recipe.kind === 'verdicts') return [...VERDICTS_LINK_COMMAND];
  const out: string[] = [];
  recipe.commands.forEach((argv, i) => {
    if (i > 0) out.push('&&');
    out.push(...argv);
  });
  return out;
}

/**
 * The legacy in-toto link of the `build` step: materials are the source
 * files (relative paths, SHA-256), products the artifacts.
 */
export function buildStepLink(
  recipe: Recipe,
  materials: Readonly<Record<string, string>>,
  artifacts: readonly BuiltArtifact[],
): LinkMetadata {
  const toDigests = (entries: [string, string][]): Record<string, DigestSet> =>
    Object.fromEntries(entries.map(([name, sha256]) => [name, { sha256 }]));
  return buildLink({
    name: BUILD_STEP_NAME,
    materials: toDigests(Object.entries(materials)),
    products: toDigests(artifacts.map((a) => [a.name, a.sha256])),
    command: linkCommand(recipe),
  });
}

/** The signed link and the file name in-toto-verify expects for it. */
export function signBuildStepLink(
  link: LinkMetadata,
  builderKey: SigningKey,
): { metablock: Metablock<LinkMetadata>; fileName: string } {
  return {
    metablock: signMetadata(link, [builderKey]),
    fileName: linkFileName(link.name, builderKey.keyid),
  };
}

/** SLSA's convention for a git dependency: `git+<url>`. */
function sourceDependencyUri(uri: string): string {
  return uri.startsWith('git+') ? uri : `git+${uri}`;
}

function engineUri(name: string, version: string): string {
  if (name === 'yara-x') return `pkg:github/virustotal/yara-x@v${version}`;
  // The npm package that provided the engine (`@litko/yara-x-linux-x64-gnu`, `@virustotal/yara-x`).
  if (name.startsWith('@'))
    return `pkg:npm/${encodeURIComponent(name)}@${encodeURIComponent(version)}`;
  return `pkg:generic/${encodeURIComponent(name)}@${encodeURIComponent(version)}`;
}
