/**
 * The build of a `verdicts` recipe: every `*.txt` file under the recipe's
 * `inputs.lists` directory (the format is release-format's verdict-list
 * source format), folded into one canonical verdict list. Nothing from the
 * source runs — the build is a pure function of the files — so the vendor's
 * build and the supervisor's rebuild give the same bytes by construction.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '@glasshouse/attest';
import { hasCode } from '@glasshouse/errors';
import {
  MAX_VERDICT_SOURCE_BYTES,
  serializeVerdictList,
  verdictListName,
  verdictListOf,
} from '@glasshouse/release-format';
import { ReleaseError } from '../errors.js';
import type { VerdictsRecipe } from './recipe.js';

/** Source files under `inputs.lists`, relative to the source root, in byte order. */
async function listFiles(sourceDir: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(sourceDir, rel), { withFileTypes: true });
    } catch (cause) {
      throw new ReleaseError('VERDICTS_INVALID', `${rel} is not a readable directory`, {
        cause,
        evidence: { path: rel },
      });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = `${rel}/${e.name}`;
      // A symlink could point outside the checkout: a list is plain files only.
      if (e.isSymbolicLink()) {
        throw new ReleaseError('VERDICTS_INVALID', `${path} is a symbolic link`, {
          evidence: { path },
        });
      }
      if (e.isDirectory()) await walk(path);
      else if (e.isFile() && e.name.endsWith('.txt')) out.push(path);
    }
  };
  if ((await lstat(join(sourceDir, dir)).catch(() => undefined))?.isDirectory() !== true) {
    throw new ReleaseError('VERDICTS_INVALID', `inputs.lists ${dir} is not a directory`, {
      evidence: { path: dir },
    });
  }
  await walk(dir);
  return out;
}

export async function buildVerdictList(
  sourceDir: string,
  recipe: VerdictsRecipe,
  progress: (message: string) => void,
): Promise<{ name: string; bytes: Uint8Array; sha256: string }> {
  const files = await listFiles(sourceDir, recipe.inputs.lists);
  const sources: { path: string; text: string }[] = [];
  for (const path of files) {
    const bytes = await readFile(join(sourceDir, path));
    if (bytes.length > MAX_VERDICT_SOURCE_BYTES) {
      throw new ReleaseError(
        'VERDICTS_INVALID',
        `${path} is over ${MAX_VERDICT_SOURCE_BYTES} bytes`,
        {
          evidence: { path },
        },
      );
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (cause) {
      throw new ReleaseError('VERDICTS_INVALID', `${path} is not UTF-8`, {
        cause,
        evidence: { path },
      });
    }
    sources.push({ path, text });
  }
  let bytes: Uint8Array;
  try {
    const list = verdictListOf(recipe, sources);
    bytes = serializeVerdictList(list);
    const bad = list.verdicts.filter((v) => v.verdict === 'known-bad').length;
    progress(
      `verdicts: ${list.verdicts.length} from ${files.length} files (${bad} known-bad, ${list.verdicts.length - bad} known-good)`,
    );
  } catch (cause) {
    if (!hasCode(cause, 'VERDICT_LIST_INVALID')) throw cause;
    throw new ReleaseError('VERDICTS_INVALID', cause.message, {
      cause,
      evidence: cause.evidence ?? {},
    });
  }
  return { name: verdictListName(recipe), bytes, sha256: sha256Hex(bytes) };
}
