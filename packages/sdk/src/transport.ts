import { ApiError, apiErrorFrom, ConnectionError, retryAfterMs, TimeoutError } from './errors.js';

export interface TransportOptions {
  baseUrl: string;
  /** Sent as `X-API-Key`. */
  apiKey?: string;
  /** A login token, sent as `Authorization: Bearer`. */
  token?: string;
  /** Retries of a 429, a 503 or a lost connection (default 2). */
  maxRetries: number;
  /**
   * The longest the client waits before a retry (default 30 s). A `Retry-After` longer than this
   * is not waited for: the 429 or 503 is thrown at once, with `retryAfter` set.
   */
  maxRetryDelayMs: number;
  /** Per attempt (default 60 s; the wait of an analysis is added to it). */
  timeoutMs: number;
  headers: Record<string, string>;
  fetch: typeof fetch;
}

const RETRIED_STATUSES = new Set([429, 503]);

/** Exponential backoff from 0.5 s, capped, with full jitter over its upper half. */
function backoffMs(attempt: number, capMs: number): number {
  const base = Math.min(capMs, 500 * 2 ** attempt);
  return base * (0.5 + Math.random() * 0.5);
}

/** The server's delay plus up to 10 % (at most 1 s), so clients told the same time spread out. */
function withJitter(ms: number): number {
  return ms + Math.random() * Math.min(1000, ms * 0.1);
}

const sleep = (ms: number, signal?: AbortSignal | null) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export function newIdempotencyKey(): string {
  return `sdk-${globalThis.crypto.randomUUID()}`;
}

export interface SendOptions {
  signal?: AbortSignal;
  /** Extra time for this request beyond `timeoutMs` (a server-side wait). */
  extraTimeoutMs?: number;
  /** Leave out the credentials (signed links, signup and login). */
  anonymous?: boolean;
}

/**
 * One logical request: credentials added, an `Idempotency-Key` on POSTs (the same on every
 * retry, so the server carries the work out once), retries of 429/503 honouring `Retry-After`
 * and of lost connections, with backoff and jitter. Non-2xx answers throw `ApiError`.
 */
export class Transport {
  constructor(readonly options: TransportOptions) {}

  url(path: string): string {
    return /^https?:\/\//i.test(path) ? path : this.options.baseUrl.replace(/\/+$/, '') + path;
  }

  async send(request: Request, opts: SendOptions = {}): Promise<Response> {
    const { options } = this;
    const headers = new Headers(request.headers);
    for (const [k, v] of Object.entries(options.headers)) if (!headers.has(k)) headers.set(k, v);
    if (!opts.anonymous && !headers.has('authorization') && !headers.has('x-api-key')) {
      if (options.apiKey) headers.set('x-api-key', options.apiKey);
      else if (options.token) headers.set('authorization', `Bearer ${options.token}`);
    }
    if (request.method === 'POST' && !headers.has('idempotency-key'))
      headers.set('idempotency-key', newIdempotencyKey());
    // Buffered once so every attempt sends the same bytes.
    const body = request.body ? await request.arrayBuffer() : undefined;
    const where = { method: request.method, url: request.url };
    const signal = opts.signal ?? request.signal;

    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(options.timeoutMs + (opts.extraTimeoutMs ?? 0));
      let res: Response;
      try {
        res = await options.fetch(request.url, {
          method: request.method,
          headers,
          body,
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (err) {
        if (signal?.aborted) throw err;
        const timedOut = timeout.aborted;
        const failure = timedOut
          ? new TimeoutError(`${where.method} ${where.url} timed out`, where, { cause: err })
          : new ConnectionError(
              `${where.method} ${where.url} failed: ${(err as Error)?.message ?? err}`,
              where,
              { cause: err },
            );
        if (attempt >= options.maxRetries) throw failure;
        await sleep(backoffMs(attempt, options.maxRetryDelayMs), signal);
        continue;
      }
      if (res.ok || (res.status >= 300 && res.status < 400)) return res;
      const error = await apiErrorFrom(res, where);
      if (!RETRIED_STATUSES.has(res.status) || attempt >= options.maxRetries) throw error;
      const asked = retryAfterMs(res.headers);
      if (asked !== undefined && asked > options.maxRetryDelayMs) throw error;
      await sleep(
        asked !== undefined ? withJitter(asked) : backoffMs(attempt, options.maxRetryDelayMs),
        signal,
      );
    }
  }

  /** `send`, then the body as JSON's `data` (the success envelope's payload). */
  async json<T>(request: Request, opts?: SendOptions): Promise<{ data: T; response: Response }> {
    const response = await this.send(request, opts);
    const parsed = (await response.json()) as { data: T };
    return { data: parsed.data, response };
  }
}

export function isApiErrorStatus(err: unknown, status: number): err is ApiError {
  return err instanceof ApiError && err.status === status;
}
