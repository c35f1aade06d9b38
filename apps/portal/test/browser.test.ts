/**
 * The Transparency Center in a real browser (Debian's chromium, driven by
 * playwright-core) against a real stack: `npm start` with every port chosen
 * by the system, its portal serving every log and the demo release. The
 * browser goes through a tampering proxy in front of the portal: with
 * nothing changed every check passes; a modified tile, a forged
 * cosignature and a checkpoint rolled back from one this browser saw are
 * each shown red with their reason. No console errors, labelled controls,
 * explanations open from the keyboard.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { encodeCanonical } from '@glasshouse/attest';
import { loadTufKey } from '@glasshouse/distribution';
import { openTrustBundle } from '@glasshouse/release-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureCliBuilt,
  ensurePortalBuilt,
  runBuiltCli,
  spawnBuiltCliUntil,
  startListenOnFreePorts,
  type SpawnedCli,
} from '../../cli/test/built-cli.js';
import {
  forgeSplitView,
  publishPolicyV2,
  tamperAlerts,
  tamperFirstEntry,
  waitForAlert,
  type AlertTamper,
} from './alerts-forge.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(
    `portal browser tests SKIPPED: ${CHROMIUM} is not installed (apt-get install -y chromium)`,
  );
}

const WITNESS_NAME = 'localhost/glasshouse/witness';
const WAIT_MS = 90_000;

type Mode =
  | 'none'
  | 'tile'
  | 'cosignature'
  | 'rollback'
  | 'vendor-only'
  | 'index-omit'
  | 'index-fork'
  | 'source'
  | AlertTamper
  | 'residency-entry'
  | 'access-entry'
  | 'approval-signature';

/** Between the browser and the portal (and so the services): passes bytes on, or changes the release log's. */
function startTamperingProxy(
  portalUrl: string,
  state: { mode: Mode; oldCheckpoint: string; forged: Map<string, Buffer> },
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    void (async () => {
      const path = req.url ?? '/';
      const upstream = await fetch(new URL(path, portalUrl), { method: req.method ?? 'GET' });
      let body: Buffer = Buffer.from(await upstream.arrayBuffer());
      if (path === '/svc/release-log/checkpoint') {
        if (state.mode === 'cosignature')
          body = Buffer.from(forgeCosignature(body.toString('utf8')));
        if (state.mode === 'rollback') body = Buffer.from(state.oldCheckpoint);
      }
      if (state.mode === 'index-omit' && path.startsWith('/svc/access-index/')) {
        body = Buffer.from(omitOneIndex(body.toString('utf8')));
      }
      if (state.mode === 'index-fork' && path.startsWith('/svc/access-index/')) {
        body = Buffer.from(forkRevision(body.toString('utf8')));
      }
      if (state.mode === 'access-entry' && path.startsWith('/svc/access-log/tile/entries/')) {
        body = Buffer.from(body.toString('latin1').replace('intrusion', 'intrusiom'), 'latin1');
      }
      if (state.mode === 'approval-signature' && path === '/svc/gateway/v1/requests') {
        body = Buffer.from(forgeApprovalSignature(body.toString('utf8')));
      }
      const forged = state.mode === 'vendor-only' ? state.forged.get(path) : undefined;
      if (forged !== undefined) body = forged;
      // A source file of a release changed on its way from the assembly line.
      if (
        state.mode === 'source' &&
        /^\/svc\/assembly\/releases\/[^/]+\/source\/objects\//.test(path) &&
        body.subarray(0, 5).toString() === 'blob '
      ) {
        body = Buffer.from(body);
        body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 1;
      }
      if (
        (state.mode === 'alert-signature' || state.mode === 'alert-no-conflict') &&
        path === '/alerts/witness.jsonl'
      ) {
        body = Buffer.from(tamperAlerts(body.toString('utf8'), state.mode));
      }
      if (state.mode === 'residency-entry' && path.startsWith('/svc/residency-log/tile/entries/')) {
        body = tamperFirstEntry(body);
      }
      if (state.mode === 'tile' && path.startsWith('/svc/release-log/tile/0/')) {
        body = Buffer.from(body);
        body[0] = (body[0] ?? 0) ^ 1;
      }
      const headers: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        if (k !== 'content-length' && k !== 'content-encoding' && k !== 'transfer-encoding')
          headers[k] = v;
      });
      res.writeHead(upstream.status, headers).end(body);
    })().catch((err: unknown) => {
      res.writeHead(502).end(String(err));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` });
    });
  });
}

/** The witness's cosignature line with one bit of its Ed25519 signature flipped (key id kept: a known key). */
function forgeCosignature(note: string): string {
  return note.replace(new RegExp(`^— ${WITNESS_NAME} (\\S+)$`, 'm'), (_line, b64: string) => {
    const blob = Buffer.from(b64, 'base64');
    blob[blob.length - 1] = (blob[blob.length - 1] ?? 0) ^ 1;
    return `— ${WITNESS_NAME} ${blob.toString('base64')}`;
  });
}

/** The index's answer for a customer with its last listed access-log index removed (the rest untouched). */
function omitOneIndex(answer: string): string {
  const v = JSON.parse(answer) as { indices: string[] };
  if (v.indices.length === 0) throw new Error('the customer has no access to hide');
  return JSON.stringify({ ...v, indices: v.indices.slice(0, -1) });
}

/** The index's answer from a revision with another index root at the same access-log size. */
function forkRevision(answer: string): string {
  const v = JSON.parse(answer) as { entry: string };
  const entry = JSON.parse(Buffer.from(v.entry, 'base64').toString('utf8')) as {
    logRoot: string;
    indexRoot: string;
  };
  // Key order kept: still the canonical encoding of a well-formed entry, only its root differs.
  const forked = { ...entry, indexRoot: entry.logRoot };
  return JSON.stringify({ ...v, entry: Buffer.from(JSON.stringify(forked)).toString('base64') });
}

/** The gateway's request list with one bit flipped in each request's first approval signature. */
function forgeApprovalSignature(json: string): string {
  const list = JSON.parse(json) as { requests: { approvals: string[] }[] };
  for (const r of list.requests) {
    const first = r.approvals[0];
    if (first === undefined) continue;
    const env = JSON.parse(first) as { signatures: { keyid: string; sig: string }[] };
    const sig = env.signatures[0]!;
    const bytes = Buffer.from(sig.sig, 'base64');
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    sig.sig = bytes.toString('base64');
    r.approvals[0] = JSON.stringify(env);
  }
  return JSON.stringify(list);
}

/**
 * What a vendor could publish alone: the releases metadata with only its own
 * release key's signature, listed by a snapshot and a timestamp it re-signs
 * with its own online keys (the repository's files, the vendor's keys).
 */
async function vendorOnlyReleases(
  portalUrl: string,
  dataDir: string,
): Promise<Map<string, Buffer>> {
  const keys = join(dataDir, 'vendor', 'repo', 'keys');
  const [release, snapshotKey, timestampKey] = await Promise.all(
    ['release.pem', 'snapshot.pem', 'timestamp.pem'].map((f) => loadTufKey(join(keys, f))),
  );
  const get = async (file: string) =>
    (await (await fetch(`${portalUrl}svc/repo/metadata/${file}`)).json()) as {
      signed: Record<string, unknown> & { meta: Record<string, { version: number }> };
      signatures: { keyid: string; sig: string }[];
    };
  const sign = (signed: object, key: typeof release) => ({
    keyid: key!.keyid,
    sig: Buffer.from(key!.sign(encodeCanonical(signed))).toString('hex'),
  });
  const listed = (bytes: Buffer, version: number) => ({
    version,
    length: bytes.length,
    hashes: { sha256: createHash('sha256').update(bytes).digest('hex') },
  });
  const timestamp = await get('timestamp.json');
  const snapVersion = timestamp.signed.meta['snapshot.json']!.version;
  const snapshot = await get(`${snapVersion}.snapshot.json`);
  const relVersion = snapshot.signed.meta['releases.json']!.version;
  const releases = await get(`${relVersion}.releases.json`);
  releases.signatures = releases.signatures.filter((sig) => sig.keyid === release!.keyid);
  const relBytes = Buffer.from(JSON.stringify(releases));
  snapshot.signed.meta['releases.json'] = listed(relBytes, relVersion);
  snapshot.signatures = [sign(snapshot.signed, snapshotKey)];
  const snapBytes = Buffer.from(JSON.stringify(snapshot));
  timestamp.signed.meta['snapshot.json'] = listed(snapBytes, snapVersion);
  timestamp.signatures = [sign(timestamp.signed, timestampKey)];
  return new Map([
    ['/svc/repo/metadata/timestamp.json', Buffer.from(JSON.stringify(timestamp))],
    [`/svc/repo/metadata/${snapVersion}.snapshot.json`, snapBytes],
    [`/svc/repo/metadata/${relVersion}.releases.json`, relBytes],
  ]);
}

interface Ready {
  portalUrl: string;
  gatewayUrl: string;
  accessDemo: {
    customer: string;
    site: string;
    accesses: { index: number; breakGlass: boolean }[];
  };
  logUrl: string;
  residencyLogUrl: string;
  releaseId: string | null;
  dataDir: string;
  accessDemoCustomerKey: string;
  accessTrustPath: string;
}

async function verdicts(page: Page, card: string): Promise<Record<string, string>> {
  const pairs = await page
    .locator(`${card} [data-check]`)
    .evaluateAll((els) =>
      els.map((e): [string, string] => [
        e.getAttribute('data-check') ?? '',
        `${e.getAttribute('data-verdict') ?? ''} ${e.textContent}`,
      ]),
    );
  return Object.fromEntries(pairs);
}

describe.skipIf(!haveChromium)('the Transparency Center in headless Chromium', () => {
  let work: string | undefined;
  let stack: SpawnedCli<Ready> | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let proxy: { server: Server; url: string } | undefined;
  let proxyUrl = '';
  let releaseId = '';
  let ready: Ready | undefined;
  const state = { mode: 'none' as Mode, oldCheckpoint: '', forged: new Map<string, Buffer>() };
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    ensureCliBuilt();
    ensurePortalBuilt();
    const dir = await mkdtemp(join(tmpdir(), 'portal-test-'));
    work = dir;
    const args = ['start', '--data', join(dir, 'data'), ...startListenOnFreePorts()];
    const started = await spawnBuiltCliUntil(
      args,
      (out) => {
        const line = /^ready (\{.*\})$/m.exec(out)?.[1];
        return line === undefined ? undefined : (JSON.parse(line) as Ready);
      },
      { timeoutMs: 240_000, npmStart: true },
    );
    stack = started;
    const { portalUrl } = started.value;
    ready = started.value;
    releaseId = started.value.releaseId ?? '';
    // The release log as it is now: later the tampering proxy serves it as a rollback.
    state.oldCheckpoint = await (await fetch(`${portalUrl}svc/release-log/checkpoint`)).text();
    const oldSize = BigInt(state.oldCheckpoint.split('\n')[1] ?? '0');
    await mkdir(join(dir, 'entry'), { recursive: true });
    await writeFile(join(dir, 'entry', 'extra'), 'an entry after the first checkpoint\n');
    runBuiltCli([
      'log',
      'add',
      '--url',
      started.value.logUrl,
      '--key',
      join(started.value.dataDir, 'vendor', 'log', 'log.key'),
      join(dir, 'entry', 'extra'),
    ]);
    // Wait for the witnessed checkpoint that covers it.
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      // A pooled connection the portal closed while `log add` held this process (a
      // synchronous child, seconds on a loaded machine) fails once; a refused or
      // reset poll is tried again: only the deadline fails the wait.
      const text = await fetch(`${portalUrl}svc/release-log/checkpoint`).then(
        (r) => (r.ok ? r.text() : ''),
        () => '',
      );
      if (/^\d+$/.test(text.split('\n')[1] ?? '') && BigInt(text.split('\n')[1] ?? '0') > oldSize)
        break;
      if (Date.now() > deadline) throw new Error('the release log did not grow');
      await new Promise((r) => setTimeout(r, 200));
    }
    state.forged = await vendorOnlyReleases(portalUrl, started.value.dataDir);
    proxy = await startTamperingProxy(portalUrl, state);
    proxyUrl = proxy.url;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  }, 360_000);

  afterAll(async () => {
    await browser?.close();
    proxy?.server.close();
    if (stack !== undefined) {
      const pid = stack.child.pid;
      if (pid !== undefined) process.kill(-pid, 'SIGTERM');
      await stack.exited;
    }
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  }, 60_000);

  async function overview(): Promise<void> {
    // A fresh load each time (the hash alone would not reload the page).
    await page.goto('about:blank');
    await page.goto(`${proxyUrl}#/`);
    try {
      await page.locator('[data-log]').first().waitFor({ timeout: WAIT_MS });
    } catch (err) {
      // Say what the page showed instead.
      throw new Error(`the overview did not render: ${await page.locator('body').innerText()}`, {
        cause: err,
      });
    }
  }

  async function shot(name: string): Promise<void> {
    const dir = process.env.PORTAL_SCREENSHOT_DIR;
    if (dir !== undefined)
      await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
  }

  it('shows every log of npm start and the demo release verified, twice (the second visit checks consistency)', async () => {
    await overview();
    const logs = await page
      .locator('[data-log]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-log')));
    expect(logs).toEqual([
      'release-log',
      'residency-log',
      'ch-zrh-ingest-log',
      'us-iad-ingest-log',
      'access-log',
      'access-index-output-log',
    ]);
    for (const id of logs) {
      const v = await verdicts(page, `[data-log="${id}"]`);
      expect(Object.keys(v)).toEqual([
        'log-signature',
        'cosignatures',
        'tiles',
        'witness-local-witness',
        'consistency',
      ]);
      for (const [check, verdict] of Object.entries(v)) {
        expect(verdict, `${id} ${check}`).toMatch(/^(pass|note) /);
      }
      expect(v.consistency).toMatch(/^note .*first visit/);
    }
    // Again: now each log must extend the checkpoint stored in IndexedDB.
    await overview();
    for (const id of logs) {
      const v = await verdicts(page, `[data-log="${id}"]`);
      for (const [check, verdict] of Object.entries(v))
        expect(verdict, `${id} ${check}`).toMatch(/^pass /);
    }
    await shot('overview');

    // Every control has a name; a tick opens its explanation from the keyboard.
    const unnamed = await page
      .locator('button, a, input, select, textarea')
      .evaluateAll((els) =>
        els
          .filter((e) => (e.getAttribute('aria-label') ?? e.textContent).trim() === '')
          .map((e) => e.outerHTML),
      );
    expect(unnamed).toEqual([]);
    const tick = page.locator('[data-log="release-log"] [data-check="cosignatures"] button');
    await tick.focus();
    await page.keyboard.press('Enter');
    const explained = page.getByRole('region', { name: 'Witness quorum: explanation' });
    await expect.poll(() => explained.first().innerText()).toContain('Against:');
    expect(await explained.first().innerText()).toContain(WITNESS_NAME);

    await page.goto(`${proxyUrl}#/releases`);
    await page.locator('[data-release]').first().waitFor({ timeout: WAIT_MS });
    expect(await page.locator('[data-card="repository"]').getAttribute('data-status')).toBe('pass');
    const release = `[data-release="${releaseId}"]`;
    const r = await verdicts(page, release);
    expect(Object.keys(r)).toEqual([
      'tuf',
      'provenance',
      'vsa',
      'inclusion',
      'layout',
      'review',
      'source',
      'rules',
    ]);
    for (const [check, verdict] of Object.entries(r)) expect(verdict, check).toMatch(/^pass /);
    expect(r.vsa).toContain('PASSED');
    expect(r.layout).toMatch(/PASS: build step by 2 of 2 functionaries/);
    expect(r.review).toContain('Demo Reviewer');
    expect(r.source).toMatch(/every SHA-256 matching/);
    expect(r.tuf).toContain('the vendor and the supervisor');
    // Every other release the stack published verifies too.
    const statuses = await page
      .locator('[data-release]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
    expect(statuses.every((st) => st === 'pass')).toBe(true);
    await shot('releases');
  }, 240_000);

  it("browses a release's source at its commit with every digest checked; the in-toto verdict, review notes and rule diff render", async () => {
    await page.goto('about:blank');
    await page.goto(`${proxyUrl}#/releases`);
    const release = `[data-release="${releaseId}"]`;
    await page.locator(`${release} [data-check="source"]`).waitFor({ timeout: WAIT_MS });
    // Every release of the stack (rules, the agent, the verdict list) has its source checked.
    const sources = await page
      .locator('[data-release] [data-check="source"]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-verdict')));
    expect(sources.length).toBeGreaterThanOrEqual(3);
    expect(sources.every((v) => v === 'pass')).toBe(true);
    const browser = page.locator(`${release} [data-source]`);
    await browser.locator('summary').click();
    const recipe = browser.locator('[data-source-entry="glasshouse-recipe.json"]');
    expect(await recipe.getAttribute('data-verdict')).toBe('pass');
    await recipe.getByRole('button').click();
    const file = browser.locator('[data-source-file="glasshouse-recipe.json"]');
    await expect.poll(() => file.getAttribute('data-verdict')).toBe('pass');
    expect(await file.innerText()).toMatch(/sha256 [0-9a-f]{64} = the build link's material/);
    // Into a directory: its entries come from its own verified tree.
    await browser.getByRole('button', { name: 'rules/' }).click();
    expect(await browser.locator('[data-source-entry^="rules/"]').count()).toBeGreaterThan(0);
    // The review note, signed by the supervisor.
    expect(await page.locator(`${release} [data-review="Demo Reviewer"]`).innerText()).toContain(
      'Read every rule',
    );
    // The rule diff: from nothing, every rule is added; a version against itself changes nothing.
    const diff = page.locator('[data-card="rule-diff"]');
    await diff.getByLabel('To version').selectOption(releaseId);
    await diff.getByLabel('From version').selectOption('');
    const added = await diff.locator('[data-diff="added"]').count();
    expect(added).toBeGreaterThan(0);
    expect(await diff.locator('[data-diff-summary]').innerText()).toBe(
      `${added} added, 0 removed, 0 changed, 0 unchanged`,
    );
    await diff.getByLabel('From version').selectOption(releaseId);
    expect(await diff.locator('[data-diff-summary]').innerText()).toBe(
      `0 added, 0 removed, 0 changed, ${added} unchanged`,
    );
    // Every control of the Releases page has a name.
    const unnamed = await page
      .locator('button, a, input, select, textarea, summary')
      .evaluateAll((els) =>
        els
          .filter((e) => (e.getAttribute('aria-label') ?? e.textContent).trim() === '')
          .map((e) => e.outerHTML),
      );
    expect(unnamed).toEqual([]);
    await shot('releases-source');
  }, 240_000);

  it('shows a source file changed on its way red, with its code', async () => {
    state.mode = 'source';
    await page.goto('about:blank');
    await page.goto(`${proxyUrl}#/releases`);
    const release = `[data-release="${releaseId}"]`;
    await page.locator(`${release} [data-check="source"]`).waitFor({ timeout: WAIT_MS });
    const r = await verdicts(page, release);
    expect(r.source).toMatch(/^fail .*GIT_OBJECT_MISMATCH/);
    expect(r.provenance).toMatch(/^pass /);
    expect(await page.locator(release).getAttribute('data-status')).toBe('fail');
    await shot('tampered-source');
    state.mode = 'none';
  }, 240_000);

  it('refuses a portal config whose trust roots are not the ones pinned in the URL, and says when they are', async () => {
    const config = (await (await fetch(`${proxyUrl}portal-config.json`)).json()) as {
      trustBundleFingerprint: string;
    };
    const other = createHash('sha256').update('another trust bundle').digest('hex');
    await page.goto('about:blank');
    await page.goto(`${proxyUrl}?pin=${other}#/releases`);
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.innerText()).toContain('PORTAL_PIN_MISMATCH');
    expect(await page.locator('[data-card="repository"]').count()).toBe(0);
    await shot('pin-mismatch');
    await page.goto('about:blank');
    await page.goto(`${proxyUrl}?pin=${config.trustBundleFingerprint}#/releases`);
    await page.locator('[data-card="repository"]').waitFor({ timeout: WAIT_MS });
    const repo = await verdicts(page, '[data-card="repository"]');
    expect(repo['trust-bundle']).toMatch(/^pass .*= the fingerprint pinned in this page's URL/);

    // Every log's policy pinned by the SHA-256 of the policy file npm start wrote, as the README says.
    const dataDir = stack?.value.dataDir ?? '';
    const files = (await readdir(dataDir)).filter((f) => /policy.*\.txt$/.test(f));
    const fileDigests = await Promise.all(
      files.map(async (f) =>
        createHash('sha256')
          .update(await readFile(join(dataDir, f)))
          .digest('hex'),
      ),
    );
    const served = (
      (await (await fetch(`${proxyUrl}portal-config.json`)).json()) as {
        logs: { policy: string }[];
      }
    ).logs.map((l) => createHash('sha256').update(l.policy).digest('hex'));
    expect(served.every((d) => fileDigests.includes(d))).toBe(true);
    const logs = served.map((d) => `&log=${d}`).join('');
    await page.goto('about:blank');
    await page.goto(`${proxyUrl}?pin=${config.trustBundleFingerprint}${logs}#/`);
    await page.locator('[data-log]').first().waitFor({ timeout: WAIT_MS });
    // One log policy left out of the pins: refused, naming it.
    await page.goto('about:blank');
    await page.goto(
      `${proxyUrl}?${served
        .slice(1)
        .map((d) => `log=${d}`)
        .join('&')}#/`,
    );
    await expect
      .poll(() => page.getByRole('alert').innerText())
      .toMatch(
        /PORTAL_PIN_MISMATCH: the .*'s policy \(sha256 [0-9a-f]{64}\) is not one the URL pins/,
      );
  }, 120_000);

  it("follows a root rotation of the stack's repository: the vendor drafts root v2, the supervisor co-signs", async () => {
    const dataDir = stack?.value.dataDir ?? '';
    const bundle = openTrustBundle(await readFile(join(dataDir, 'trust-bundle.json')));
    expect(bundle.tufRoot.signed.version).toBe(1);
    expect(
      runBuiltCli([
        'repo',
        'rotate-root',
        '--dir',
        join(dataDir, 'vendor', 'repo'),
        '--replace-vendor-root-key',
      ]),
    ).toContain('root draft v2');
    expect(
      runBuiltCli([
        'supervisor',
        'sign-root',
        '--repo',
        bundle.repoUrl,
        '--dir',
        join(dataDir, 'supervisor'),
      ]),
    ).toContain('root v2 signed; published: yes');
    await page.goto('about:blank');
    await page.goto(`${proxyUrl}#/releases`);
    await page.locator(`[data-release="${releaseId}"]`).waitFor({ timeout: WAIT_MS });
    const repo = await verdicts(page, '[data-card="repository"]');
    // The page starts from the bundle's root v1 and accepts v2 only with both roots' signatures.
    expect(repo.tuf).toMatch(
      /^pass .*root v2 \(rotated from v1, each step signed by both roots' thresholds\)/,
    );
    const r = await verdicts(page, `[data-release="${releaseId}"]`);
    for (const [check, verdict] of Object.entries(r)) expect(verdict, check).toMatch(/^pass /);
    await page.locator('[data-card="repository"] [data-check="tuf"] button').click();
    expect(
      await page.getByRole('region', { name: 'TUF metadata: explanation' }).innerText(),
    ).toMatch(
      /→ root v2 sha256 [0-9a-f]{64}: 2 of v1's root keys \(threshold 2\) and 2 of its own/,
    );
    await shot('root-rotation');
  }, 120_000);

  it('replays the residency log: the policy in force, its history, the regions each site holds', async () => {
    await page.goto('about:blank');
    await page.goto(`${proxyUrl}#/residency`);
    await page.locator('[data-card="residency-log"]').waitFor({ timeout: WAIT_MS });
    const v = await verdicts(page, '[data-card="residency-log"]');
    expect(Object.keys(v)).toEqual(['trust-bundle', 'checkpoint', 'entries', 'fold']);
    for (const [check, verdict] of Object.entries(v)) expect(verdict, check).toMatch(/^pass /);
    expect(await page.locator('[data-site="ch-zrh"]').innerText()).toContain('EU');
    expect(await page.locator('[data-site="us-iad"]').innerText()).toContain('every other region');
    expect(await page.locator('[data-table="history"] tbody tr').count()).toBeGreaterThan(0);
    await shot('residency');
  }, 120_000);

  async function accessPage(): Promise<void> {
    await page.goto('about:blank');
    await page.goto(`${proxyUrl}#/access`);
    await page.locator('[data-card="access-log"]').waitFor({ timeout: WAIT_MS });
  }

  it('replays the access log: every record proven included and within the policy, filters by label and time, counts per justification over time', async () => {
    await accessPage();
    const v = await verdicts(page, '[data-card="access-log"]');
    expect(Object.keys(v)).toEqual([
      'checkpoint',
      'entries',
      'records',
      'inclusion',
      'access-policy',
      'approvals',
      'policy',
      'break-glass',
    ]);
    for (const [check, verdict] of Object.entries(v)) expect(verdict, check).toMatch(/^pass /);
    const demo = stack!.value.accessDemo;
    const rows = page.locator('table[data-table="records"] [data-record]');
    expect(await rows.count()).toBe(demo.accesses.length);
    // Each record: its own inclusion proof and the policy check, green.
    for (const a of demo.accesses) {
      const row = page.locator(`[data-record="${a.index}"]`);
      expect(await row.getAttribute('data-inclusion'), `record ${a.index}`).toBe('pass');
      expect(await row.getAttribute('data-policy'), `record ${a.index}`).toBe('pass');
    }
    // A record's tick opens what was checked: leaf hash, index, proof, checkpoint.
    const last = demo.accesses[demo.accesses.length - 1]!.index;
    await page.locator(`[data-record="${last}"] [data-check="inclusion-${last}"] button`).click();
    const explained = page.getByRole('region', { name: 'Included in the log: explanation' });
    const text = await explained.first().innerText();
    expect(text).toMatch(/leaf hash \S{44}/);
    expect(text).toContain(`index ${last}, tree size`);
    expect(text).toMatch(/Against:\s+checkpoint \S+, size \d+, root \S{44}/);
    expect(await page.locator(`[data-record="${demo.accesses[1]!.index}"]`).innerText()).toContain(
      'THREAT_INVESTIGATION',
    );
    expect(
      await page
        .locator(`[data-record="${demo.accesses[0]!.index}"] [data-check^="policy-"]`)
        .innerText(),
    ).toContain('approved by the customer and the supervisor');

    // The chart: a titled SVG and the same numbers as a table.
    const chart = page.getByRole('img', { name: 'Accesses per justification over time' });
    expect(await chart.locator('title').first().textContent()).toBe(
      'Accesses per justification over time',
    );
    const counted = await page
      .locator('table[data-table="chart-numbers"] tbody td:not(:first-child)')
      .evaluateAll((els) => els.reduce((n, e) => n + Number(e.textContent), 0));
    expect(counted).toBe(demo.accesses.length);

    // A select filter, chosen by its label, narrows the table.
    await page.getByLabel('Justification', { exact: true }).selectOption('BREAK_GLASS');
    expect(await rows.count()).toBe(demo.accesses.filter((a) => a.breakGlass).length);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    expect(await rows.count()).toBe(demo.accesses.length);

    // The time filter (UTC): after the last record nothing, around them all of them.
    const times = (await rows.locator('td:nth-child(2)').allInnerTexts()).map((t) => Date.parse(t));
    const local = (ms: number) => new Date(ms).toISOString().slice(0, 19);
    const from = page.getByLabel('From (UTC)');
    const to = page.getByLabel('To (UTC)');
    await from.fill(local(Math.max(...times) + 1000));
    expect(await rows.count()).toBe(0);
    await from.fill(local(Math.min(...times)));
    await to.fill(local(Math.max(...times)));
    expect(await rows.count()).toBe(demo.accesses.length);
    await to.fill(local(Math.min(...times) - 1000));
    expect(await rows.count()).toBe(0);
    // From the keyboard: Tab from the last select reaches From (UTC).
    await page.getByLabel("Accessor's country").focus();
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement?.id ?? '');
    expect(focused).toBe(await from.getAttribute('id'));
    await page.getByRole('button', { name: 'Clear filters' }).click();
    expect(await rows.count()).toBe(demo.accesses.length);
    await shot('access');
  }, 120_000);

  async function myData(how: 'file' | 'paste' = 'file'): Promise<Record<string, string>> {
    await page.goto('about:blank');
    await page.goto(`${proxyUrl}#/mine`);
    // The demo customer's key, chosen or pasted as a customer would: read by the page, never uploaded.
    const key = ready?.accessDemoCustomerKey ?? '';
    if (how === 'file') {
      await page.getByLabel('Customer key file').setInputFiles(key);
    } else {
      await page.getByLabel('Or paste the key (PEM)').fill(await readFile(key, 'utf8'));
      await page.getByRole('button', { name: 'Check my accesses' }).press('Enter');
    }
    await page.locator('[data-card="my-data"]').waitFor({ timeout: WAIT_MS });
    return verdicts(page, '[data-card="my-data"]');
  }

  it("My data: the demo customer's key shows every access to its data, the list proved complete", async () => {
    const key = ready?.accessDemoCustomerKey ?? '';
    const v = await myData();
    expect(Object.keys(v)).toEqual([
      'key',
      'output-log',
      'lookup',
      'access-log',
      'inclusion',
      'completeness',
      'memory',
    ]);
    for (const [check, verdict] of Object.entries(v))
      expect(verdict, check).toMatch(/^(pass|note) /);
    expect(v.completeness).toMatch(/these are all \d+ accesses to your data up to access-log size/);
    expect(v.memory).toMatch(/first check from this browser/);
    // The same customer and accesses as the CLI's access mine with the same key.
    const cli = JSON.parse(
      runBuiltCli([
        'access',
        'mine',
        '--customer-key',
        key,
        '--trust',
        ready?.accessTrustPath ?? '',
        '--json',
      ]),
    ) as { customer: string; accesses: { index: string }[] };
    expect(await page.locator('[data-card="my-data"]').getAttribute('data-customer')).toBe(
      cli.customer,
    );
    const shown = await page
      .locator('[data-access]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-access')));
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.slice(0, cli.accesses.length)).toEqual(cli.accesses.map((a) => a.index));
    // Each row says who accessed what, where and why.
    const first = await page.locator('[data-access]').first().innerText();
    expect(first).toMatch(/^1\s/);
    // A tick opens what was checked, against which key.
    await page.locator('[data-check="access-log"] button').click();
    const explained = page.getByRole('region', { name: 'Access log: explanation' });
    expect(await explained.innerText()).toContain('Against:');
    await shot('my-data');
    // A second visit, the key pasted this time, extends what this browser remembered.
    const again = await myData('paste');
    expect(again.memory).toMatch(
      /^note .*extends the check of access-log size \d+ \(\d+ accesses then, all listed again\)/,
    );
  }, 180_000);

  it("My data: an access hidden from the index's answer, or a forked revision, is red with its reason", async () => {
    state.mode = 'index-omit';
    const v = await myData();
    expect(await page.locator('[data-card="my-data"]').getAttribute('data-status')).toBe('fail');
    // The logs verify; the lookup proof no longer leads to the logged index root.
    expect(v['output-log']).toMatch(/^pass /);
    expect(v.lookup).toMatch(/^pass /);
    expect(v.inclusion).toMatch(/^pass /);
    expect(v.completeness).toMatch(/^fail .*LOOKUP_PROOF_MISMATCH/);
    expect(await page.locator('[data-access]').count()).toBe(0);
    await shot('my-data-omitted');
    // An answer from a revision whose index root differs from the one the output log witnessed.
    state.mode = 'index-fork';
    const forked = await myData();
    expect(forked['output-log']).toMatch(/^pass /);
    expect(forked.lookup).toMatch(/^fail .*INDEX_FORK/);
    expect(forked.completeness).toMatch(/^fail .*not checked: an earlier check failed/);
    state.mode = 'none';
  }, 120_000);

  describe('alerts and residency history', () => {
    it("shows the witness's split-view alert with both checkpoints verified, and says when a source has none", async () => {
      const { portalUrl, dataDir } = stack!.value;
      const current = await (await fetch(`${portalUrl}svc/release-log/checkpoint`)).text();
      const forged = await forgeSplitView(dataDir, current);
      await waitForAlert(portalUrl, 'witness', 'split-view');
      // The entry this test added, which the supervisor never approved: its monitor refused it.
      await waitForAlert(portalUrl, 'supervisor', 'entry-rejected');
      await page.goto('about:blank');
      await page.goto(`${proxyUrl}#/alerts`);
      const card = page.locator('[data-source="witness"][data-alert="split-view"]').first();
      await card.waitFor({ timeout: WAIT_MS });
      expect(await card.getAttribute('data-status')).toBe('pass');
      const v = await verdicts(page, '[data-source="witness"][data-alert="split-view"]');
      expect(Object.keys(v)).toEqual(['log', 'signed-previous', 'signed-checkpoint', 'conflict']);
      for (const [check, verdict] of Object.entries(v)) expect(verdict, check).toMatch(/^pass /);
      // The earlier one is what the witness cosigned; the later one is the forgery, log-signed only.
      expect(v['signed-previous']).toContain(`cosigned by ${WITNESS_NAME}`);
      expect(v['signed-checkpoint']).toContain('no policy witness cosigned it');
      expect(v.conflict).toContain(`two trees of size ${forged.split('\n')[1] ?? ''}`);
      // Its explanation shows the forged note itself.
      await card.locator('[data-check="signed-checkpoint"] button').click();
      expect(await card.locator('.explain').innerText()).toContain(forged.split('\n')[2] ?? '');
      // The refused entry: its refusal is the monitor's word (grey), its inclusion proved here.
      const rejected = '[data-source="supervisor"][data-alert="entry-rejected"]';
      expect(await page.locator(rejected).getAttribute('data-status')).toBe('note');
      const rv = await verdicts(page, rejected);
      expect(rv['signed-checkpoint']).toMatch(/^pass /);
      expect(rv.included).toMatch(/^pass .*entry \d+ of \d+ is included under the signed root/);
      // Nothing the monitors raised is red while nothing is tampered with.
      expect(await page.locator('[data-alert][data-status="fail"]').count()).toBe(0);
      // Every monitor of the stack is listed; the others raised nothing.
      expect(
        await page
          .locator('[data-alert-source]')
          .evaluateAll((els) => els.map((e) => e.getAttribute('data-alert-source'))),
      ).toEqual(['supervisor', 'witness', 'residency', 'access']);
      expect(await page.locator('[data-alert-source="residency"] h3').innerText()).toContain(
        'no alerts',
      );
      await shot('alerts');
    }, 180_000);

    it('shows tampered alert evidence red, with its code', async () => {
      for (const [mode, code] of [
        ['alert-signature', 'NOTE_SIGNATURE_INVALID'],
        ['alert-no-conflict', 'PORTAL_ALERT_NO_CONFLICT'],
      ] as const) {
        state.mode = mode;
        await page.goto('about:blank');
        await page.goto(`${proxyUrl}#/alerts`);
        const card = page.locator('[data-source="witness"][data-alert="split-view"]').first();
        await card.waitFor({ timeout: WAIT_MS });
        expect(await card.getAttribute('data-status'), mode).toBe('fail');
        expect(await card.locator('[data-field="reason"]').innerText(), mode).toContain(code);
        await shot(`alerts-${mode}`);
      }
      state.mode = 'none';
    }, 120_000);

    it('shows each policy version with both signatures and its diff, and events per region at each site', async () => {
      const { dataDir, residencyLogUrl } = stack!.value;
      await publishPolicyV2(dataDir, residencyLogUrl);
      await page.goto('about:blank');
      await page.goto(`${proxyUrl}#/residency`);
      await page.locator('[data-version="2"]').waitFor({ timeout: WAIT_MS });
      const v2 = page.locator('[data-version="2"]');
      expect(
        await v2
          .locator('[data-signature]')
          .evaluateAll((els) => els.map((e) => e.getAttribute('data-signature'))),
      ).toEqual(expect.arrayContaining(['vendor', 'supervisor']));
      expect(await v2.locator('[data-field="diff"]').innerText()).toContain(
        'region EUROPE-OTHER added, to us-iad',
      );
      expect(await page.locator('[data-version="1"]').innerText()).toContain('The first version.');
      // Each site's ingest log, replayed and checked against the residency log.
      for (const site of ['ch-zrh', 'us-iad']) {
        const card = `[data-card="ingest-${site}"]`;
        const checks = await verdicts(page, card);
        expect(Object.keys(checks)).toEqual(['checkpoint', 'entries', 'stored']);
        for (const [check, verdict] of Object.entries(checks))
          expect(verdict, `${site} ${check}`).toMatch(/^pass /);
      }
      // Zurich stores the demo's EU batches: a chart with a title, and its numbers as a table.
      const zrh = page.locator('[data-card="ingest-ch-zrh"]');
      expect(await zrh.locator('[data-field="held"]').innerText()).toMatch(
        /EU \(\d+ batches, \d+ events\)/,
      );
      expect(await zrh.locator('svg[role="img"] title').first().textContent()).toBe(
        'Events stored per region at ch-zrh over time',
      );
      const numbers = await zrh
        .locator('[data-table="chart-numbers"] tbody td:not(:first-child)')
        .evaluateAll((els) => els.map((e) => Number(e.textContent)));
      expect(numbers.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      await shot('residency-history');
    }, 180_000);

    it('shows a modified residency policy entry red, with its reason', async () => {
      state.mode = 'residency-entry';
      await page.goto('about:blank');
      await page.goto(`${proxyUrl}#/residency`);
      await page.locator('[data-card="residency-log"]').waitFor({ timeout: WAIT_MS });
      const v = await verdicts(page, '[data-card="residency-log"]');
      expect(v.checkpoint).toMatch(/^pass /);
      expect(v.entries).toMatch(/^fail .*PORTAL_ENTRIES_ROOT_MISMATCH/);
      expect(await page.locator('[data-card="residency-log"]').getAttribute('data-status')).toBe(
        'fail',
      );
      await shot('residency-tampered');
      state.mode = 'none';
    }, 120_000);
  });

  it('shows the approvals (approved, pending, denied, by whom) and the break-glass access with its review', async () => {
    const up = stack!.value;
    const { customer, site } = up.accessDemo;
    const key = (...p: string[]) => join(up.dataDir, ...p);
    const request = (ticket: string): string =>
      runBuiltCli([
        'access',
        'request',
        '--gateway',
        up.gatewayUrl,
        '--key',
        key('vendor', 'principals', 'support.key'),
        '--site',
        site,
        '--customer',
        customer,
        '--class',
        'personal-fields',
        '--from',
        '2026-01-01T00:00:00Z',
        '--to',
        '2026-01-02T00:00:00Z',
        '--justification',
        'CUSTOMER_INITIATED_SUPPORT',
        '--ticket',
        ticket,
        '--detail',
        `a test request ${ticket}`,
        '--entity',
        'Vendor AG',
        '--country',
        'CH',
        '--role',
        'support-engineer',
      ]).split(' ')[0]!;
    const pending = request('SUP-7001');
    const denied = request('SUP-7002');
    runBuiltCli([
      'access',
      'deny',
      '--gateway',
      up.gatewayUrl,
      '--request',
      denied,
      '--role',
      'supervisor',
      '--key',
      key('supervisor', 'residency.key'),
    ]);
    await accessPage();
    const v = await verdicts(page, '[data-card="access-log"]');
    expect(v.approvals).toMatch(/^pass /);
    expect(v.approvals).toContain('1 approved');
    expect(v.approvals).toContain('1 pending');
    expect(v.approvals).toContain('1 denied');
    const row = (digest: string) => page.locator(`[data-request="${digest}"]`);
    expect(await row(pending).getAttribute('data-status')).toBe('pending');
    expect(await row(denied).getAttribute('data-status')).toBe('denied');
    expect(await row(denied).locator('[data-field="decisions"]').innerText()).toMatch(
      /deny by the supervisor at \S+, signed by key [0-9a-f]{64}/,
    );
    const approved = page.locator('[data-request][data-status="approved"]');
    expect(await approved.count()).toBe(1);
    const by = await approved.locator('[data-field="decisions"]').innerText();
    expect(by).toContain('approve by the customer');
    expect(by).toContain('approve by the supervisor');
    for (const d of await page
      .locator('[data-request] [data-check]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-verdict'))))
      expect(d).toBe('pass');

    // The break-glass access: in the log, reviewed by the supervisor before its deadline.
    const glass = up.accessDemo.accesses.find((a) => a.breakGlass)!;
    const bg = page.locator(`[data-break-glass="${glass.index}"]`);
    expect(await bg.getAttribute('data-review')).toBe('approve');
    expect(await bg.getAttribute('data-overdue')).toBe('no');
    const bgText = await bg.innerText();
    expect(bgText).toMatch(/approved by the supervisor at \S+Z/);
    expect(await bg.locator('[data-check]').getAttribute('data-verdict')).toBe('pass');
    expect(v['break-glass']).toContain('1 reviewed, 0 awaiting review, 0 overdue');
    await shot('access-approvals');
  }, 120_000);

  it('shows a modified access record red: its own inclusion proof fails, the others hold', async () => {
    state.mode = 'access-entry';
    await accessPage();
    const v = await verdicts(page, '[data-card="access-log"]');
    expect(v.checkpoint).toMatch(/^pass /);
    expect(v.entries).toMatch(/^fail .*PORTAL_ENTRIES_ROOT_MISMATCH/);
    expect(v.inclusion).toMatch(/^fail .*INCLUSION_PROOF_INVALID/);
    const glass = stack!.value.accessDemo.accesses.find((a) => a.breakGlass)!;
    const changed = page.locator(`[data-record="${glass.index}"]`);
    expect(await changed.innerText()).toContain('intrusiom');
    expect(await changed.getAttribute('data-inclusion')).toBe('fail');
    expect(await changed.locator(`[data-check="inclusion-${glass.index}"]`).innerText()).toContain(
      'INCLUSION_PROOF_INVALID',
    );
    for (const a of stack!.value.accessDemo.accesses.filter((x) => !x.breakGlass)) {
      expect(await page.locator(`[data-record="${a.index}"]`).getAttribute('data-inclusion')).toBe(
        'pass',
      );
    }
    expect(await page.locator('[data-card="access-log"]').getAttribute('data-status')).toBe('fail');
    await shot('tampered-access-record');
    state.mode = 'none';
  }, 120_000);

  it('shows a forged approval signature red, with its reason', async () => {
    state.mode = 'approval-signature';
    await accessPage();
    const v = await verdicts(page, '[data-card="access-log"]');
    expect(v.inclusion).toMatch(/^pass /);
    expect(v.approvals).toMatch(/^fail .*APPROVAL_SIGNATURE_INVALID/);
    const support = stack!.value.accessDemo.accesses[0]!;
    expect(
      await page.locator(`[data-record="${support.index}"] [data-check^="policy-"]`).innerText(),
    ).toContain('APPROVAL_SIGNATURE_INVALID');
    expect(await page.locator(`[data-record="${support.index}"]`).getAttribute('data-policy')).toBe(
      'fail',
    );
    expect(v.policy).toMatch(/^fail .*APPROVAL_SIGNATURE_INVALID/);
    await shot('forged-approval');
    state.mode = 'none';
  }, 120_000);

  it('shows a modified tile red, with its reason', async () => {
    state.mode = 'tile';
    await overview();
    const v = await verdicts(page, '[data-log="release-log"]');
    expect(v.tiles).toMatch(/^fail .*PORTAL_TILES_ROOT_MISMATCH/);
    expect(v['log-signature']).toMatch(/^pass /);
    expect(await page.locator('[data-log="release-log"]').getAttribute('data-status')).toBe('fail');
    expect(await page.locator('[data-log="residency-log"]').getAttribute('data-status')).toBe(
      'pass',
    );
    await shot('tampered-tile');
  }, 120_000);

  it('shows a forged cosignature red, with its reason', async () => {
    state.mode = 'cosignature';
    await overview();
    const v = await verdicts(page, '[data-log="release-log"]');
    expect(v.cosignatures).toMatch(/^fail .*NOTE_SIGNATURE_INVALID/);
    expect(v['log-signature']).toMatch(/^pass /);
    await shot('forged-cosignature');
  }, 120_000);

  it('shows a checkpoint rolled back from the one this browser saw red, with its reason', async () => {
    state.mode = 'rollback';
    await overview();
    const v = await verdicts(page, '[data-log="release-log"]');
    // Validly signed and cosigned — only the browser's memory catches it.
    expect(v['log-signature']).toMatch(/^pass /);
    expect(v.cosignatures).toMatch(/^pass /);
    expect(v.consistency).toMatch(/^fail .*PORTAL_ROLLBACK/);
    // And the witness's own view says the same, even to a browser that never saw the log.
    expect(v['witness-local-witness']).toMatch(
      /^fail .*PORTAL_ROLLBACK.*witness local-witness cosigned/,
    );
    await shot('rollback');
  }, 120_000);

  it("shows releases metadata without the supervisor's signature red, with its reason", async () => {
    state.mode = 'vendor-only';
    await page.goto('about:blank');
    await page.goto(`${proxyUrl}#/releases`);
    await page.locator('[data-card="repository"]').waitFor({ timeout: WAIT_MS });
    const repo = await verdicts(page, '[data-card="repository"]');
    expect(repo['trust-bundle']).toMatch(/^pass /);
    expect(repo.tuf).toMatch(/^fail .*TUF_THRESHOLD_NOT_MET: releases has 1 valid signature/);
    const r = await verdicts(page, `[data-release="${releaseId}"]`);
    expect(r.tuf).toMatch(/^fail /);
    await shot('vendor-only-releases');
    state.mode = 'none';
    expect(consoleErrors).toEqual([]);
  }, 120_000);
});
