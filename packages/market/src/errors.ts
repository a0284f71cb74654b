/** Codes of market-data failures; callers map them to API errors. */
export type MarketDataErrorCode =
  | 'UNKNOWN_SYMBOL'
  | 'UNSUPPORTED_INTERVAL'
  | 'INVALID_REQUEST'
  | 'RATE_LIMITED'
  | 'UPSTREAM_ERROR'
  | 'TIMEOUT'
  | 'ABORTED';

export class MarketDataError extends Error {
  override readonly name = 'MarketDataError';
  readonly code: MarketDataErrorCode;
  /** For RATE_LIMITED: how long the upstream asked us to wait, when it said so. */
  readonly retryAfterMs: number | undefined;
  /** For INVALID_REQUEST: the request field at fault, e.g. `end`. */
  readonly field: string | undefined;

  constructor(
    code: MarketDataErrorCode,
    message: string,
    opts: { cause?: unknown; retryAfterMs?: number; field?: string } = {},
  ) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.retryAfterMs = opts.retryAfterMs;
    this.field = opts.field;
  }
}

/**
 * A study or drawing that the catalogue rejects. `code` is the REST API's `VALIDATION_ERROR`, so a
 * caller can pass it through unchanged; `details.supported` lists the accepted names when the name
 * itself was wrong.
 */
export class CatalogueError extends Error {
  override readonly name = 'CatalogueError';
  readonly code = 'VALIDATION_ERROR' as const;
  readonly details: {
    kind: 'study' | 'drawing';
    name: string;
    field?: string;
    supported?: readonly string[];
  };

  constructor(message: string, details: CatalogueError['details']) {
    super(message);
    this.details = details;
  }
}
