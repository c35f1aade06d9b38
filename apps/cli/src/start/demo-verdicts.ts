/**
 * The demo's vendor verdict list: a `verdicts` release (recipe kind
 * `verdicts`) through the same flow as the rules — built, reviewed,
 * rebuilt and approved by the supervisor, logged and published with both
 * signatures — that the data sites import only after checking it as an
 * endpoint checks rules. It lists one file as known-bad that no agent has
 * reported yet, and one as known-good.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '@glasshouse/attest';
import { RECIPE_FILE } from '@glasshouse/release';
import { ensureCommittedSource, type DemoSource } from './demo-source.js';

export const DEMO_VERDICTS_NAME = 'demo-verdicts';
export const DEMO_VERDICTS_REVIEW_NOTE =
  'Checked each listed hash against the file it names: the dropper is malicious, the installer is ours.';
/** What the walk-through writes to files: the list calls the first known-bad, the second known-good. */
export const DEMO_LISTED_BAD_TEXT = 'glasshouse demo listed dropper';
export const DEMO_LISTED_GOOD_TEXT = 'glasshouse demo installer';

export function sha256Text(text: string): string {
  return sha256Hex(new TextEncoder().encode(text));
}

/** The verdict list's source repository in `dir`, committed once. */
export function ensureDemoVerdictsSource(dir: string): Promise<DemoSource> {
  return ensureCommittedSource(
    dir,
    async () => {
      await writeFile(
        join(dir, RECIPE_FILE),
        `${JSON.stringify(
          {
            schema: 'glasshouse.recipe/v1',
            kind: 'verdicts',
            name: DEMO_VERDICTS_NAME,
            version: '1.0.0',
            inputs: { lists: 'verdicts' },
          },
          null,
          2,
        )}\n`,
      );
      await mkdir(join(dir, 'verdicts'), { recursive: true });
      await writeFile(
        join(dir, 'verdicts', 'known-bad.txt'),
        `# Droppers seen by the vendor's analysts\n${sha256Text(DEMO_LISTED_BAD_TEXT)} known-bad  # "${DEMO_LISTED_BAD_TEXT}"\n`,
      );
      await writeFile(
        join(dir, 'verdicts', 'known-good.txt'),
        `# The vendor's own signed installers\n${sha256Text(DEMO_LISTED_GOOD_TEXT)} known-good  # "${DEMO_LISTED_GOOD_TEXT}"\n`,
      );
    },
    'Demo verdicts: one known-bad dropper, one known-good installer',
  );
}
