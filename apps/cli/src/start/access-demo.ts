/**
 * The access demo of the first start, on the EU demo customer's data at
 * ch-zrh: a support access (CUSTOMER_INITIATED_SUPPORT with a ticket) the
 * customer and the supervisor approved, a THREAT_INVESTIGATION of
 * telemetry events (no approval needed), a refused access (personal fields
 * without approval: APPROVAL_MISSING, nothing logged or served) and a
 * BREAK_GLASS access (served at once, alerted to the supervisor and the
 * customer, then reviewed by the supervisor). What it did is kept in
 * access-demo.json; later starts show that and run nothing again.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import type { Justification } from '@glasshouse/access-format';
import { telemetryReport } from '@glasshouse/agent';
import { CodedError } from '@glasshouse/errors';
import type { ResidencyView } from '@glasshouse/telemetry';
import {
  fileAccessRequest,
  fileDecision,
  requestAccess,
  type AccessTarget,
  type PrincipalIdentity,
} from '../access/client.js';
import { customerKeyIn } from '../commands/customer.js';
import { DEMO_PRINCIPALS, type AccessPaths, type DemoPrincipalName } from './access-prepare.js';
import type { DataPaths } from './data-prepare.js';
import { writeIfChanged } from './files.js';

/** The customer whose data the demo accesses, and where it is held. */
const DEMO = { customer: 'acme-eu', region: 'EU', site: 'ch-zrh' } as const;
/** How long the gateway's residency view may take to learn the demo customer. */
const VIEW_WAIT_MS = 15_000;

export interface DemoAccess {
  readonly principal: DemoPrincipalName;
  readonly role: string;
  readonly dataClass: string;
  readonly justification: Justification;
  readonly index: number;
  readonly record: string;
  readonly batches: number;
  readonly approvedBy: readonly string[];
  readonly breakGlass: boolean;
  readonly reviewed?: boolean;
}

export interface AccessDemo {
  readonly customerName: string;
  readonly customer: string;
  readonly site: string;
  readonly accesses: readonly DemoAccess[];
  readonly refused: { readonly dataClass: string; readonly code: string };
}

