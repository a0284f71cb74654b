export type DownloadErrorCode =
  | 'INVALID_URL'
  | 'SCHEME_NOT_ALLOWED'
  | 'HOST_NOT_ALLOWED'
  | 'PRIVATE_ADDRESS'
  | 'DNS_FAILED'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'BAD_STATUS'
  | 'BAD_CONTENT_TYPE'
  | 'TOO_LARGE'
  | 'TOO_MANY_REDIRECTS';

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  readonly code: DownloadErrorCode;
  /** The URL being fetched when the error happened (after redirects). */
  readonly url: string | undefined;
  /** HTTP status, for `BAD_STATUS`. */
  readonly status: number | undefined;

  constructor(
    code: DownloadErrorCode,
    message: string,
    details: { url?: string; status?: number; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.url = details.url;
    this.status = details.status;
  }
}

export function isDownloadError(error: unknown, code?: DownloadErrorCode): error is DownloadError {
  return error instanceof DownloadError && (code === undefined || error.code === code);
}
