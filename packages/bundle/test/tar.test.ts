import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../../errors/test/codes.js';
import { BundleError } from '../src/errors.js';
import { gzipDeterministic, readBundle } from '../src/bundle.js';
import { BLOCK, readTar, writeTar } from '../src/tar.js';

const enc = new TextEncoder();

/** Rewrites a header field and recomputes the checksum, as a hostile writer would. */
function patch(
  tar: Uint8Array,
  offset: number,
  bytes: Uint8Array | string,
  headerAt = 0,
): Uint8Array {
  const out = tar.slice();
  const data = typeof bytes === 'string' ? enc.encode(bytes) : bytes;
  out.set(data, headerAt + offset);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (out[headerAt + i] ?? 0);
  out.set(enc.encode(`${sum.toString(8).padStart(6, '0')}\0 `), headerAt + 148);
  return out;
}

function clearField(tar: Uint8Array, offset: number, length: number): Uint8Array {
  return patch(tar, offset, new Uint8Array(length));
}

const one = writeTar([{ path: 'a/b.txt', data: enc.encode('hello') }], 1234);

describe('tar', () => {
  it('round-trips sorted entries with fixed metadata', () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(90)}`;
    const tar = writeTar(
      [
        { path: 'z.txt', data: enc.encode('z') },
        { path: 'bin/run', data: new Uint8Array(513).fill(7), executable: true },
        { path: long, data: new Uint8Array() },
      ],
      42,
    );
    expect(tar.length % BLOCK).toBe(0);
    const files = readTar(tar);
    expect(files.map((f) => f.path)).toEqual(['bin/run', long, 'z.txt']);
    expect(files.map((f) => f.mode)).toEqual([0o755, 0o644, 0o644]);
    expect(files.every((f) => f.mtime === 42)).toBe(true);
    expect(files[0]!.data).toEqual(new Uint8Array(513).fill(7));
  });

  it('writer refuses unsafe, duplicate and over-long names', () => {
    const e = new Uint8Array();
    expect(codeOf(() => writeTar([{ path: '../x', data: e }], 0))).toBe('TAR_BAD_PATH');
    expect(
      codeOf(() =>
        writeTar(
          [
            { path: 'x', data: e },
            { path: 'x', data: e },
          ],
          0,
        ),
      ),
    ).toBe('TAR_DUPLICATE');
    expect(codeOf(() => writeTar([{ path: 'x'.repeat(101), data: e }], 0))).toBe(
      'TAR_NAME_TOO_LONG',
    );
    expect(codeOf(() => writeTar([], -1))).toBe('RULES_BAD_EPOCH');
  });

  it.each([
    ['parent path', patch(one, 0, '../../etc/passwd\0'), 'TAR_BAD_PATH'],
    ['absolute path', patch(one, 0, '/etc/passwd\0'), 'TAR_BAD_PATH'],
    ['dot segment', patch(one, 0, 'a/./b\0'), 'TAR_BAD_PATH'],
    ['backslash', patch(one, 0, 'a\\b\0'), 'TAR_BAD_PATH'],
    ['absolute prefix', patch(one, 345, '/abs'), 'TAR_BAD_PATH'],
    ['symlink', patch(one, 156, '2'), 'TAR_UNSUPPORTED_TYPE'],
    ['hard link', patch(one, 156, '1'), 'TAR_UNSUPPORTED_TYPE'],
    ['directory', patch(one, 156, '5'), 'TAR_UNSUPPORTED_TYPE'],
    ['pax header', patch(one, 156, 'x'), 'TAR_UNSUPPORTED_TYPE'],
    ['GNU long name', patch(one, 156, 'L'), 'TAR_UNSUPPORTED_TYPE'],
    ['huge size', patch(one, 124, '77777777777\0'), 'TAR_TOO_LARGE'],
    ['size past the end', patch(one, 124, '00000010000\0'), 'TAR_TRUNCATED'],
    ['non-octal size', patch(one, 124, '0000000009x\0'), 'TAR_BAD_HEADER'],
    ['empty size', clearField(one, 124, 12), 'TAR_BAD_HEADER'],
    ['setuid mode', patch(one, 100, '0004755\0'), 'TAR_BAD_HEADER'],
    ['old GNU magic', patch(one, 257, 'ustar  \0'), 'TAR_BAD_HEADER'],
    ['invalid UTF-8 name', patch(one, 0, new Uint8Array([0x61, 0xff, 0])), 'TAR_BAD_HEADER'],
    [
      'bad checksum',
      (() => {
        const t = one.slice();
        t[0] = 0x62;
        return t;
      })(),
      'TAR_BAD_CHECKSUM',
    ],
    ['truncated header', one.slice(0, 300), 'TAR_TRUNCATED'],
    ['missing end blocks', one.slice(0, 2 * BLOCK), 'TAR_TRUNCATED'],
    ['one end block', one.slice(0, 3 * BLOCK), 'TAR_TRUNCATED'],
    [
      'trailing garbage',
      (() => {
        const t = new Uint8Array(one.length + BLOCK);
        t.set(one);
        t[t.length - 1] = 1;
        return t;
      })(),
      'TAR_BAD_HEADER',
    ],
  ] as const)('reader refuses %s', (_name, bytes, code) => {
    expect(codeOf(() => readTar(bytes))).toBe(code);
  });

  it('reader refuses duplicate names and too many entries', () => {
    const a = writeTar([{ path: 'x', data: enc.encode('1') }], 0);
    const dup = new Uint8Array(2 * (a.length - 2 * BLOCK) + 2 * BLOCK);
    dup.set(a.subarray(0, a.length - 2 * BLOCK), 0);
    dup.set(a.subarray(0, a.length - 2 * BLOCK), a.length - 2 * BLOCK);
    expect(codeOf(() => readTar(dup))).toBe('TAR_DUPLICATE');
    const many = writeTar(
      [
        { path: 'a', data: enc.encode('') },
        { path: 'b', data: enc.encode('') },
      ],
      0,
    );
    expect(
      codeOf(() => readTar(many, { maxEntries: 1, maxFileBytes: 10, maxTotalBytes: 1e6 })),
    ).toBe('TAR_TOO_LARGE');
    expect(
      codeOf(() => readTar(many, { maxEntries: 9, maxFileBytes: 10, maxTotalBytes: 100 })),
    ).toBe('TAR_TOO_LARGE');
  });

  it('random bytes make readBundle throw only BundleError', () => {
    const seeds = [one, readyGzip()];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 4096 }),
          fc
            .tuple(fc.constantFrom(...seeds), fc.nat(), fc.integer({ min: 0, max: 255 }))
            .map(([s, i, v]) => {
              const t = s.slice();
              t[i % t.length] = v;
              return t;
            }),
          fc.uint8Array({ maxLength: 64 }).map((b) => {
            const t = new Uint8Array(BLOCK * 3);
            t.set(b, 100);
            return t;
          }),
        ),
        (bytes) => {
          try {
            readBundle(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(BundleError);
            return;
          }
          // Only a well-formed bundle could be accepted, and these are not.
          throw new Error('accepted random bytes');
        },
      ),
      { numRuns: 500 },
    );
  });
});

function readyGzip(): Uint8Array {
  // A real gzip stream, so mutations exercise the inflater path.
  return gzipDeterministic(one);
}
