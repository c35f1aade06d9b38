/**
 * A separate process that takes the integrator lease and then idles until it
 * is killed, so a test can see what happens when a holder dies with kill -9.
 * Usage: node --import tsx lease-holder.ts URL [SCHEMA]
 */
import { openPostgresStorage } from '../src/postgres.js';

const [url, schema] = process.argv.slice(2);
if (url === undefined) throw new Error('usage: lease-holder.ts URL [SCHEMA]');
const storage = await openPostgresStorage(url, schema === undefined ? {} : { schema });
const lease = await storage.tryAcquireIntegratorLease();
process.stdout.write(lease === null ? 'not-held\n' : 'held\n');
// Stay alive (holding the lease) until killed.
setInterval(() => undefined, 60_000);
