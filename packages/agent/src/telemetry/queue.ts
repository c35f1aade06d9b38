/**
 * The durable telemetry queue in the agent's directory. Detections wait in
 * `telemetry/queue/` (one file each, in clear: they never leave the endpoint
 * unsealed); `sealQueued` seals them into batches in `telemetry/outbox/`
 * (the exact bytes to send, so a retry sends the same batch digest) and only
 * then removes them from the queue; an outbox record lists the queue files it
 * took, so a crash in between never seals an event twice. What the router
 * answered is kept in `telemetry/sent/`, one record per batch.
 */
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { removeFileDurably } from '@glasshouse/durable';
import {
  MAX_BATCH_EVENTS,
  VERDICTS,
  batchDigest,
  sealBatch,
  toBase64,
  type PlainEvent,
} from '@glasshouse/residency';
import { AgentError } from '../errors.js';
import { errnoOf, readFileIfPresent, writeFileAtomic } from '../files.js';
import { telemetryPaths, type DeviceEnrollment } from './trust.js';

const MAX_EVENT_FILE_BYTES = 16 * 1024;
/** A sealed batch of 1,000 events (1 MiB) in base64, with its record. */
const MAX_RECORD_BYTES = 2 * 1024 * 1024;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A detection to report (personal fields in clear until sealed). */
export interface Detection {
  readonly sha256: string;
  readonly rule: string | null;
  readonly verdict: PlainEvent['verdict'];
  /** When it was seen; bucketed to the hour when queued. */
  readonly seenAt: Date;
  readonly host: string;
  readonly user: string;
  readonly path: string;
}

/** A batch sealed and waiting to be sent (or waiting for the router's receipt). */
export interface OutboxRecord {
  readonly digest: string;
  readonly batchId: string;
  readonly bytes: string;
  readonly events: number;
  readonly customer: string;
  readonly region: string;
  readonly createdAt: string;
  readonly queueFiles: readonly string[];
  /** 'queued' once the router answered 202. */
  readonly status: 'sealed' | 'queued';
  readonly site?: string | undefined;
  readonly lastError?:
    { readonly code: string; readonly message: string; readonly at: string } | undefined;
}

/** What the router answered for a batch, and what the agent's check of the receipt found. */
export interface SentRecord {
  readonly digest: string;
  readonly events: number;
  readonly customer: string;
  readonly region: string;
  readonly createdAt: string;
  readonly status: 'stored' | 'refused';
  readonly site?: string | undefined;
  readonly receipt?: string | undefined;
  readonly refusal?: { readonly code: string; readonly message: string } | undefined;
  readonly verification?:
    | {
        readonly result: 'verified';
        readonly index: string;
        readonly checkpointSize: string;
        readonly cosigners: readonly string[];
        readonly policy: string;
        readonly at: string;
      }
    | {
        readonly result: 'failed';
        readonly code: string;
        readonly message: string;
        readonly at: string;
      }
    | undefined;
  readonly sentAt: string;
}

function hourBucket(date: Date): string {
  const d = new Date(date.getTime());
  d.setUTCMinutes(0, 0, 0);
  return d.toISOString().replace(/\.000Z$/, 'Z');
}

/** Queues detections durably; returns how many. */
export async function queueDetections(
  dir: string,
  enrollment: DeviceEnrollment,
  detections: readonly Detection[],
): Promise<number> {
  const paths = telemetryPaths(dir);
  for (const [i, d] of detections.entries()) {
    if (!SHA256_HEX.test(d.sha256) || !(VERDICTS as readonly string[]).includes(d.verdict)) {
      throw new AgentError('AGENT_OPTION_INVALID', 'a detection needs a sha256 and a verdict', {
        evidence: { sha256: d.sha256.slice(0, 80), verdict: d.verdict },
      });
    }
    const event: PlainEvent = {
      sha256: d.sha256,
      rule: d.rule,
      verdict: d.verdict,
      timeBucket: hourBucket(d.seenAt),
      personal: { device: enrollment.device, host: d.host, user: d.user, path: d.path },
    };
    // Sortable names: time, then randomness.
    const name = `${String(Date.now()).padStart(15, '0')}-${String(i).padStart(6, '0')}-${randomBytes(6).toString('hex')}.json`;
    await writeFileAtomic(join(paths.queue, name), `${JSON.stringify(event)}\n`, 0o600);
  }
  return detections.length;
}

