// Re-exports of the error module.
export { SnnError, isSnnError, throwCollected, type SnnErrorDetails } from './snn-error.js';
export { ERROR_CODES, type ErrorCode, type ErrorCodeInfo, type Stage } from './codes.js';
