/**
 * The process under test, started by `run.ts` as a child so that the load
 * generator does not share its event loop. Modes:
 *
 *     server.ts bare                 a bare node:http server answering a POST (the baseline)
 *     server.ts sqlite DIR           a log on SQLite plus files in DIR
 *     server.ts postgres URL         a log in the PostgreSQL database at URL
 *
 * The log modes build the service exactly as `glasshouse log serve` does:
 * `initLog`, then `openLog({ storage, signerKey })` and `buildServer({ log })`
 * with every default (sequencer 256 entries / 100 ms, integrator every
 * 250 ms, 4,096 entries per round). Prints `url <URL>` once listening; stops
 * gracefully on SIGTERM.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateSignerKey } from '@glasshouse/tlog';
import {
  type LogStorage,
  buildServer,
  initLog,
  openLog,
  openPostgresStorage,
  openSqliteStorage,
} from '../src/index.js';

const BENCH_ORIGIN = 'bench.example/log';

async function serveBare(): Promise<() => Promise<void>> {
  let counter = 0;
  // Answer the same shape as POST /add: read the whole body, reply with small JSON.
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      const body = JSON.stringify({ index: counter++, bytes });
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`url http://127.0.0.1:${port}/\n`);
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      server.closeAllConnections();
    });
}

async function serveLog(storage: LogStorage): Promise<() => Promise<void>> {
  const { signerKey } = generateSignerKey(BENCH_ORIGIN);
  await initLog({ origin: BENCH_ORIGIN, signerKey, storage });
  let lastError = '';
  const log = await openLog({
    storage,
    signerKey,
    integrator: {
      // As `glasshouse log serve` does: a stuck integrator fails every round; say it once per change.
      onError: (err) => {
        const line = `integration failed: ${String(err)}`;
        if (line !== lastError) process.stderr.write(`${line}\n`);
        lastError = line;
      },
    },
  });
  const app = buildServer({ log });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(`url ${address}/\n`);
  return async () => {
    await app.close();
    await log.close();
    await storage.close();
  };
}

async function main(): Promise<void> {
  const [mode, arg] = process.argv.slice(2);
  let close: () => Promise<void>;
  if (mode === 'bare') {
    close = await serveBare();
  } else if (mode === 'sqlite' && arg !== undefined) {
    close = await serveLog(await openSqliteStorage({ dir: arg }));
  } else if (mode === 'postgres' && arg !== undefined) {
    close = await serveLog(await openPostgresStorage(arg));
  } else {
    throw new Error('usage: server.ts bare | sqlite DIR | postgres URL');
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`server: close failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent went away without telling us: do not linger.
  process.on('disconnect', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
