/**
 * `glasshouse access request | approve | deny | list` (issue 17 §5): clients
 * of the gateway's approvals API. An accessor files a request (signed with
 * its principal key, RFC 9421); the customer and the supervisor approve or
 * deny its digest with their own Ed25519 keys (DSSE); the supervisor reviews
 * a break-glass access the same way, over the record's digest.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  JUSTIFICATION_CODES,
  type AccessScope,
  type Justification,
  type JustificationCode,
} from '@glasshouse/access-format';
import { DIGEST } from '@glasshouse/residency';
import { readCallerKey } from '../callers.js';
import { UsageError, type Io } from '../io.js';
import { callGateway, fileAccessRequest, fileDecision } from '../access/client.js';
import { accessCommand } from './access-index.js';

function seconds(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`${what} wants a positive number of seconds`);
  return n;
}

export function registerAccessApprovalCommands(program: Command, io: Io): void {
  const access = accessCommand(program);

  access
    .command('request')
    .description(
      'File an access request at the gateway (signed with your principal key): the scope and justification ' +
        'the approvers sign. Prints the request digest to name as "approval" in the access.\n\n' +
        'Example: glasshouse access request --gateway http://127.0.0.1:8485 --key me.key --site ch-zrh \\\n' +
        '  --customer c-… --class personal-fields --batches sha256:… --justification CUSTOMER_INITIATED_SUPPORT \\\n' +
        '  --ticket SUP-1 --detail "customer asked" --entity "Vendor AG" --country CH --role support-engineer',
    )
    .requiredOption('--gateway <url>', "the gateway's URL")
    .requiredOption('--key <file>', 'your principal key (PKCS#8 PEM or PRIVATE+KEY+…)')
    .requiredOption('--site <id>', 'the data site')
    .requiredOption('--customer <pseudonym>', 'the customer (c-…)')
    .requiredOption('--class <dataClass>', 'the data class, e.g. personal-fields')
    .option('--batches <digests>', 'comma-separated batch digests (sha256:…)')
    .option('--from <time>', 'time range start (RFC 3339 UTC), with --to')
    .option('--to <time>', 'time range end (exclusive)')
    .requiredOption('--justification <code>', `one of ${JUSTIFICATION_CODES.join(', ')}`)
    .requiredOption('--detail <text>', 'free text for the approvers')
    .option('--ticket <id>', 'the support ticket (CUSTOMER_INITIATED_SUPPORT)')
    .option('--reference <ref>', 'the legal reference (LEGAL_REQUEST)')
    .requiredOption('--entity <name>', 'your employing entity, as registered')
    .requiredOption('--country <cc>', 'your office country, as registered')
    .requiredOption('--role <role>', 'your role, as registered')
    .option('--expires-in <seconds>', 'the request expires unanswered after this', '86400')
    .action(
      async (o: {
        gateway: string;
        key: string;
        site: string;
        customer: string;
        class: string;
        batches?: string;
        from?: string;
        to?: string;
        justification: string;
        detail: string;
        ticket?: string;
        reference?: string;
        entity: string;
        country: string;
        role: string;
        expiresIn: string;
      }) => {
        const scope: AccessScope =
          o.batches !== undefined
            ? { kind: 'batches', batches: o.batches.split(',').sort() }
            : o.from !== undefined && o.to !== undefined
              ? { kind: 'time-range', from: o.from, to: o.to }
              : (() => {
                  throw new UsageError('name the scope: --batches, or --from and --to');
                })();
        if (!(JUSTIFICATION_CODES as readonly string[]).includes(o.justification)) {
          throw new UsageError(`--justification is one of ${JUSTIFICATION_CODES.join(', ')}`);
        }
        const justification: Justification = {
          code: o.justification as JustificationCode,
          detail: o.detail,
          ...(o.ticket === undefined ? {} : { ticket: o.ticket }),
          ...(o.reference === undefined ? {} : { reference: o.reference }),
        };
        const filed = await fileAccessRequest(
          o.gateway,
          {
            key: await readCallerKey(resolve(io.cwd, o.key)),
            entity: o.entity,
            country: o.country,
            role: o.role,
          },
          { site: o.site, customer: o.customer, dataClass: o.class, scope, justification },
          seconds(o.expiresIn, '--expires-in'),
        );
        io.stdout(`${filed.digest} ${filed.status}\n`);
      },
    );

  for (const decision of ['approve', 'deny'] as const) {
    access
      .command(decision)
      .description(
        `${decision === 'approve' ? 'Approve' : 'Deny'} an access request as the customer or the supervisor: ` +
          'signs the decision over the request digest with your key (DSSE) and files it at the gateway. With ' +
          '--break-glass the digest is a break-glass access record and this is the supervisor review.',
      )
      .requiredOption('--gateway <url>', "the gateway's URL")
      .requiredOption(
        '--request <digest>',
        'the request digest (or, with --break-glass, the record digest)',
      )
      .requiredOption('--role <role>', 'customer or supervisor')
      .requiredOption('--key <file>', 'your Ed25519 key (PKCS#8 PEM or PRIVATE+KEY+…)')
      .option('--valid-for <seconds>', 'how long the approval is valid', '3600')
      .option('--break-glass', 'review a break-glass access (supervisor)')
      .action(
        async (o: {
          gateway: string;
          request: string;
          role: string;
          key: string;
          validFor: string;
          breakGlass?: boolean;
        }) => {
          if (!DIGEST.test(o.request)) throw new UsageError('--request is sha256:<64 hex>');
          if (o.role !== 'customer' && o.role !== 'supervisor') {
            throw new UsageError('--role is customer or supervisor');
          }
          const recorded = await fileDecision(o.gateway, {
            key: await readCallerKey(resolve(io.cwd, o.key)),
            digest: o.request,
            role: o.role,
            decision,
            validSeconds: seconds(o.validFor, '--valid-for'),
            breakGlass: o.breakGlass === true,
          });
          io.stdout(`${o.request} ${recorded} by ${o.role}\n`);
        },
      );
  }

  access
    .command('list')
    .description(
      'List access requests at the gateway with their status (pending, approved, denied, expired), or with ' +
        '--break-glass the break-glass accesses with their review deadline.',
    )
    .requiredOption('--gateway <url>', "the gateway's URL")
    .option('--customer <pseudonym>', "one customer's requests")
    .option('--status <status>', 'pending, approved, denied or expired')
    .option('--break-glass', 'list break-glass accesses and their reviews')
    .action(
      async (o: { gateway: string; customer?: string; status?: string; breakGlass?: boolean }) => {
        if (o.breakGlass === true) {
          const body = await callGateway(o.gateway, 'v1/break-glass');
          for (const a of body.accesses as Record<string, unknown>[]) {
            const review = a.review as { decision?: string } | null;
            io.stdout(
              `${String(a.record)} entry ${String(a.index)} ${String(a.customer)} by ${String(a.principal)} ` +
                `due ${String(a.reviewDue)} ${review === null ? (a.overdue === true ? 'OVERDUE' : 'unreviewed') : `reviewed ${String(review.decision)}`}\n`,
            );
          }
          return;
        }
        const q = new URLSearchParams();
        if (o.customer !== undefined) q.set('customer', o.customer);
        if (o.status !== undefined) q.set('status', o.status);
        const qs = q.toString();
        const body = await callGateway(o.gateway, `v1/requests${qs === '' ? '' : `?${qs}`}`);
        for (const r of body.requests as Record<string, unknown>[]) {
          io.stdout(
            `${String(r.digest)} ${String(r.status)} ${String(r.customer)} ${String(r.site)} ${String(r.dataClass)} ` +
              `${String(r.justification)} by ${String(r.accessor)} expires ${String(r.expiresAt)}\n`,
          );
        }
      },
    );
}