export async function ensureAccessDemo(opts: {
  paths: AccessPaths;
  dataPaths: DataPaths;
  gatewayUrl: string;
  gatewayView: ResidencyView;
  principals: Readonly<Record<DemoPrincipalName, KeyObject>>;
  supervisorKey: KeyObject;
  say: (line: string) => void;
}): Promise<AccessDemo> {
  if (existsSync(opts.paths.demo)) {
    return JSON.parse(await readFile(opts.paths.demo, 'utf8')) as AccessDemo;
  }
  const gw = opts.gatewayUrl;
  const customerDir = opts.dataPaths.customer(DEMO.customer);
  const { key: customerKey, customer } = await customerKeyIn(customerDir, false);
  const sent = (await telemetryReport(opts.dataPaths.endpoint(DEMO.region))).sent;
  const batches = sent
    .filter((s) => s.status === 'stored' && s.site === DEMO.site)
    .map((s) => s.digest)
    .sort();
  if (batches.length === 0) {
    throw new CodedError(
      'START_DEMO_INCOMPLETE',
      `the ${DEMO.region} demo endpoint has no batch stored at ${DEMO.site}: nothing to access`,
    );
  }
  // The gateway knows customers from its own view of the residency log.
  const deadline = Date.now() + VIEW_WAIT_MS;
  while (opts.gatewayView.current().enrollment(customer) === undefined) {
    if (Date.now() > deadline) {
      throw new CodedError(
        'START_DEMO_INCOMPLETE',
        `the gateway's residency view does not show ${customer}`,
      );
    }
    await opts.gatewayView.refresh().catch(() => undefined);
  }
  const principal = (name: DemoPrincipalName): PrincipalIdentity => {
    const p = DEMO_PRINCIPALS.find((x) => x.name === name);
    if (p === undefined) throw new Error(`no demo principal ${name}`);
    return { key: opts.principals[name], entity: p.entity, country: p.country, role: p.role };
  };
  const target = (dataClass: string, justification: Justification): AccessTarget => ({
    site: DEMO.site,
    customer,
    dataClass,
    scope: { kind: 'batches', batches },
    justification,
  });
  const accesses: DemoAccess[] = [];
  const access = async (
    name: DemoPrincipalName,
    t: AccessTarget,
    approval?: { digest: string; by: string[] },
  ): Promise<DemoAccess> => {
    const served = await requestAccess(gw, opts.principals[name], {
      ...t,
      ...(approval === undefined ? {} : { approval: approval.digest }),
    });
    const a: DemoAccess = {
      principal: name,
      role: principal(name).role,
      dataClass: t.dataClass,
      justification: t.justification,
      index: served.index,
      record: served.digest,
      batches: served.batches.length,
      approvedBy: approval?.by ?? [],
      breakGlass: served.breakGlass,
    };
    accesses.push(a);
    opts.say(
      `access demo: ${t.justification.code} by ${a.role}: access-log entry ${a.index}, ${a.batches} batch(es) served`,
    );
    return a;
  };

  // 1. Support: the customer opened ticket SUP-1042; the customer and the supervisor approve.
  const support = target('personal-fields', {
    code: 'CUSTOMER_INITIATED_SUPPORT',
    detail: 'the customer asked why a file on one of its hosts was blocked',
    ticket: 'SUP-1042',
  });
  const request = await fileAccessRequest(gw, principal('support'), support, 3600);
  for (const [role, key] of [
    ['customer', customerKey],
    ['supervisor', opts.supervisorKey],
  ] as const) {
    await fileDecision(gw, {
      key,
      digest: request.digest,
      role,
      decision: 'approve',
      validSeconds: 3600,
    });
  }
  await access('support', support, { digest: request.digest, by: ['customer', 'supervisor'] });

  // 2. A threat investigation of the telemetry events (the policy needs no approval for them).
  await access(
    'analyst',
    target('telemetry-events', {
      code: 'THREAT_INVESTIGATION',
      detail: 'the dropper seen at this customer is part of a campaign',
    }),
  );

  // 3. Personal fields again, without the approvals: refused before anything is logged or served.
  let refused: string | undefined;
  try {
    await requestAccess(
      gw,
      opts.principals.support,
      target('personal-fields', {
        code: 'CUSTOMER_INITIATED_SUPPORT',
        detail: 'follow-up without a new approval',
        ticket: 'SUP-1043',
      }),
    );
  } catch (err) {
    if (!(err instanceof CodedError)) throw err;
    refused = String(err.code);
  }
  if (refused === undefined) {
    throw new CodedError('START_DEMO_INCOMPLETE', 'an access without approval was served');
  }
  opts.say(`access demo: personal fields without approval refused: ${refused}`);

  // 4. Break-glass: served without approval, alerted at once, reviewed by the supervisor.
  const glass = await access(
    'oncall',
    target('personal-fields', {
      code: 'BREAK_GLASS',
      detail: 'active intrusion on the customer host; the customer cannot be reached',
    }),
  );
  await fileDecision(gw, {
    key: opts.supervisorKey,
    digest: glass.record,
    role: 'supervisor',
    decision: 'approve',
    validSeconds: 3600,
    breakGlass: true,
  });
  accesses[accesses.length - 1] = { ...glass, reviewed: true };
  opts.say('access demo: the supervisor reviewed the break-glass access');

  const demo: AccessDemo = {
    customerName: DEMO.customer,
    customer,
    site: DEMO.site,
    accesses,
    refused: { dataClass: 'personal-fields', code: refused },
  };
  await writeIfChanged(opts.paths.demo, `${JSON.stringify(demo, null, 2)}\n`);
  return demo;
}

/** The demo's lines of the summary. */
export function formatDemo(d: AccessDemo, customerAlerts: string): string[] {
  const who = (a: DemoAccess): string => {
    const p = DEMO_PRINCIPALS.find((x) => x.name === a.principal);
    return p === undefined ? a.role : `${p.role} (${p.entity}, ${p.country})`;
  };
  const lines = [`demo accesses to ${d.customerName} (${d.customer}) at ${d.site}`];
  d.accesses.forEach((a, i) => {
    const j = a.justification;
    const why = `${j.code}${j.code === 'CUSTOMER_INITIATED_SUPPORT' ? ` ticket ${j.ticket}` : ''}`;
    const how = a.breakGlass
      ? `no approval; supervisor and customer alerted (${customerAlerts})${a.reviewed === true ? '; reviewed by the supervisor' : ''}`
      : a.approvedBy.length > 0
        ? `approved by the ${a.approvedBy.join(' and the ')}`
        : 'no approval needed for this class';
    lines.push(
      `  #${i + 1} entry ${a.index}  ${why} by ${who(a)}: ${a.dataClass}, ${a.batches} batch(es) served; ${how}`,
    );
    if (i === 1) {
      lines.push(
        `  refused     ${d.refused.dataClass} without approval: ${d.refused.code} (no record, nothing served)`,
      );
    }
  });
  return lines;
}
