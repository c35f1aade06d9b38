/**
 * The cloud lookup of `agent scan --cloud`: file hashes the local rules did
 * not flag are looked up at the reputation API of the site the current
 * logged policy designates for this device's region (issue 16 §6). Only
 * SHA-256 values leave the endpoint; the site is taken from the verified
 * residency log, never from the caller, so a lookup too stays in the region.
 */
import { readBoundedBody } from '@glasshouse/http';
import { ResidencyError, checkReputation, type Reputation } from '@glasshouse/residency';
import { AgentError } from '../errors.js';
import { currentSite, readAgentResidencyView } from './residency-view.js';
import { loadEnrollment, loadResidency } from './trust.js';

/** The site API's batch limit. */
export const MAX_LOOKUP_HASHES = 10_000;
/** About 200 bytes per answer. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface CloudLookup {
  readonly site: string;
  readonly policy: string;
  readonly results: readonly Reputation[];
}

/** Looks `hashes` up at the designated site (in batches of 10,000). */
export async function lookupReputation(options: {
  readonly dir: string;
  readonly hashes: readonly string[];
  readonly fetch?: typeof fetch;
}): Promise<CloudLookup> {
  const pinned = await loadResidency(options.dir);
  const enrollment = await loadEnrollment(options.dir);
  const view = await readAgentResidencyView(options.dir, pinned, options.fetch);
  const { site, policy } = currentSite(view, enrollment.region);
  const hashes = [...new Set(options.hashes)];
  for (const h of hashes) {
    if (!SHA256_HEX.test(h)) {
      throw new AgentError('AGENT_OPTION_INVALID', 'a hash to look up is not 64 hex digits');
    }
  }
  const url = new URL('reputation', site.ingestUrl).href;
  const results: Reputation[] = [];
  for (let i = 0; i < hashes.length; i += MAX_LOOKUP_HASHES) {
    const chunk = hashes.slice(i, i + MAX_LOOKUP_HASHES);
    let res: Response;
    try {
      res = await (options.fetch ?? fetch)(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sha256: chunk }),
        signal: AbortSignal.timeout(30_000),
        redirect: 'error',
      });
    } catch (cause) {
      throw new AgentError('AGENT_SITE_UNREACHABLE', `cannot reach ${url}`, { cause });
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new AgentError('AGENT_SITE_UNREACHABLE', `${url} answered HTTP ${res.status}`, {
        evidence: { status: res.status, site: site.id },
      });
    }
    let body: { results?: unknown };
    try {
      body = JSON.parse(new TextDecoder().decode(await readBoundedBody(res, MAX_ANSWER_BYTES))) as {
        results?: unknown;
      };
    } catch (cause) {
      throw new AgentError('AGENT_REPUTATION_INVALID', `${url} did not answer JSON`, { cause });
    }
    if (!Array.isArray(body.results) || body.results.length !== chunk.length) {
      throw new AgentError(
        'AGENT_REPUTATION_INVALID',
        'the site did not answer one result per hash',
        {
          evidence: { asked: chunk.length },
        },
      );
    }
    const asked = new Set(chunk);
    for (const value of body.results) {
      let r: Reputation;
      try {
        r = checkReputation(value);
      } catch (cause) {
        if (!(cause instanceof ResidencyError)) throw cause;
        throw new AgentError('AGENT_REPUTATION_INVALID', 'a reputation answer does not parse', {
          cause,
        });
      }
      if (!asked.has(r.sha256)) {
        throw new AgentError('AGENT_REPUTATION_INVALID', 'the site answered for a hash not asked');
      }
      results.push(r);
    }
  }
  return { site: site.id, policy, results };
}
