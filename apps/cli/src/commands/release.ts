import type { Command } from 'commander';
import { AssemblyClient, type ReleaseRecord } from '@glasshouse/release';
import type { Io } from '../io.js';

export function registerReleaseCommands(program: Command, io: Io): void {
  const release = program
    .command('release')
    .description('Request and inspect releases on an assembly line');

  release
    .command('build')
    .description(
      'Build COMMIT of GIT_URL on the assembly line (progress on stderr); prints the release id and the artifact digests',
    )
    .requiredOption('--assembly <url>', 'the assembly line, e.g. http://127.0.0.1:8070')
    .requiredOption('--source <git-url>', 'the source repository (URL or absolute path)')
    .requiredOption('--commit <sha>', 'the full 40-hex commit to build')
    .action(async (opts: { assembly: string; source: string; commit: string }) => {
      const client = new AssemblyClient(opts.assembly);
      const record = await client.build(opts.source, opts.commit, (line) => {
        io.stderr(`${line}\n`);
      });
      io.stdout(formatRelease(record));
    });

  release
    .command('show')
    .description('Print a release record as JSON')
    .requiredOption('--assembly <url>', 'the assembly line')
    .argument('<id>', 'the release id')
    .action(async (id: string, opts: { assembly: string }) => {
      const record = await new AssemblyClient(opts.assembly).getRelease(id);
      io.stdout(`${JSON.stringify(record, null, 2)}\n`);
    });
}

/** `release <id>`, then `artifact <sha256> <name>` and `attestation <kind> <sha256>` lines. */
export function formatRelease(record: ReleaseRecord): string {
  const lines = [`release ${record.id}`];
  for (const a of record.artifacts) lines.push(`artifact ${a.sha256} ${a.name}`);
  for (const a of record.attestations) lines.push(`attestation ${a.kind} ${a.sha256}`);
  return `${lines.join('\n')}\n`;
}
