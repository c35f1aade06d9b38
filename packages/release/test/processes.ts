import { readdir, readFile } from 'node:fs/promises';

/** Processes on the host whose command line contains `token`. */
export async function processesWith(token: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(token)) found.push(pid);
    } catch {
      // Exited meanwhile.
    }
  }
  return found;
}

/** The processes with `token` still there after up to two seconds (empty once they are gone). */
export async function eventuallyNoProcessWith(token: string): Promise<string[]> {
  let left: string[] = [];
  for (let i = 0; i < 40; i++) {
    left = await processesWith(token);
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return left;
}