async function list(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return [];
    throw err;
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  const bytes = await readFileIfPresent(path, MAX_RECORD_BYTES);
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (cause) {
    throw new AgentError('AGENT_TELEMETRY_STATE_INVALID', `${path} is damaged`, { cause });
  }
}

/** Queue file names not yet sealed. */
export async function queuedFiles(dir: string): Promise<string[]> {
  return list(telemetryPaths(dir).queue);
}

export async function outboxRecords(dir: string): Promise<OutboxRecord[]> {
  const paths = telemetryPaths(dir);
  const out: OutboxRecord[] = [];
  for (const name of await list(paths.outbox)) {
    const record = await readJson<OutboxRecord>(join(paths.outbox, name));
    if (record !== undefined) out.push(record);
  }
  return out;
}

export async function sentRecords(dir: string): Promise<SentRecord[]> {
  const paths = telemetryPaths(dir);
  const out: SentRecord[] = [];
  for (const name of await list(paths.sent)) {
    const record = await readJson<SentRecord>(join(paths.sent, name));
    if (record !== undefined) out.push(record);
  }
  return out.sort((a, b) => a.sentAt.localeCompare(b.sentAt));
}

const fileOf = (digest: string): string => `${digest.replace(/^sha256:/, '')}.json`;

export async function writeOutbox(dir: string, record: OutboxRecord): Promise<void> {
  await writeFileAtomic(
    join(telemetryPaths(dir).outbox, fileOf(record.digest)),
    `${JSON.stringify(record)}\n`,
    0o600,
  );
}

/** Records the router's final answer, then drops the batch from the outbox. */
export async function recordSent(dir: string, record: SentRecord): Promise<void> {
  const paths = telemetryPaths(dir);
  await writeFileAtomic(
    join(paths.sent, fileOf(record.digest)),
    `${JSON.stringify(record, null, 2)}\n`,
  );
  await removeIfPresent(join(paths.outbox, fileOf(record.digest)));
}

export async function updateSent(dir: string, record: SentRecord): Promise<void> {
  await writeFileAtomic(
    join(telemetryPaths(dir).sent, fileOf(record.digest)),
    `${JSON.stringify(record, null, 2)}\n`,
  );
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await removeFileDurably(path);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}

/**
 * Seals every queued event into batches of at most `maxEvents` (the
 * outbox record is durable before its queue files are removed).
 */
export async function sealQueued(options: {
  readonly dir: string;
  readonly enrollment: DeviceEnrollment;
  readonly keyRelease: Uint8Array;
  readonly productVersion: string;
  readonly now: Date;
  readonly maxEvents?: number;
}): Promise<OutboxRecord[]> {
  const { dir, enrollment } = options;
  const paths = telemetryPaths(dir);
  // Finish what a crash interrupted: queue files an outbox record already took.
  const taken = new Set((await outboxRecords(dir)).flatMap((r) => r.queueFiles));
  for (const name of taken) await removeIfPresent(join(paths.queue, name));
  const names = (await list(paths.queue)).filter((n) => !taken.has(n));
  const max = Math.min(options.maxEvents ?? MAX_BATCH_EVENTS, MAX_BATCH_EVENTS);
  const made: OutboxRecord[] = [];
  for (let i = 0; i < names.length; i += max) {
    const chunk = names.slice(i, i + max);
    const events: PlainEvent[] = [];
    for (const name of chunk) {
      const bytes = await readFileIfPresent(join(paths.queue, name), MAX_EVENT_FILE_BYTES);
      if (bytes === undefined) continue;
      try {
        events.push(JSON.parse(bytes.toString('utf8')) as PlainEvent);
      } catch (cause) {
        throw new AgentError('AGENT_TELEMETRY_STATE_INVALID', `queued event ${name} is damaged`, {
          cause,
        });
      }
    }
    if (events.length === 0) continue;
    const createdAt = options.now.toISOString();
    const { batch, bytes } = await sealBatch(
      {
        customer: enrollment.customer,
        region: enrollment.region,
        productVersion: options.productVersion,
        createdAt,
        events,
      },
      options.keyRelease,
    );
    const record: OutboxRecord = {
      digest: batchDigest(bytes),
      batchId: batch.batchId,
      bytes: toBase64(bytes),
      events: events.length,
      customer: enrollment.customer,
      region: enrollment.region,
      createdAt,
      queueFiles: chunk,
      status: 'sealed',
    };
    await writeOutbox(dir, record);
    for (const name of chunk) await removeIfPresent(join(paths.queue, name));
    made.push(record);
  }
  return made;
}
