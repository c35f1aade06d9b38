/**
 * The verified tail against a real witnessed log on loopback: the last
 * verified checkpoint is not verified again when the log serves it again,
 * and any other bytes (one cosignature character changed) are verified and
 * refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { hasCode } from '@glasshouse/errors';
import { VerifiedTail } from '../src/view/tail.js';
import { append, startLog, startWitness } from './residency-fixture.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('VerifiedTail', () => {
  it('verifies every checkpoint it has not verified before, even one that differs by a character', async () => {
    const w = await startWitness();
    cleanups.push(() => w.close());
    const log = await startLog('localhost/glasshouse/tail', w);
    cleanups.push(() => log.close());
    await append(log.log, new TextEncoder().encode('one'));

    let forge = false;
    const tamper = (note: string): string => {
      const lines = note.split('\n');
      const i = lines.findIndex((l) => l.startsWith(`\u2014 ${w.name} `));
      const line = lines[i] as string;
      const c = line.at(-12) === 'A' ? 'B' : 'A';
      lines[i] = `${line.slice(0, -12)}${c}${line.slice(-11)}`;
      return lines.join('\n');
    };
    const tail = new VerifiedTail({
      url: log.url,
      policy: log.policy,
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        const url = input instanceof Request ? input.url : input.toString();
        if (!forge || !url.endsWith('/checkpoint')) return res;
        return new Response(tamper(await res.text()), { status: 200 });
      },
    });
    cleanups.push(() => {
      tail.close();
      return Promise.resolve();
    });

    const first = await tail.step(null);
    expect(first.next.size).toBe(1n);
    expect(first.cosigners).toHaveLength(1);
    // The same checkpoint again: nothing new, same cosigners.
    const again = await tail.step(first.next);
    expect(again.entries).toEqual([]);
    expect(again.cosigners).toEqual(first.cosigners);

    forge = true;
    const err = await tail.step(first.next).catch((e: unknown) => e);
    expect(hasCode(err, 'CHECKPOINT_INVALID')).toBe(true);
    forge = false;
    expect((await tail.step(first.next)).next).toEqual(first.next);
  });
});
