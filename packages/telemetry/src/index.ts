export { TelemetryError, type TelemetryErrorCode } from './errors.js';
