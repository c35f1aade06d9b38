/**
 * `glasshouse residency policy draft|sign|publish|show`: a residency policy
 * version from draft to the witnessed residency log. Each organisation signs
 * the payload it read with its own residency key (`sign`, or
 * `supervisor sign-policy`); the log's writers publish the envelope.
 * `glasshouse residency status` is registered beside it by the monitor module.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { checkPinnedResidency, readResidencyView } from '@glasshouse/agent';
import { SITE_ID, type Site } from '@glasshouse/residency';
import { clientOptions, collect } from '../callers.js';
import { readSmallFile, UsageError, type Io } from '../io.js';
import { partyKey } from '../residency/parties.js';
import { draftPolicy, envelopeOf, publishPolicy, signPolicy } from '../residency/policy-files.js';

const MAX_POLICY_FILE_BYTES = 128 * 1024;

/** The `residency` command group (found when another module created it first). */
export function residencyCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'residency') ??
    program
      .command('residency')
      .description(
        'Data residency: the residency policy (regions → designated site), signed by the vendor and the ' +
          'supervisor and logged in the witnessed residency log, and the residency status of every site',
      )
  );
}

/** `--site ID,COUNTRY,URL,VERIFIER-KEY` (the key inline, or @FILE). */
async function parseSite(spec: string, cwd: string): Promise<Site> {
  const [id, country, url, key, ...rest] = spec.split(',');
  if (
    id === undefined ||
    country === undefined ||
    url === undefined ||
    key === undefined ||
    rest.length > 0
  ) {
    throw new UsageError(
      `--site wants ID,COUNTRY,URL,VERIFIER-KEY (or @FILE), got ${JSON.stringify(spec)}`,
    );
  }
  if (!SITE_ID.test(id))
    throw new UsageError(`site id ${JSON.stringify(id)} is not [a-z0-9-]{2,32}`);
  const verifierKey = key.startsWith('@')
    ? (await readSmallFile(resolve(cwd, key.slice(1)), 4096)).trim()
    : key;
  return { id, country, ingestUrl: url.endsWith('/') ? url : `${url}/`, verifierKey };
}

function parseRegions(specs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const m = /^([A-Z][A-Z-]{1,15})=([a-z0-9-]{2,32})$/.exec(spec);
    if (m?.[1] === undefined || m[2] === undefined)
      throw new UsageError(`--region wants REGION=SITE, got ${JSON.stringify(spec)}`);
    out[m[1]] = m[2];
  }
  return out;
}

