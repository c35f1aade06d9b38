/**
 * The real tuf-js 5 client against a repository directory served over
 * loopback HTTP, as an endpoint would use it: pinned to `1.root.json`.
 */
import { copyFile, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Updater } from 'tuf-js';

/** A static server over DIR/metadata and DIR/targets on 127.0.0.1; `onClose` gets its closer. */
export async function serveRepository(
  dir: string,
  onClose: (close: () => Promise<void>) => void,
): Promise<string> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const match = /^\/(metadata|targets)\/(.+)$/.exec(path);
    const parts = match?.[2]?.split('/') ?? [];
    if (match === null || parts.some((p) => p === '' || p === '.' || p === '..')) {
      res.writeHead(404).end();
      return;
    }
    readFile(join(dir, match[1]!, ...parts)).then(
      (bytes) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes),
      (err: unknown) =>
        res.writeHead((err as NodeJS.ErrnoException).code === 'ENOENT' ? 404 : 500).end(),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  onClose(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export interface PinnedClient {
  metadataDir: string;
  targetDir: string;
  updater(): Updater;
}

/** A tuf-js client pinned to the repository's 1.root.json, in two fresh directories. */
export async function pinnedClient(
  repoDir: string,
  base: string,
  tempDir: (prefix: string) => Promise<string>,
): Promise<PinnedClient> {
  const metadataDir = await tempDir('tuf-client-');
  const targetDir = await tempDir('tuf-download-');
  await copyFile(join(repoDir, 'metadata', '1.root.json'), join(metadataDir, 'root.json'));
  return {
    metadataDir,
    targetDir,
    updater: () =>
      new Updater({
        metadataDir,
        metadataBaseUrl: `${base}/metadata`,
        targetDir,
        targetBaseUrl: `${base}/targets`,
        config: { fetchRetry: false },
      }),
  };
}

/** Fetches `name` through tuf-js and returns its bytes. */
export async function download(client: PinnedClient, name: string): Promise<Buffer> {
  const updater = client.updater();
  const info = await updater.getTargetInfo(name);
  if (info === undefined) throw new Error(`tuf-js found no target ${name}`);
  return readFile(await updater.downloadTarget(info));
}

/** The root version the client trusts now. */
export async function clientRootVersion(client: PinnedClient): Promise<number> {
  const root = JSON.parse(await readFile(join(client.metadataDir, 'root.json'), 'utf8')) as {
    signed: { version: number };
  };
  return root.signed.version;
}
