/**
 * A release's source at its commit: directories as the verified git trees
 * list them, each file with its git id and the SHA-256 the build link's
 * materials give; opening a file fetches it and checks both.
 */
import { useState } from 'react';
import { sha256Hex } from '@glasshouse/attest';
import { reasonOf } from '../verify/check.js';
import type { VerifiedSource } from '../verify/releases.js';

const MAX_SHOWN = 64 * 1024;

interface Opened {
  readonly path: string;
  readonly verdict: 'pass' | 'fail' | 'pending';
  readonly text: string;
}

export function SourceBrowser({ source, label }: { source: VerifiedSource; label: string }) {
  const [dir, setDir] = useState('');
  const [opened, setOpened] = useState<Opened | undefined>();
  const entries = source.tree.trees.get(dir) ?? [];
  const join = (name: string) => (dir === '' ? name : `${dir}/${name}`);
  const open = (path: string) => {
    const f = source.tree.files.get(path);
    if (f === undefined) return;
    setOpened({ path, verdict: 'pending', text: 'Fetching and checking…' });
    source.reader.file(f, source.materials[path]).then(
      (bytes) => {
        let text: string;
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, MAX_SHOWN));
          if (bytes.length > MAX_SHOWN) text += `\n… (${bytes.length} bytes in all)`;
        } catch {
          text = `(binary, ${bytes.length} bytes)`;
        }
        setOpened({
          path,
          verdict: 'pass',
          text: `git blob ${f.id} (SHA-1 checked), sha256 ${sha256Hex(bytes)} = the build link's material\n\n${text}`,
        });
      },
      (err: unknown) => {
        setOpened({ path, verdict: 'fail', text: reasonOf(err) });
      },
    );
  };
  const parts = dir === '' ? [] : dir.split('/');
  return (
    <details className="source" data-source={label}>
      <summary>
        Source at {source.tree.commit.slice(0, 12)} ({source.tree.files.size} files)
      </summary>
      <nav aria-label={`${label}: source path`} className="crumbs">
        <button
          type="button"
          onClick={() => {
            setDir('');
          }}
        >
          (root)
        </button>
        {parts.map((p, i) => (
          <span key={i}>
            {' / '}
            <button
              type="button"
              onClick={() => {
                setDir(parts.slice(0, i + 1).join('/'));
              }}
            >
              {p}
            </button>
          </span>
        ))}
      </nav>
      <table>
        <caption>
          {label}: {dir === '' ? 'the root' : dir} of tree {source.tree.tree.slice(0, 12)}
        </caption>
        <thead>
          <tr>
            <th scope="col">name</th>
            <th scope="col">git id</th>
            <th scope="col">sha256 (build link)</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => {
            const path = join(e.name);
            const material = source.materials[path];
            const verdict =
              e.type === 'tree'
                ? 'pass'
                : source.allChecked && material !== undefined
                  ? 'pass'
                  : 'unchecked';
            return (
              <tr key={e.name} data-source-entry={path} data-verdict={verdict}>
                <td>
                  {e.type === 'tree' ? (
                    <button
                      type="button"
                      onClick={() => {
                        setDir(path);
                      }}
                    >
                      {e.name}/
                    </button>
                  ) : e.type === 'blob' && material !== undefined ? (
                    <button
                      type="button"
                      onClick={() => {
                        open(path);
                      }}
                    >
                      {e.name}
                    </button>
                  ) : (
                    <span>{e.name}</span>
                  )}
                </td>
                <td className="hash">{e.id.slice(0, 12)}</td>
                <td className="hash">{material ?? (e.type === 'tree' ? '' : '—')}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {opened !== undefined && (
        <div
          className={`check ${opened.verdict}`}
          data-source-file={opened.path}
          data-verdict={opened.verdict}
          role="region"
          aria-label={`${label}: ${opened.path}`}
        >
          <p>
            <strong>{opened.path}</strong>
            {opened.verdict === 'fail' ? ' ✗ ' : opened.verdict === 'pass' ? ' ✓ ' : ' '}
          </p>
          <pre className={opened.verdict === 'fail' ? 'error' : undefined}>{opened.text}</pre>
        </div>
      )}
    </details>
  );
}