export function registerResidencyCommands(program: Command, io: Io): void {
  const policy = residencyCommand(program)
    .command('policy')
    .description('Draft, sign, publish and show residency policy versions');

  policy
    .command('draft')
    .description(
      'Write a policy payload (canonical JSON): the sites with their ingest-log verifier keys and URLs, and ' +
        'regions → site. With --previous, the version after that one (it names its digest). Refusals: ' +
        'POLICY_INVALID (a region unknown or mapped to an unlisted site).\n\n' +
        'Example: glasshouse residency policy draft --out policy.json \\\n' +
        '  --site ch-zrh,CH,http://127.0.0.1:8451/,@data/vendor/sites/ch-zrh/verifier-key.txt \\\n' +
        '  --site us-iad,US,http://127.0.0.1:8452/,@data/vendor/sites/us-iad/verifier-key.txt \\\n' +
        '  --region EU=ch-zrh --region NA=ch-zrh --default us-iad',
    )
    .requiredOption('--out <file>', 'where to write the payload')
    .requiredOption(
      '--site <spec>',
      'ID,COUNTRY,URL,VERIFIER-KEY or ID,COUNTRY,URL,@FILE (repeatable)',
      collect,
    )
    .option('--region <map>', 'REGION=SITE (repeatable)', collect)
    .option('--default <site>', 'the site of every region not listed')
    .option('--previous <envelope>', 'the envelope of the version this one follows')
    .action(
      async (opts: {
        out: string;
        site: string[];
        region?: string[];
        default?: string;
        previous?: string;
      }) => {
        const sites = await Promise.all(opts.site.map((s) => parseSite(s, io.cwd)));
        const previousPayload =
          opts.previous === undefined
            ? undefined
            : envelopeOf(await readSmallFile(resolve(io.cwd, opts.previous), MAX_POLICY_FILE_BYTES))
                .payload;
        const payload = draftPolicy({
          sites,
          regions: parseRegions(opts.region ?? []),
          default: opts.default,
          previousPayload,
          issuedAt: new Date(),
        });
        await writeFile(resolve(io.cwd, opts.out), payload);
        io.stdout(`drafted ${opts.out}\n`);
      },
    );

  const sign = (command: Command, who: string): void => {
    command
      .requiredOption('--payload <file>', 'the drafted payload (read it before signing)')
      .requiredOption('--key <file>', `the ${who} residency signing key (Ed25519 PKCS#8 PEM)`)
      .requiredOption(
        '--envelope <file>',
        'the envelope to add the signature to (created when missing)',
      )
      .action(async (opts: { payload: string; key: string; envelope: string }) => {
        const payload = await readFile(resolve(io.cwd, opts.payload)).catch((cause: unknown) => {
          throw new UsageError(`cannot read ${opts.payload}`, { cause });
        });
        const envelopePath = resolve(io.cwd, opts.envelope);
        const existing = existsSync(envelopePath)
          ? await readSmallFile(envelopePath, MAX_POLICY_FILE_BYTES)
          : undefined;
        const text = signPolicy(payload, await partyKey(resolve(io.cwd, opts.key)), existing);
        await writeFile(envelopePath, text);
        io.stdout(
          `signed ${opts.envelope} (${envelopeOf(text).envelope.signatures.length} signatures)\n`,
        );
      });
  };
  sign(
    policy
      .command('sign')
      .description(
        "Add a party's signature (DSSE over the payload) to the policy envelope; the vendor and the supervisor each " +
          'sign. Refusals: RESIDENCY_POLICY_MISMATCH (the envelope carries another payload), POLICY_INVALID',
      ),
    "party's",
  );

  policy
    .command('publish')
    .description(
      'Append the signed policy to the residency log and wait for the witnessed receipt; prints the index and the ' +
        'policy digest. Nothing routes on a version before this. The log refuses a version without both signatures ' +
        'only through its readers: the router, the sites and the monitor skip and report it',
    )
    .requiredOption('--envelope <file>', 'the policy envelope with both signatures')
    .requiredOption('--log <url>', 'the residency log, e.g. http://127.0.0.1:8481/')
    .option(
      '--caller-key <file>',
      'the key this write is signed with (RFC 9421), when the log checks writers',
    )
    .option('--receipt <file>', 'where to write the receipt (c2sp.org/tlog-proof)')
    .action(
      async (opts: { envelope: string; log: string; callerKey?: string; receipt?: string }) => {
        const envelope = await readSmallFile(resolve(io.cwd, opts.envelope), MAX_POLICY_FILE_BYTES);
        const published = await publishPolicy({
          envelope,
          logUrl: opts.log,
          ...(await clientOptions(
            opts.callerKey === undefined ? undefined : resolve(io.cwd, opts.callerKey),
          )),
        });
        if (opts.receipt !== undefined)
          await writeFile(resolve(io.cwd, opts.receipt), published.receipt);
        io.stdout(`published ${published.digest} residency-log index ${published.index}\n`);
      },
    );

  policy
    .command('show')
    .description(
      'Read the whole residency log (checkpoint checked against its witness policy, entries against the checkpoint), ' +
        'fold it under the two residency keys, and print the policy in force: version, digest, sites and regions. ' +
        'Refusals: AGENT_RESIDENCY_LOG_INVALID, AGENT_RESIDENCY_LOG_UNREACHABLE',
    )
    .requiredOption(
      '--trust <file>',
      'the residency trust (JSON: routerUrl, logPolicy, vendorKey, supervisorKey, keyRelease), e.g. data/residency-trust.json',
    )
    .option('--json', 'print the policy as JSON')
    .action(async (opts: { trust: string; json?: boolean }) => {
      const text = await readSmallFile(resolve(io.cwd, opts.trust), MAX_POLICY_FILE_BYTES);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (cause) {
        throw new UsageError(`${opts.trust} is not JSON`, { cause });
      }
      const view = await readResidencyView(checkPinnedResidency(value));
      const logged = view.state.policy;
      if (opts.json === true) {
        io.stdout(
          `${JSON.stringify(logged === null ? null : { digest: logged.digest, index: logged.index.toString(), policy: logged.policy }, null, 2)}\n`,
        );
        return;
      }
      io.stdout(`residency log ${view.checkpoint.origin} size ${view.checkpoint.size}\n`);
      for (const r of view.refused) io.stdout(`refused entry ${r.index}: ${r.code}\n`);
      if (logged === null) {
        io.stdout('policy none\n');
        return;
      }
      const p = logged.policy;
      io.stdout(
        `policy v${p.version} ${logged.digest} (index ${logged.index}, issued ${p.issuedAt})\n`,
      );
      for (const s of p.sites) io.stdout(`site ${s.id} ${s.country} ${s.ingestUrl}\n`);
      for (const [region, site] of Object.entries(p.regions))
        io.stdout(`region ${region} -> ${site}\n`);
      if (p.default !== undefined) io.stdout(`region * -> ${p.default}\n`);
      io.stdout(`customers enrolled ${view.state.customers().length}\n`);
    });
}
