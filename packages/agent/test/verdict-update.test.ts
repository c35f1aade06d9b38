/**
 * Vendor verdict lists through the supervised channel, as a data site
 * fetches them: the newest `verdicts` release with every check rules get,
 * kept with a pointer to the current one; refused when the supervisor did
 * not sign, when the list is not the format, or when it is another
 * release's list; an older list never replaces a newer one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  serializeVerdictList,
  verdictListName,
  verdictListOf,
  type VerdictList,
} from '@glasshouse/release-format';
import { currentVerdictList, updateVerdicts, type Agent } from '../src/index.js';
import { startWorld, type World } from './fixtures.js';

const NAME = 'demo-verdicts';
const SOURCE = 'https://git.vendor.example.org/verdicts.git';
const BAD = 'b'.repeat(64);
const GOOD = 'a'.repeat(64);

function list(version: string, text: string): VerdictList {
  return verdictListOf({ name: NAME, version }, [{ path: 'verdicts/list.txt', text }]);
}

let world: World;
let agent: Agent;

async function publishList(
  version: string,
  bytes: Uint8Array,
  tweaks: Parameters<World['publish']>[1] = {},
): Promise<void> {
  await world.publish(version, {
    name: NAME,
    source: SOURCE,
    artifacts: [{ name: verdictListName({ name: NAME, version }), bytes }],
    ...tweaks,
  });
}

async function codeOfUpdate(): Promise<string> {
  const err = await updateVerdicts({ dir: agent.dir, name: NAME, source: SOURCE }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return (err as { code?: string } | undefined)?.code ?? String(err);
}

beforeAll(async () => {
  world = await startWorld();
  agent = await world.newAgent();
}, 60_000);
afterAll(async () => {
  await world.close();
});

describe('updateVerdicts', () => {
  it('fetches the newest list after every check and keeps it as current', async () => {
    expect(await currentVerdictList(agent.dir, NAME)).toBeUndefined();
    const first = list('1.0.0', `${BAD} known-bad\n`);
    await publishList('1.0.0', serializeVerdictList(first));
    const fetched = await updateVerdicts({ dir: agent.dir, name: NAME, source: SOURCE });
    expect(fetched).toMatchObject({ status: 'fetched', release: { name: NAME, version: '1.0.0' } });
    expect(fetched.status === 'fetched' ? fetched.list : undefined).toEqual(first);
    expect((await currentVerdictList(agent.dir, NAME))?.list).toEqual(first);
    expect(await updateVerdicts({ dir: agent.dir, name: NAME, source: SOURCE })).toEqual({
      status: 'up-to-date',
      version: '1.0.0',
    });
  }, 60_000);

  it('refuses a list the supervisor did not sign, and keeps the current one', async () => {
    await publishList('1.1.0', serializeVerdictList(list('1.1.0', `${GOOD} known-good\n`)), {
      signers: 'vendor',
    });
    expect(await codeOfUpdate()).toBe('AGENT_TUF_SUPERVISOR_SIGNATURE_MISSING');
    expect((await currentVerdictList(agent.dir, NAME))?.release.version).toBe('1.0.0');
  }, 60_000);

  it('refuses a list that is not the format, or is another release’s list', async () => {
    await world.withdraw(`${NAME}/1.1.0/`);
    await publishList('1.2.0', new TextEncoder().encode('{"schema":"x"}'));
    expect(await codeOfUpdate()).toBe('AGENT_VERDICTS_INVALID');
    await world.withdraw(`${NAME}/1.2.0/`);
    // The 1.0.0 list published again as 1.3.0: its own name and version say otherwise.
    await publishList('1.3.0', serializeVerdictList(list('1.0.0', `${GOOD} known-good\n`)));
    expect(await codeOfUpdate()).toBe('AGENT_VERDICTS_INVALID');
    expect((await currentVerdictList(agent.dir, NAME))?.release.version).toBe('1.0.0');
  }, 60_000);

  it('takes the next good list, and never goes back to an older one', async () => {
    await world.withdraw(`${NAME}/1.3.0/`);
    const next = list('1.4.0', `${BAD} known-bad\n${GOOD} known-good\n`);
    await publishList('1.4.0', serializeVerdictList(next));
    expect(await updateVerdicts({ dir: agent.dir, name: NAME, source: SOURCE })).toMatchObject({
      status: 'fetched',
      list: next,
    });
    await world.withdraw(`${NAME}/1.4.0/`);
    expect(await codeOfUpdate()).toBe('AGENT_RELEASE_ROLLBACK');
    expect((await currentVerdictList(agent.dir, NAME))?.list).toEqual(next);
  }, 60_000);
});
