/**
 * Who may call which write route: each caller is a name, an Ed25519 public
 * key (known by its RFC 7638 thumbprint unless given another key id) and the
 * routes it may call, written `METHOD /route/:pattern` as the server
 * registers them. Pure: built from values, queried by value.
 */
import type { KeyObject } from 'node:crypto';
import { HttpSigError } from './errors.js';
import { ed25519PublicKey, jwkThumbprint, rawPublicKey } from './keys.js';

export interface CallerSpec {
  /** A human name for logs and listings, e.g. "repository service". */
  readonly name: string;
  /** The public key: a KeyObject or its 32 raw bytes. */
  readonly publicKey: KeyObject | Uint8Array;
  /** The key id callers sign with; default the RFC 7638 thumbprint. */
  readonly keyid?: string;
  /** Routes this caller may call, e.g. `POST /add`. */
  readonly allow: readonly string[];
}

export interface Caller {
  readonly name: string;
  readonly keyid: string;
  readonly publicKey: KeyObject;
  readonly allow: readonly string[];
}

const ROUTE = /^[A-Z]+ \/\S*$/;

export class AllowList {
  readonly #byKeyid = new Map<string, Caller>();

  constructor(callers: readonly CallerSpec[]) {
    for (const spec of callers) this.add(spec);
  }

  /** Adds one caller; a key id may appear once. */
  add(spec: CallerSpec): Caller {
    const publicKey =
      spec.publicKey instanceof Uint8Array ? ed25519PublicKey(spec.publicKey) : spec.publicKey;
    rawPublicKey(publicKey); // refuses anything but Ed25519
    const keyid = spec.keyid ?? jwkThumbprint(publicKey);
    if (this.#byKeyid.has(keyid)) {
      throw new HttpSigError('AUTH_OPTION_INVALID', `key id "${keyid}" is listed twice`);
    }
    for (const route of spec.allow) {
      if (!ROUTE.test(route)) {
        throw new HttpSigError('AUTH_OPTION_INVALID', `"${route}" is not "METHOD /path"`);
      }
    }
    const caller: Caller = { name: spec.name, keyid, publicKey, allow: [...spec.allow] };
    this.#byKeyid.set(keyid, caller);
    return caller;
  }

  caller(keyid: string): Caller | undefined {
    return this.#byKeyid.get(keyid);
  }

  isAllowed(keyid: string, route: string): boolean {
    return this.#byKeyid.get(keyid)?.allow.includes(route) ?? false;
  }

  /** Every caller, for `keys` listings and READMEs (no key material beyond the id). */
  list(): { name: string; keyid: string; allow: readonly string[] }[] {
    return [...this.#byKeyid.values()].map(({ name, keyid, allow }) => ({ name, keyid, allow }));
  }
}
