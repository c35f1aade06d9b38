// Access transparency services (issue 17): the gateway, the key release, the
// approvals store, the index service and the access monitor. The formats are
// in @glasshouse/access-format (pure).
export { AccessError, type AccessErrorCode } from './errors.js';

// Part B: the index service, access mine, the access monitor, alerts.
export * from './index-service/index.js';
export {
  checkMyAccesses,
  type MineOptions,
  type MineRecord,
  type MineResult,
} from './mine/mine.js';
export {
  type AccessAlert,
  type AccessAlertKind,
  type AccessAlertSink,
  MemoryAccessAlerts,
  accessAlertKey,
  jsonLinesAccessAlerts,
} from './alerts.js';
export {
  ACCESS_MONITOR_STATE_FILE,
  ACCESS_MONITOR_STATUS_FILE,
  AccessMonitor,
  type AccessMonitorOptions,
  type AccessMonitorRun,
  type AccessMonitorStatus,
  type ApprovalSource,
  type LogStatus,
  type WrittenAccessMonitorStatus,
  readAccessMonitorStatus,
} from './monitor/monitor.js';
