/**
 * A list of checks: each a button (green tick or red cross) that opens its
 * explanation — what was checked, against which key, with which proof.
 */
import { useId, useState } from 'react';
import type { Check } from './verify/check.js';

const MARK = { pass: '✓', fail: '✗', note: 'i' } as const;
const WORD = { pass: 'passed', fail: 'failed', note: 'note' } as const;

export function CheckItem({ check, scope }: { check: Check; scope: string }) {
  const [open, setOpen] = useState(false);
  const panel = useId();
  return (
    <li className={`check ${check.verdict}`} data-check={check.id} data-verdict={check.verdict}>
      <button
        type="button"
        className="check-toggle"
        aria-expanded={open}
        aria-controls={panel}
        aria-label={`${scope}: ${check.title} ${WORD[check.verdict]}. Show what was checked`}
        onClick={() => {
          setOpen(!open);
        }}
      >
        <span className="mark" aria-hidden="true">
          {MARK[check.verdict]}
        </span>{' '}
        <strong>{check.title}</strong> <span className="summary">{check.summary}</span>
      </button>
      {open && (
        <div
          id={panel}
          className="explain"
          role="region"
          aria-label={`${check.title}: explanation`}
        >
          <p>
            <em>Checked:</em> {check.what}
          </p>
          {check.against !== undefined && (
            <>
              <p>
                <em>Against:</em>
              </p>
              <pre>{check.against}</pre>
            </>
          )}
          {check.proof !== undefined && check.proof.length > 0 && (
            <>
              <p>
                <em>Proof and evidence:</em>
              </p>
              <pre>{check.proof.join('\n')}</pre>
            </>
          )}
          <p>
            <em>Result:</em> {check.summary}
          </p>
        </div>
      )}
    </li>
  );
}

export function CheckList({ checks, scope }: { checks: readonly Check[]; scope: string }) {
  return (
    <ul className="checks">
      {checks.map((c) => (
        <CheckItem key={c.id} check={c} scope={scope} />
      ))}
    </ul>
  );
}
