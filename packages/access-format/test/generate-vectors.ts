/**
 * Writes the language-neutral test vectors under testdata/ (one case per
 * file). Run: `npx tsx test/generate-vectors.ts` from the package, then prettier on testdata/; the
 * vectors test reads them back. The files are committed: regenerate only
 * when a format changes on purpose.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { toBase64 } from '@glasshouse/residency';
import { AccessIndex, customerSearchKey, lookupProofJson, type LookupProof } from '../src/index.js';
import { customer, record } from './fixtures.js';

const dir = new URL('../testdata/lookup/', import.meta.url);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

function write(
  name: string,
  c: {
    description: string;
    root: Uint8Array;
    customer: string;
    indices: bigint[];
    proof: LookupProof;
    want: string;
  },
): void {
  const proof = lookupProofJson(c.proof);
  const body = {
    description: c.description,
    root: toBase64(c.root),
    customer: c.customer,
    indices: c.indices.map(String),
    proof,
    want: c.want,
  };
  writeFileSync(new URL(`${name}.json`, dir), `${JSON.stringify(body, null, 2)}\n`);
}

// A fixed log of 40 entries over customers 0..9.
const owners = Array.from({ length: 40 }, (_, i) => (i * 7 + (i >> 2)) % 10);
const index = new AccessIndex();
for (const n of owners) index.appendKey(customer(n));
const root = index.root();

const present = index.lookup(customer(3));
write('inclusion', {
  description: 'customer 3 and its full list',
  root,
  customer: customer(3),
  ...present,
  want: 'ok',
});
let leafCase = false;
let parentCase = false;
for (let n = 100; n < 400 && !(leafCase && parentCase); n++) {
  const absent = index.lookup(customer(n));
  if (absent.proof.result === 'nonInclusionLeaf' && !leafCase) {
    leafCase = true;
    write('non-inclusion-leaf', {
      description: `absent customer ${n}: the search ends at another key's leaf`,
      root,
      customer: customer(n),
      ...absent,
      want: 'ok',
    });
    write('non-inclusion-leaf-claims-records', {
      description: 'an absent customer claiming an access',
      root,
      customer: customer(n),
      indices: [5n],
      proof: absent.proof,
      want: 'LOOKUP_PROOF_MISMATCH',
    });
    write('non-inclusion-leaf-own-key', {
      description: 'a non-inclusion leaf carrying the searched key',
      root,
      customer: customer(n),
      indices: [],
      proof: {
        ...absent.proof,
        leaf: {
          searchKey: customerSearchKey(customer(n)),
          commitment: absent.proof.leaf!.commitment,
        },
      },
      want: 'LOOKUP_PROOF_INVALID',
    });
  }
  if (absent.proof.result === 'nonInclusionParent' && !parentCase) {
    parentCase = true;
    write('non-inclusion-parent', {
      description: `absent customer ${n}: the search ends at a parent lacking the child`,
      root,
      customer: customer(n),
      ...absent,
      want: 'ok',
    });
  }
}
write('empty-index', {
  description: 'the empty index proves every key absent',
  root: new Uint8Array(32),
  customer: customer(1),
  indices: [],
  proof: { result: 'nonInclusionParent', depth: 0, elements: [] },
  want: 'ok',
});
write('record-hidden', {
  description: 'the list served without one of the listed records',
  root,
  customer: customer(3),
  indices: present.indices.slice(1),
  proof: present.proof,
  want: 'LOOKUP_PROOF_MISMATCH',
});
write('record-added', {
  description: "another customer's entry added to the list",
  root,
  customer: customer(3),
  indices: [...present.indices, 39n].sort((a, b) => (a < b ? -1 : 1)),
  proof: present.proof,
  want: 'LOOKUP_PROOF_MISMATCH',
});
write('empty-list-for-present-key', {
  description: 'a present key with an empty list',
  root,
  customer: customer(3),
  indices: [],
  proof: present.proof,
  want: 'LOOKUP_PROOF_MISMATCH',
});
const flipped = present.proof.elements.map((e) => e.slice());
flipped[0]![0]! ^= 1;
write('element-flipped', {
  description: 'one copath bit flipped',
  root,
  customer: customer(3),
  indices: present.indices,
  proof: { ...present.proof, elements: flipped },
  want: 'LOOKUP_PROOF_MISMATCH',
});
write('depth-mismatch', {
  description: 'depth not equal to the number of elements',
  root,
  customer: customer(3),
  indices: present.indices,
  proof: { ...present.proof, depth: present.proof.depth + 1 },
  want: 'LOOKUP_PROOF_INVALID',
});
write('other-customer', {
  description: "customer 4 presenting customer 3's list and proof",
  root,
  customer: customer(4),
  indices: present.indices,
  proof: present.proof,
  want: 'LOOKUP_PROOF_MISMATCH',
});
write('unsorted-indices', {
  description: 'indices not ascending',
  root,
  customer: customer(3),
  indices: [...present.indices].reverse(),
  proof: present.proof,
  want: 'INDICES_INVALID',
});
write('zero-sibling', {
  description: 'the terminal node sibling given as absent',
  root,
  customer: customer(3),
  indices: present.indices,
  proof: { ...present.proof, elements: present.proof.elements.map(() => new Uint8Array(32)) },
  want: 'LOOKUP_PROOF_INVALID',
});

// Access-record entries: the exact bytes, and what parsing must say.
const rdir = new URL('../testdata/records/', import.meta.url);
rmSync(rdir, { recursive: true, force: true });
mkdirSync(rdir, { recursive: true });
const enc = (v: unknown): string => JSON.stringify(v);
const good = JSON.parse(enc(record())) as Record<string, unknown>;
const records: [string, string, string][] = [
  ['valid-support', enc(record()), 'ok'],
  [
    'valid-break-glass',
    enc(record({ approval: null, justification: { code: 'BREAK_GLASS', detail: 'outage' } })),
    'ok',
  ],
  [
    'support-without-ticket',
    enc({ ...good, justification: { code: 'CUSTOMER_INITIATED_SUPPORT', detail: 'x' } }),
    'JUSTIFICATION_INVALID',
  ],
  [
    'legal-without-reference',
    enc({ ...good, justification: { code: 'LEGAL_REQUEST', detail: 'x' } }),
    'JUSTIFICATION_INVALID',
  ],
  [
    'person-name-as-principal',
    enc({ ...good, accessor: { ...(good.accessor as object), principal: 'Jane Doe' } }),
    'ACCESS_RECORD_INVALID',
  ],
  ['not-canonical', JSON.stringify(good, null, 1), 'ACCESS_RECORD_INVALID'],
];
for (const [name, text, want] of records) {
  writeFileSync(
    new URL(`${name}.json`, rdir),
    `${JSON.stringify({ entry: text, want }, null, 2)}\n`,
  );
}
