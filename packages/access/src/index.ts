// Access transparency services (issue 17): the gateway, the key release, the
// approvals store, the index service and the access monitor. The formats are
// in @glasshouse/access-format (pure).
export { AccessError, type AccessErrorCode } from './errors.js';
