// The portal reads trust bundles, release-log entries and supervisor
// statements in the reviewer's browser with this package (DESIGN.md §10).
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { browserBundle, expectNoNodeOnly } from '../../crypto/test/browser.js';

const src = join(import.meta.dirname, '..', 'src');

describe('@glasshouse/release-format in a browser', () => {
  it('has no node: imports, Buffer or process in src', () => {
    expectNoNodeOnly(src);
  });

  it('bundles for the browser with no Node built-in reachable', async () => {
    await browserBundle(join(src, 'index.ts'));
  });
});
