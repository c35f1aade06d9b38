// The Releases page's pure pieces on Node: the rule diff over real bundles
// (the bundle format's own writer), and the trust roots pinned in the URL.
import { sha256Hex } from '@glasshouse/attest';
import { MANIFEST_SCHEMA, serializeManifest, writeTar } from '@glasshouse/bundle';
import { describe, expect, it } from 'vitest';
import type { PortalConfig } from '../src/config.js';
import { applyPins, pinsFromUrl } from '../src/pins.js';
import { diffRules, rulesOfBundle } from '../src/verify/rules.js';

function bundle(version: string, files: Record<string, string>): Uint8Array {
  const enc = new TextEncoder();
  const rules = Object.keys(files).sort();
  const manifest = serializeManifest({
    schema: MANIFEST_SCHEMA,
    name: 'demo-rules',
    version,
    sourceDateEpoch: 0,
    engines: { 'yara-x': '1.0.0' },
    rules,
    ruleNames: [],
    files: Object.fromEntries(rules.map((f) => [f, sha256Hex(enc.encode(files[f]))])),
    selfTest: [],
  });
  return writeTar(
    [
      { path: 'manifest.json', data: manifest },
      ...rules.map((path) => ({ path, data: enc.encode(files[path]) })),
    ],
    0,
  );
}

describe('rule diff', () => {
  const v1 = bundle('1.0.0', {
    'rules/a.yar': 'rule keep { condition: true }\nrule change { condition: false }\n',
    'rules/b.yar': 'private rule gone { strings: $a = "}" condition: $a }\n',
  });
  const v2 = bundle('1.1.0', {
    'rules/a.yar':
      'rule keep {\n  condition: true\n}\nrule change { condition: filesize > 10 }\nrule fresh { condition: true }\n',
  });

  it('lists rules added, removed and changed by name; whitespace is no change', () => {
    const d = diffRules(rulesOfBundle(v1), rulesOfBundle(v2));
    expect(d.added.map((r) => r.name)).toEqual(['fresh']);
    expect(d.removed.map((r) => [r.name, r.file, r.text])).toEqual([
      ['gone', 'rules/b.yar', 'private rule gone { strings: $a = "}" condition: $a }'],
    ]);
    expect(d.changed.map((c) => [c.name, c.before.text, c.after.text])).toEqual([
      ['change', 'rule change { condition: false }', 'rule change { condition: filesize > 10 }'],
    ]);
    expect(d.unchanged).toBe(1);
    const back = diffRules(rulesOfBundle(v2), rulesOfBundle(v1));
    expect([back.added.length, back.removed.length, back.changed.length]).toEqual([1, 1, 1]);
  });

  it('refuses a bundle whose rule file is not the one its manifest lists', () => {
    const tar = Uint8Array.from(v1);
    const at = new TextDecoder('latin1').decode(tar).indexOf('rule keep');
    tar[at] = 'R'.charCodeAt(0);
    expect(() => rulesOfBundle(tar)).toThrow(
      expect.objectContaining({ code: 'PORTAL_RULES_FILE_MISMATCH' }),
    );
  });
});

describe('trust roots pinned in the URL', () => {
  const fp = 'ab'.repeat(32);
  const policy = [
    'log localhost/log+01234567+AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA= https://log.example/',
    'quorum none',
    '',
  ].join('\n');
  const config: PortalConfig = {
    logs: [
      {
        id: 'release-log',
        title: 'release log',
        policyText: policy,
        policy: undefined, // applyPins reads only the policy's text
        base: '/svc/release-log/',
        witnesses: {},
      },
    ],
    repo: '/svc/repo/',
    assembly: null,
    trustBundleFingerprint: fp,
  } as unknown as PortalConfig;

  it('keeps a config whose roots are the pinned ones, and says they were pinned in the URL', () => {
    const digest = sha256Hex(new TextEncoder().encode(policy));
    const pinned = applyPins(config, pinsFromUrl(`?pin=${fp}&log=${digest.toUpperCase()}`));
    expect(pinned.trustBundleFingerprint).toBe(fp);
    expect(pinned.pinnedInUrl).toEqual({ bundle: true, logs: 1 });
    expect(applyPins(config, pinsFromUrl(''))).toBe(config);
    // A server that pins nothing: the URL's pin is what the trust bundle must hash to.
    const open = applyPins({ ...config, trustBundleFingerprint: null }, pinsFromUrl(`?pin=${fp}`));
    expect(open.trustBundleFingerprint).toBe(fp);
  });

  it('refuses a config whose trust bundle or log policies are not the pinned ones', () => {
    const code = (search: string) => {
      try {
        applyPins(config, pinsFromUrl(search));
        return 'accepted';
      } catch (err) {
        return (err as { code?: string }).code;
      }
    };
    expect(code(`?pin=${'cd'.repeat(32)}`)).toBe('PORTAL_PIN_MISMATCH');
    expect(code(`?log=${'cd'.repeat(32)}`)).toBe('PORTAL_PIN_MISMATCH');
    expect(code('?pin=abc')).toBe('PORTAL_PIN_INVALID');
    expect(code(`?pin=${fp}&pin=${'cd'.repeat(32)}`)).toBe('PORTAL_PIN_INVALID');
  });
});
