export { type AnalyzeOptions, Chartwright, type ClientOptions } from './client.js';
export {
  type AnyApiError,
  ApiError,
  ChartwrightError,
  ConnectionError,
  ERROR_CODES,
  type ErrorCode,
  isApiError,
  TimeoutError,
} from './errors.js';
export type { components, operations, paths } from './generated/api.js';
export { paginate } from './pagination.js';
export { newIdempotencyKey } from './transport.js';
export type * from './types.js';
