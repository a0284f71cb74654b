export type AnalystErrorCode =
  | 'UPSTREAM_ERROR'
  | 'RATE_LIMITED'
  | 'INVALID_OUTPUT'
  | 'TIMEOUT'
  | 'AUTH'
  | 'INVALID_INPUT'
  | 'ABORTED';

export class AnalystError extends Error {
  override readonly name = 'AnalystError';
  readonly code: AnalystErrorCode;
  /** Whether trying the same analysis again later may succeed. */
  readonly retryable: boolean;
  /** HTTP status of the upstream answer, when there was one. */
  readonly status: number | undefined;
  /** What the provider asked us to wait before the next call, in ms. */
  readonly retryAfterMs: number | undefined;
  /** Tokens already spent on calls before the failure, for cost accounting. */
  tokensUsed: number | undefined;

  constructor(
    code: AnalystErrorCode,
    message: string,
    details: {
      retryable?: boolean;
      status?: number;
      retryAfterMs?: number;
      tokensUsed?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.retryable = details.retryable ?? false;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.tokensUsed = details.tokensUsed;
  }
}
