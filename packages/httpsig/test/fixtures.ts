import { generateKeyPairSync, type KeyObject } from 'node:crypto';

export interface TestKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export function newKey(): TestKey {
  return generateKeyPairSync('ed25519');
}
