/**
 * Who may call which write route: each caller is a name, an Ed25519 public
 * key (known by its RFC 7638 thumbprint unless given another key id) and the
 * routes it may call, written `METHOD /route/:pattern` as the server
 * registers them. Pure: built from values, queried by value.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
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

  /** The callers as specs (public keys), e.g. to merge allow-lists. */
  callers(): CallerSpec[] {
    return [...this.#byKeyid.values()].map(({ name, keyid, publicKey, allow }) => ({
      name,
      keyid,
      publicKey,
      allow,
    }));
  }

  /** Every caller, for `keys` listings and READMEs (no key material beyond the id). */
  list(): { name: string; keyid: string; allow: readonly string[] }[] {
    return [...this.#byKeyid.values()].map(({ name, keyid, allow }) => ({ name, keyid, allow }));
  }
}

/** The largest callers file accepted. */
export const MAX_CALLERS_FILE_BYTES = 256 * 1024;

/**
 * A callers file: `{"callers": [{"name", "publicKeyPem", "keyid"?, "allow": ["POST /add"]}]}`,
 * the on-disk form of an allow-list (public keys only).
 */
export function parseCallersFile(text: string): AllowList {
  if (text.length > MAX_CALLERS_FILE_BYTES) {
    throw new HttpSigError(
      'AUTH_OPTION_INVALID',
      `a callers file is at most ${MAX_CALLERS_FILE_BYTES} bytes`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new HttpSigError('AUTH_OPTION_INVALID', 'the callers file is not JSON', { cause });
  }
  const callers = (doc as { callers?: unknown } | null)?.callers;
  if (!Array.isArray(callers)) {
    throw new HttpSigError('AUTH_OPTION_INVALID', 'the callers file has no "callers" list');
  }
  return new AllowList(
    callers.map((c: unknown, i): CallerSpec => {
      const { name, publicKeyPem, keyid, allow } = (c ?? {}) as Record<string, unknown>;
      if (
        typeof name !== 'string' ||
        typeof publicKeyPem !== 'string' ||
        (keyid !== undefined && typeof keyid !== 'string') ||
        !Array.isArray(allow) ||
        !allow.every((r): r is string => typeof r === 'string')
      ) {
        throw new HttpSigError(
          'AUTH_OPTION_INVALID',
          `callers[${i}] needs a name, a publicKeyPem and an allow list of routes`,
        );
      }
      let publicKey: KeyObject;
      try {
        publicKey = createPublicKey(publicKeyPem);
      } catch (cause) {
        throw new HttpSigError('AUTH_KEY_INVALID', `callers[${i}] has no PEM public key`, {
          cause,
        });
      }
      return { name, publicKey, allow, ...(keyid === undefined ? {} : { keyid }) };
    }),
  );
}

/** The callers file of `list` (see `parseCallersFile`). */
export function formatCallersFile(list: AllowList): string {
  const callers = list.list().map(({ name, keyid, allow }) => {
    const key = list.caller(keyid)?.publicKey;
    const publicKeyPem = key?.export({ type: 'spki', format: 'pem' }).toString() ?? '';
    return { name, keyid, publicKeyPem, allow };
  });
  return `${JSON.stringify({ callers }, null, 2)}\n`;
}
