/**
 * What the Alerts and Residency browser tests do to a running `npm start`
 * stack, for real: a split view signed with the release log's own key from
 * the stack's data directory and offered to the stack's witness (which
 * refuses it and records the alert), a second residency policy version
 * drafted, signed by both parties' keys and published; and the tampering
 * the proxy applies to the bytes the browser reads.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatCheckpoint, parseCheckpoint, parseSignerKey, signNote } from '@glasshouse/tlog';
import { runBuiltCli } from '../../cli/test/built-cli.js';

const WAIT_MS = 90_000;

/**
 * Signs a checkpoint of the size the witness cosigned last with another
 * root, with the release log's key, and submits it to the stack's witness
 * (c2sp.org/tlog-witness add-checkpoint). The witness answers 409
 * ROOT_MISMATCH and records the split view in its alerts file. Returns the
 * forged note.
 */
export async function forgeSplitView(dataDir: string, logCheckpoint: string): Promise<string> {
  const policy = await readFile(join(dataDir, 'witness-policy.txt'), 'utf8');
  const witnessUrl = /^witness \S+ \S+ (\S+)$/m.exec(policy)?.[1];
  if (witnessUrl === undefined) throw new Error('no witness URL in the release log policy');
  const signer = parseSignerKey(
    (await readFile(join(dataDir, 'vendor', 'log', 'log.key'), 'utf8')).trim(),
  );
  const current = parseCheckpoint(logCheckpoint.slice(0, logCheckpoint.indexOf('\n\n') + 1));
  let size = current.size;
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const note = signNote(
      formatCheckpoint({ ...current, size, rootHash: new Uint8Array(randomBytes(32)) }),
      [signer],
    );
    const res = await fetch(`${witnessUrl.replace(/\/$/, '')}/add-checkpoint`, {
      method: 'POST',
      body: `old ${size}\n\n${note}`,
    });
    const body = await res.text();
    if (res.status === 409 && /^\d+\n$/.test(body) && BigInt(body.trim()) !== size) {
      // The witness cosigned another size meanwhile: offer the fork at its size.
      size = BigInt(body.trim());
    } else if (res.status === 409) {
      return note;
    } else {
      throw new Error(`the witness answered ${res.status}: ${body}`);
    }
    if (Date.now() > deadline) throw new Error('the witness size kept moving');
  }
}

/** Polls the portal's copy of an alerts file until a line of `kind` is there. */
export async function waitForAlert(portalUrl: string, id: string, kind: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const text = await (await fetch(`${portalUrl}alerts/${id}.jsonl`)).text();
    if (text.split('\n').some((l) => l.includes(`"kind":"${kind}"`))) return;
    if (Date.now() > deadline) throw new Error(`no ${kind} alert in ${id}: ${text}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Residency policy version 2 through the CLI, as the parties do it: drafted
 * after version 1 with one more explicit region (EUROPE-OTHER to the site
 * that already gets it by default, so no data moves), signed by the vendor
 * and by the supervisor, published to the residency log.
 */
export async function publishPolicyV2(dataDir: string, residencyLogUrl: string): Promise<void> {
  const vendor = join(dataDir, 'vendor');
  const v1 = join(vendor, 'residency-policy', 'v1.envelope.json');
  const payload = JSON.parse(
    Buffer.from(
      (JSON.parse(await readFile(v1, 'utf8')) as { payload: string }).payload,
      'base64',
    ).toString('utf8'),
  ) as {
    sites: { id: string; country: string; ingestUrl: string; verifierKey: string }[];
    regions: Record<string, string>;
    default?: string;
  };
  const dir = join(dataDir, 'test-policy-v2');
  await mkdir(dir, { recursive: true });
  const out = join(dir, 'v2.json');
  const envelope = join(dir, 'v2.envelope.json');
  runBuiltCli([
    'residency',
    'policy',
    'draft',
    '--out',
    out,
    '--previous',
    v1,
    ...payload.sites.flatMap((s) => [
      '--site',
      `${s.id},${s.country},${s.ingestUrl},${s.verifierKey}`,
    ]),
    ...Object.entries(payload.regions).flatMap(([r, s]) => ['--region', `${r}=${s}`]),
    '--region',
    `EUROPE-OTHER=${payload.default ?? ''}`,
    ...(payload.default === undefined ? [] : ['--default', payload.default]),
  ]);
  for (const key of [join(vendor, 'residency.key'), join(dataDir, 'supervisor', 'residency.key')]) {
    runBuiltCli([
      'residency',
      'policy',
      'sign',
      '--payload',
      out,
      '--key',
      key,
      '--envelope',
      envelope,
    ]);
  }
  runBuiltCli([
    'residency',
    'policy',
    'publish',
    '--envelope',
    envelope,
    '--log',
    residencyLogUrl,
    '--caller-key',
    join(vendor, 'router', 'caller.key'),
  ]);
}

export type AlertTamper = 'alert-signature' | 'alert-no-conflict';

/**
 * An alerts file as the proxy changes it: the later checkpoint of each
 * split view with its root line replaced (its log signature no longer
 * verifies), or with the earlier checkpoint in its place (validly signed,
 * but no conflict left).
 */
export function tamperAlerts(body: string, how: AlertTamper): string {
  return body
    .split('\n')
    .map((line) => {
      if (!line.includes('"split-view"')) return line;
      const a = JSON.parse(line) as { evidence: Record<string, unknown> };
      const note = String(a.evidence.checkpoint);
      if (how === 'alert-no-conflict') {
        a.evidence.checkpoint = a.evidence.previous;
        delete a.evidence.root;
      } else {
        const lines = note.split('\n');
        lines[2] = Buffer.from(randomBytes(32)).toString('base64');
        a.evidence.checkpoint = lines.join('\n');
        delete a.evidence.root;
      }
      return JSON.stringify(a);
    })
    .join('\n');
}

/** An entry bundle with one byte of its first entry changed (a modified policy entry). */
export function tamperFirstEntry(bundle: Buffer): Buffer {
  const out = Buffer.from(bundle);
  // c2sp.org/tlog-tiles: a big-endian uint16 length, then the entry; byte 20 is inside it.
  out[20] = (out[20] ?? 0) ^ 1;
  return out;
}
