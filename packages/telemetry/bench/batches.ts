/**
 * Distinct valid batches for the benchmark from one sealed template: each
 * gets its own createdAt and file hashes, so no two share a digest (the
 * site and the router would answer a repeat from what they stored).
 */
import { createHash } from 'node:crypto';
import { type TelemetryBatch, encodeBatch } from '@glasshouse/residency';

/** `count` batches of `template`; `salt` keeps the hashes of different calls apart. */
export function variants(template: TelemetryBatch, count: number, salt: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let v = 0; v < count; v++) {
    const ms = String(v % 1000).padStart(3, '0');
    const s = String(Math.floor(v / 1000) % 60).padStart(2, '0');
    out.push(
      encodeBatch({
        ...template,
        createdAt: `2026-12-04T16:30:${s}.${ms}Z`,
        events: template.events.map((e, i) => ({
          ...e,
          sha256: createHash('sha256').update(`${salt}:${v}:${i}`).digest('hex'),
        })),
      }),
    );
  }
  return out;
}
