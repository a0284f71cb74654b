import { ServiceError } from '../rpc.js';

/** What a client is told to wait before retrying while the database is away. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

// SQLSTATE classes that mean "the session or the server is gone (or not there yet)", not "this
// statement is wrong": admin shutdown / crash shutdown / cannot connect now (57P01-03), every
// connection exception (08xxx), too many connections (53300).
const CONNECTION_SQLSTATE = /^(57P0[123]|08[0-9A-Z]{3}|53300)$/;
const CONNECTION_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
]);
// What node-postgres and pg-pool say when a connection died, could not be had, or was closed.
const CONNECTION_MESSAGE =
  /Connection terminated|not queryable|timeout exceeded when trying to connect|Cannot use a pool after calling end|terminating connection due to|the database system is (starting up|shutting down|in recovery mode)|connect ECONNREFUSED|read ECONNRESET/i;

/**
 * Whether `err` says the database could not be reached or the session was lost (server restart,
 * failover, `pg_terminate_backend`, a proxy restart, pool exhausted past its connect timeout),
 * as opposed to an error in the statement itself. Such a unit of work did not happen (or its
 * outcome is unknown) and may succeed once the database is back.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 4) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (CONNECTION_SQLSTATE.test(e.code) || CONNECTION_ERRNO.has(e.code)))
    return true;
  if (typeof e.message === 'string' && CONNECTION_MESSAGE.test(e.message)) return true;
  // Several addresses refused (AggregateError), or a wrapper keeping the original as its cause.
  if (Array.isArray(e.errors) && e.errors.some((x) => isDatabaseUnavailable(x, depth + 1))) return true;
  return e.cause !== undefined && isDatabaseUnavailable(e.cause, depth + 1);
}

/** The answer for a unit of work the database was not there for: 503 with `Retry-After`. */
export function databaseUnavailable(): ServiceError {
  return new ServiceError('SERVICE_UNAVAILABLE', 'the database is unavailable; try again shortly', {
    retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
  });
}

/** `err` as a `ServiceError` when it is a lost database connection; otherwise `err` itself. */
export function asServiceError(err: unknown): unknown {
  return isDatabaseUnavailable(err) ? databaseUnavailable() : err;
}
