/** The difference between two versions of a rules release, from their verified bundles. */
import { useId, useState } from 'react';
import type { ReleaseReport } from '../verify/releases.js';
import { diffRules, type RuleText } from '../verify/rules.js';

const NONE = '';

export function RuleDiff({ releases }: { releases: readonly ReleaseReport[] }) {
  const withRules = releases.filter(
    (r): r is ReleaseReport & { rules: ReadonlyMap<string, RuleText> } => r.rules !== undefined,
  );
  const [from, setFrom] = useState(NONE);
  const [to, setTo] = useState(withRules[0]?.id ?? NONE);
  const fromId = useId();
  const toId = useId();
  if (withRules.length === 0) return null;
  const rulesOf = (id: string) =>
    withRules.find((r) => r.id === id)?.rules ?? new Map<string, RuleText>();
  const d = diffRules(rulesOf(from), rulesOf(to));
  const options = (
    <>
      <option value={NONE}>nothing (no rules)</option>
      {withRules.map((r) => (
        <option key={r.id} value={r.id}>
          {r.name} {r.version} ({r.id.slice(0, 10)}…)
        </option>
      ))}
    </>
  );
  return (
    <section aria-labelledby="rule-diff-title" className="card" data-card="rule-diff">
      <h3 id="rule-diff-title">Rule diff</h3>
      <p className="lead">
        Between two versions of a rules release, from their bundles as the TUF releases role pins
        them (rules compared by name; whitespace is not a change).
      </p>
      <div className="filters">
        <span>
          <label htmlFor={fromId}>From version</label>{' '}
          <select
            id={fromId}
            value={from}
            onChange={(e) => {
              setFrom(e.target.value);
            }}
          >
            {options}
          </select>
        </span>
        <span>
          <label htmlFor={toId}>To version</label>{' '}
          <select
            id={toId}
            value={to}
            onChange={(e) => {
              setTo(e.target.value);
            }}
          >
            {options}
          </select>
        </span>
      </div>
      <p data-diff-summary>
        {d.added.length} added, {d.removed.length} removed, {d.changed.length} changed,{' '}
        {d.unchanged} unchanged
      </p>
      <ul className="diff">
        {d.added.map((r) => (
          <li key={`+${r.name}`} data-diff="added" data-rule={r.name}>
            <strong>+ {r.name}</strong> ({r.file})<pre>{r.text}</pre>
          </li>
        ))}
        {d.removed.map((r) => (
          <li key={`-${r.name}`} data-diff="removed" data-rule={r.name}>
            <strong>− {r.name}</strong> ({r.file})<pre>{r.text}</pre>
          </li>
        ))}
        {d.changed.map((c) => (
          <li key={`~${c.name}`} data-diff="changed" data-rule={c.name}>
            <strong>~ {c.name}</strong> ({c.before.file} → {c.after.file})<pre>{c.before.text}</pre>
            <pre>{c.after.text}</pre>
          </li>
        ))}
      </ul>
    </section>
  );
}
