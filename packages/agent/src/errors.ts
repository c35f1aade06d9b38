import { CodedError } from '@glasshouse/errors';

/**
 * Every code `@glasshouse/agent` throws. Callers branch on these, never on
 * messages; the README lists what each one means.
 */
export type AgentErrorCode = 'AGENT_NOT_INITIALIZED';

/** The one error class of `@glasshouse/agent`. */
export class AgentError extends CodedError<AgentErrorCode> {}
