import { ERROR_CODES, type ErrorCode } from './generated/error-codes.js';

export { ERROR_CODES, type ErrorCode };

/** Every error this SDK throws. */
export class ChartwrightError extends Error {
  override name = 'ChartwrightError';
}

/**
 * The API answered with an error envelope (`{success: false, error: {code, message, details}}`),
 * or with an error status and no envelope (a proxy's 502): then `code` is derived from the status.
 * Narrow on `code`: `if (err instanceof ApiError && err.code === 'QUOTA_EXCEEDED') …`.
 */
export class ApiError<C extends ErrorCode = ErrorCode> extends ChartwrightError {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: C,
    message: string,
    /** The envelope's `details` (validation issues, the failed analysis' reason…). */
    readonly details: unknown,
    readonly headers: Headers,
    /** The request's method and path, for messages and logs. */
    readonly request: { method: string; url: string },
  ) {
    super(message);
  }

  /** Seconds the server asked to wait (`Retry-After`), when it said. */
  get retryAfter(): number | undefined {
    const ms = retryAfterMs(this.headers);
    return ms === undefined ? undefined : ms / 1000;
  }
}

/** The request never got an answer: DNS, refused connection, reset, or the timeout. */
export class ConnectionError extends ChartwrightError {
  override name = 'ConnectionError';
  constructor(
    message: string,
    readonly request: { method: string; url: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class TimeoutError extends ConnectionError {
  override name = 'TimeoutError';
}

/** An `ApiError` whose `code` is exactly one of the codes: `err.code` narrows the type. */
export type AnyApiError = { [C in ErrorCode]: ApiError<C> }[ErrorCode];

/**
 * Type guard: `isApiError(err)` gives an error whose `code` narrows by comparison;
 * `isApiError(err, 'NOT_FOUND')` checks the code too.
 */
export function isApiError(err: unknown): err is AnyApiError;
export function isApiError<C extends ErrorCode>(err: unknown, code: C): err is ApiError<C>;
export function isApiError(err: unknown, code?: ErrorCode): boolean {
  return err instanceof ApiError && (code === undefined || err.code === code);
}

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHORIZED',
  402: 'QUOTA_EXCEEDED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'VALIDATION_ERROR',
  429: 'RATE_LIMIT_EXCEEDED',
  502: 'UPSTREAM_ERROR',
  503: 'SERVICE_UNAVAILABLE',
  504: 'TIMEOUT',
};

/** Builds the error of a non-2xx answer (reads its body). */
export async function apiErrorFrom(
  res: Response,
  request: { method: string; url: string },
): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  let envelope: { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined;
  try {
    envelope = JSON.parse(text);
  } catch {
    // not JSON: a proxy's page
  }
  const e = envelope?.error;
  const known = typeof e?.code === 'string' && (ERROR_CODES as readonly string[]).includes(e.code);
  const code = known ? (e!.code as ErrorCode) : (STATUS_CODES[res.status] ?? 'INTERNAL');
  const message =
    typeof e?.message === 'string' ? e.message : `${request.method} ${request.url} answered ${res.status}`;
  return new ApiError(res.status, code, message, e?.details, res.headers, request);
}

/** `Retry-After` (seconds or an HTTP date) or `retry-after-ms`, in milliseconds. */
export function retryAfterMs(headers: Headers): number | undefined {
  const ms = Number(headers.get('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
