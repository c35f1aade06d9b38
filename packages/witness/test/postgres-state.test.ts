import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createTestDatabase,
  describePostgres,
  type TestDatabase,
} from '../../db/test/postgres-fixture.js';
import { openPostgresState } from '../src/postgres-state.js';
import { stateContract } from './state.contract.js';
import type { WitnessStateStore } from '../src/state.js';

describePostgres('PostgreSQL witness state', () => {
  // One database for the file; each contract test gets its own schema in it.
  let db: TestDatabase | undefined;
  let schemas = 0;

  beforeAll(async () => {
    db = await createTestDatabase('witness');
  });
  afterAll(async () => {
    await db?.drop();
  });

  function url(): string {
    if (db === undefined) throw new Error('test database not created');
    return db.url;
  }

  stateContract('postgres', async () => {
    const schema = `witness_contract_${++schemas}`;
    const open = (): Promise<WitnessStateStore> =>
      openPostgresState(url(), { schema, poolSize: 4 });
    const handles = [await open()];
    return {
      state: handles[0] as WitnessStateStore,
      reopen: async () => {
        const h = await open();
        handles.push(h);
        return h;
      },
      cleanup: async () => {
        for (const h of handles) await h.close();
      },
    };
  });

  it('two handles on one database (two frontends) see each other and race safely', async () => {
    const schema = `witness_shared_${++schemas}`;
    const a = await openPostgresState(url(), { schema, poolSize: 4 });
    const b = await openPostgresState(url(), { schema, poolSize: 4 });
    try {
      await a.addLogKey('example.com/shared', 'key-a');
      expect(await b.getLog('example.com/shared')).toEqual({
        origin: 'example.com/shared',
        verifierKeys: ['key-a'],
      });
      const next = (size: bigint) => ({ size, rootHash: new Uint8Array(32), note: `n${size}\n` });
      const won = await Promise.all([
        a.casLatest('example.com/shared', 0n, next(3n)),
        b.casLatest('example.com/shared', 0n, next(4n)),
      ]);
      expect(won.filter(Boolean)).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
