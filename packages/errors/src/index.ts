/**
 * The base of every error Glasshouse throws on purpose. Each package narrows
 * `code` to its own union of string literals (documented in its README), so
 * callers and tests branch on codes, never on messages.
 *
 * `evidence` carries what a third party needs to see the failure for itself
 * (both checkpoints of an inconsistency, the proof, the entry); causes are
 * chained through the standard `cause` option, never stringified.
 */
export class CodedError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly evidence: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: Code,
    message: string,
    options: { cause?: unknown; evidence?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.evidence = options.evidence;
  }
}

/** True when `err` is a CodedError carrying `code`; narrows the type. */
export function hasCode<Code extends string>(err: unknown, code: Code): err is CodedError<Code> {
  return err instanceof CodedError && err.code === code;
}
