/** How an access record's justification and accessor read in the pages' tables (Access, My data). */
import type { AccessRecord } from '@glasshouse/access-format';

/** `CODE: detail (ticket T)` or `CODE: detail (legal reference)`. */
export function justificationText(j: AccessRecord['justification']): string {
  const ticket = j.ticket === undefined ? '' : ` (ticket ${j.ticket})`;
  const reference = j.reference === undefined ? '' : ` (${j.reference})`;
  return `${j.code}: ${j.detail}${ticket}${reference}`;
}

/** `role, entity (country)`. */
export function accessorText(a: AccessRecord['accessor']): string {
  return `${a.role}, ${a.entity} (${a.country})`;
}
