import type { RuleSource } from './engine.js';

/**
 * Rule files joined into one compiler input, with the table that maps a line
 * of the joined text back to its file. Compiling a whole set in one pass is
 * what makes 10,000 rules compile in seconds, but the engine then reports
 * `line:N` of the joined text.
 */
export interface JoinedSources {
  readonly text: string;
  /** Index i: the joined-text line (1-based) where `sources[i]` starts. */
  readonly starts: readonly number[];
}

export function joinSources(sources: readonly RuleSource[]): JoinedSources {
  const parts: string[] = [];
  const starts: number[] = [];
  let line = 1;
  for (const source of sources) {
    starts.push(line);
    // Each file ends its own last line, so the next one starts on a fresh line.
    const text = source.text.endsWith('\n') ? source.text : `${source.text}\n`;
    parts.push(text);
    line += countNewlines(text);
  }
  return { text: parts.join(''), starts };
}

function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** The file, line and column of joined-text `line`, or undefined when out of range. */
export function locateLine(
  joined: JoinedSources,
  sources: readonly RuleSource[],
  line: number,
  column: number,
): SourceLocation | undefined {
  let lo = 0;
  let hi = joined.starts.length - 1;
  if (hi < 0 || line < 1) return undefined;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((joined.starts[mid] ?? Infinity) <= line) lo = mid;
    else hi = mid - 1;
  }
  const source = sources[lo];
  const start = joined.starts[lo];
  if (source === undefined || start === undefined) return undefined;
  return { file: source.path, line: line - start + 1, column };
}

/** YARA-X names an unnamed source `line`: ` --> line:4:20`. */
const LOCATION = /--> line:(\d+):(\d+)/g;

/** The first location a YARA-X diagnostic points at, as written by the engine. */
export function firstDiagnosticLocation(
  diagnostic: string,
): { readonly line: number; readonly column: number } | undefined {
  const m = /--> line:(\d+):(\d+)/.exec(diagnostic);
  if (m === null) return undefined;
  return { line: Number(m[1]), column: Number(m[2]) };
}

/**
 * A diagnostic with each ` --> line:N:C` replaced by `--> file:n:C`,
 * `locate` mapping engine lines to files (undefined leaves it as it is).
 */
export function relocateDiagnostic(
  diagnostic: string,
  locate: (line: number, column: number) => SourceLocation | undefined,
): string {
  return diagnostic.replace(LOCATION, (whole, line: string, column: string) => {
    const at = locate(Number(line), Number(column));
    return at === undefined ? whole : `--> ${at.file}:${at.line}:${at.column}`;
  });
}

/** `error[E009]: unknown identifier `foo` (rules/a.yar:4:20)` from a multi-line diagnostic. */
export function oneLine(diagnostic: string): string {
  const lines = diagnostic.split('\n');
  const head = lines[0] ?? '';
  const at = lines.find((l) => l.trimStart().startsWith('-->'));
  return at === undefined ? head : `${head} (${at.trim().slice(4)})`;
}
