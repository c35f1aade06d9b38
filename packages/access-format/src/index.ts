// Pure formats of access transparency (issue 17): access records, approval
// requests and approvals, the access policy, and the per-customer verifiable
// index over the access log with its output-log entries and the customer's
// completeness check. No `node:` imports: this package also runs in a browser.
export { AccessFormatError, type AccessFormatErrorCode } from './errors.js';
export { nobleSha256, type HashOptions, type Sha256 } from './bytes.js';
export {
  ACCESS_RECORD_SCHEMA,
  accessRecordDigest,
  DATA_CLASS,
  encodeAccessRecord,
  JUSTIFICATION_CODES,
  MAX_ACCESS_RECORD_BYTES,
  MAX_DETAIL_LENGTH,
  MAX_SCOPE_BATCHES,
  parseAccessRecord,
  PRINCIPAL_PSEUDONYM,
  principalPseudonym,
  REFERENCE,
  type AccessRecord,
  type AccessScope,
  type Accessor,
  type Justification,
  type JustificationCode,
} from './record.js';
export { customerSearchKey, indexListCommitment } from './index-hash.js';
export {
  encodeLookupProof,
  lookupProofFromJson,
  lookupProofJson,
  MAX_LOOKUP_PROOF_BYTES,
  MAX_PROOF_DEPTH,
  parseLookupProof,
  rootFromLookup,
  verifyLookup,
  type LookupProof,
  type LookupResult,
} from './lookup-proof.js';
export {
  AccessIndex,
  accessIndexKey,
  type IndexCustomerState,
  type IndexRevision,
} from './access-index.js';
export {
  encodeOutputEntry,
  MAX_OUTPUT_ENTRY_BYTES,
  OUTPUT_ENTRY_SCHEMA,
  parseOutputEntry,
  type OutputLogEntry,
} from './output-entry.js';
export {
  checkCompleteness,
  checkNoFork,
  type CompletenessInput,
  type CompletenessResult,
} from './completeness.js';
export {
  checkMine,
  emptyMineState,
  MAX_LOOKUP_ANSWER_BYTES,
  MINE_STEPS,
  parseMineState,
  type MineAccess,
  type MineInput,
  type MineReader,
  type MineResult,
  type MineRevision,
  type MineState,
  type MineStep,
  type MineStepId,
} from './mine.js';
export {
  ACCESS_REQUEST_SCHEMA,
  accessRequestDigest,
  APPROVAL_PAYLOAD_TYPE,
  APPROVAL_SCHEMA,
  approvalEnvelope,
  approvalSigningMessage,
  APPROVER_ROLES,
  encodeAccessRequest,
  encodeApproval,
  MAX_ACCESS_REQUEST_BYTES,
  MAX_APPROVAL_BYTES,
  MAX_APPROVAL_ENVELOPE_BYTES,
  openApproval,
  parseAccessRequest,
  parseApproval,
  type AccessRequest,
  type Approval,
  type ApproverKeys,
  type ApproverRole,
  type OpenedApproval,
} from './approval.js';
export {
  ACCESS_POLICY_SCHEMA,
  demoAccessPolicy,
  encodeAccessPolicy,
  MAX_ACCESS_POLICY_BYTES,
  parseAccessPolicy,
  type AccessPolicy,
  type ClassRule,
} from './policy.js';
export {
  checkAccess,
  requestStatus,
  type AccessCheckInput,
  type AccessDecision,
  type RequestDecision,
  type RequestStatus,
} from './access-check.js';
