import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildServer } from '@glasshouse/log';
import {
  JsonLinesAlertSink,
  SqliteMonitorStateStore,
  basicEntryChecker,
  createMonitor,
} from '@glasshouse/witness';
import { type TestLog, entries, listen, makeTestLog, tempDir } from './monitor-fixtures.js';

let log: TestLog;
let server: FastifyInstance;
let url: string;
let stateDir: string;

beforeAll(async () => {
  log = await makeTestLog();
  server = buildServer({ log: log.log });
  url = await listen(server);
  stateDir = await tempDir('glasshouse-monitor-once-');
  // Entry 3 is not UTF-8: the entry checker refuses it.
  await log.add([...entries(0, 3), Uint8Array.of(0xff, 0xfe, 0x00), ...entries(4, 6)]);
});

afterAll(async () => {
  await server.close();
  await log.close();
  await rm(stateDir, { recursive: true, force: true });
});

/** One monitor process's life: open the state, check once, close. */
async function monitorOnce(): Promise<string> {
  const state = SqliteMonitorStateStore.open(stateDir);
  try {
    const monitor = createMonitor({
      url,
      logVerifier: log.verifierKey,
      state,
      checker: basicEntryChecker({ utf8: true }),
      alerts: new JsonLinesAlertSink(join(stateDir, 'alerts.jsonl')),
      retries: 0,
    });
    const result = await monitor.runOnce();
    // The log is still bad: every run says so, and stays at the verified state.
    expect(result.alerts.map((a) => a.kind)).toEqual(['entry-rejected']);
    return result.outcome;
  } finally {
    await state.close();
  }
}

it('raises an alert once per piece of evidence, across restarts and a growing log', async () => {
  expect(await monitorOnce()).toBe('alert');
  expect(await monitorOnce()).toBe('alert');
  // The same bad entry under a later checkpoint is the same evidence.
  await log.add(entries(10, 5));
  expect(await monitorOnce()).toBe('alert');

  const lines = (await readFile(join(stateDir, 'alerts.jsonl'), 'utf8')).trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
    kind: 'entry-rejected',
    code: 'ENTRY_REJECTED',
    evidence: { index: '3' },
  });
});
