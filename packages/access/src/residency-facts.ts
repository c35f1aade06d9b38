/**
 * The residency facts the gateway and the key release need, from a
 * verified residency view (`@glasshouse/telemetry`'s ResidencyView: only
 * entries under a witnessed checkpoint): a customer's enrolled key (for
 * customer approvals) and the site the logged policy designates for a
 * region (a record names the site its data is read at).
 */
import { decodePublicKey, designatedSite, type ResidencyState } from '@glasshouse/residency';

export interface ResidencyFacts {
  /** The customer's key from its latest logged enrollment, or undefined. */
  customerKey(customer: string): Uint8Array | undefined;
  /** The site the latest logged policy designates for `region`, or undefined. */
  siteOfRegion(region: string): string | undefined;
}

/** Facts read from `view.current()` at each question (the view keeps refreshing). */
export function residencyFactsOf(view: { current(): ResidencyState }): ResidencyFacts {
  return {
    customerKey: (customer) => {
      const e = view.current().enrollment(customer);
      if (e === undefined) return undefined;
      try {
        return decodePublicKey(e.enrollment.customerKey);
      } catch {
        return undefined; // a logged enrollment always carries a valid key; fail closed if not
      }
    },
    siteOfRegion: (region) => {
      const policy = view.current().policy;
      if (policy === null) return undefined;
      try {
        return designatedSite(policy.policy, region).id;
      } catch {
        return undefined; // no designated site: nothing is held for the region
      }
    },
  };
}
