import createClient, { type Client } from 'openapi-fetch';
import { ApiError, ChartwrightError } from './errors.js';
import type { paths } from './generated/api.js';
import { paginate } from './pagination.js';
import { analysisEvents, progressEvents } from './sse.js';
import { type SendOptions, Transport } from './transport.js';
import type {
  Analysis,
  AnalysisAccepted,
  AnalysisListQuery,
  AnalysisProgress,
  AnalyzeRequest,
  Backtest,
  BacktestListQuery,
  BacktestProgress,
  ChartListQuery,
  CreateBacktestRequest,
  CreateWebhookRequest,
  DeliveryListQuery,
  Download,
  GenerateChartRequest,
  LoginRequest,
  MultiTimeframeAccepted,
  MultiTimeframeListQuery,
  MultiTimeframeRequest,
  MultiTimeframeRun,
  SignupRequest,
  UpdateWebhookRequest,
} from './types.js';

export interface ClientOptions {
  /** The API's origin, e.g. `https://api.chartwright.example` (default `http://127.0.0.1:3000`). */
  baseUrl?: string;
  /** An API key (`cw_…`), sent as `X-API-Key`. */
  apiKey?: string;
  /** A login token, sent as `Authorization: Bearer`. Used when no `apiKey` is given. */
  token?: string;
  /** Retries of a 429, a 503 or a lost connection (default 2). */
  maxRetries?: number;
  /** A `Retry-After` longer than this is thrown instead of waited for (default 30 000 ms). */
  maxRetryDelayMs?: number;
  /** Per attempt (default 60 000 ms). */
  timeoutMs?: number;
  /** Sent with every request. */
  headers?: Record<string, string>;
  /** A fetch implementation (default `globalThis.fetch`). */
  fetch?: typeof fetch;
}

export interface AnalyzeOptions {
  /** Each step as it happens: queued, downloading, analysing, completed or failed. */
  onProgress?: (step: AnalysisProgress) => void;
  /** Give up waiting after this long (default 10 minutes); the analysis goes on server-side. */
  timeoutMs?: number;
  /** How often to poll `Location` when the event stream cannot be used (default 1 000 ms). */
  pollIntervalMs?: number;
  /** `false` polls `Location` only, without trying the event stream. */
  stream?: boolean;
  signal?: AbortSignal;
}

const FINAL = new Set(['completed', 'failed']);
const BACKTEST_FINAL = new Set(['completed', 'failed', 'cancelled']);

type PathParams = Record<string, string>;

/**
 * The Chartwright API. Calls return the success envelope's `data`; failures throw `ApiError`
 * (narrow on `err.code`), `ConnectionError` or `TimeoutError`.
 *
 * ```ts
 * const cw = new Chartwright({ baseUrl: 'http://127.0.0.1:3000', apiKey: process.env.CHARTWRIGHT_API_KEY });
 * const chart = await cw.charts.generate({ symbol: 'BINANCE:BTCUSDT', interval: '4h' });
 * const analysis = await cw.analyses.analyze(chart.chartId);
 * ```
 */
export class Chartwright {
  readonly transport: Transport;
  /** The typed openapi-fetch client underneath, for routes without a helper. */
  readonly api: Client<paths>;

  constructor(options: ClientOptions = {}) {
    this.transport = new Transport({
      baseUrl: (options.baseUrl ?? 'http://127.0.0.1:3000').replace(/\/+$/, ''),
      apiKey: options.apiKey,
      token: options.token,
      maxRetries: options.maxRetries ?? 2,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      timeoutMs: options.timeoutMs ?? 60_000,
      headers: options.headers ?? {},
      fetch: options.fetch ?? ((...args) => globalThis.fetch(...args)),
    });
    this.api = createClient<paths>({
      baseUrl: this.transport.options.baseUrl,
      fetch: (req) => this.transport.send(req),
    });
  }

  /** The same client with other credentials (e.g. after `auth.login`). */
  withCredentials(credentials: { apiKey?: string; token?: string }): Chartwright {
    const o = this.transport.options;
    return new Chartwright({ ...o, apiKey: credentials.apiKey, token: credentials.token });
  }

  private via(opts: SendOptions) {
    return (req: Request) => this.transport.send(req, opts);
  }

  /**
   * Any route, for those the typed helpers do not cover yet: `path` may hold `{name}`
   * placeholders filled from `params`. Answers the envelope's `data`.
   */
  async request<T = unknown>(
    method: string,
    path: string,
    opts: { params?: PathParams; query?: Record<string, unknown>; body?: unknown; signal?: AbortSignal } = {},
  ): Promise<T> {
    const res = await this.transport.send(this.buildRequest(method, path, opts), { signal: opts.signal });
    const text = await res.text();
    return (text ? (JSON.parse(text) as { data: T }).data : undefined) as T;
  }

  /** Any route whose answer is a file (an image, a PDF, a CSV). */
  async download(
    path: string,
    opts: {
      params?: PathParams;
      query?: Record<string, unknown>;
      signal?: AbortSignal;
      anonymous?: boolean;
    } = {},
  ): Promise<Download> {
    const res = await this.transport.send(this.buildRequest('GET', path, opts), {
      signal: opts.signal,
      anonymous: opts.anonymous,
    });
    return toDownload(res);
  }

  private buildRequest(
    method: string,
    path: string,
    opts: { params?: PathParams; query?: Record<string, unknown>; body?: unknown },
  ): Request {
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const v = opts.params?.[name];
      if (v === undefined) throw new ChartwrightError(`missing path parameter ${name}`);
      return encodeURIComponent(v);
    });
    const url = new URL(this.transport.url(filled));
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    const hasBody = opts.body !== undefined;
    return new Request(url, {
      method,
      headers: hasBody ? { 'content-type': 'application/json' } : {},
      body: hasBody ? JSON.stringify(opts.body) : undefined,
    });
  }

  readonly auth = {
    /** Creates an account: a token and the user, or `{email, verification: 'sent'}` where the server verifies addresses first. */
    signup: async (body: SignupRequest) =>
      data(await this.api.POST('/v1/auth/signup', { body, fetch: this.via({ anonymous: true }) })),
    /** Answers a token for the account. */
    login: async (body: LoginRequest) =>
      data(await this.api.POST('/v1/auth/login', { body, fetch: this.via({ anonymous: true }) })),
  };

  readonly user = {
    get: async () => data(await this.api.GET('/v1/user')).user,
    quota: async () => data(await this.api.GET('/v1/user/quota')),
    usage: async (query: { from?: string; to?: string } = {}) =>
      data(await this.api.GET('/v1/user/usage', { params: { query } })),
  };

  readonly apiKeys = {
    /** The new key's secret is in `key`, shown only now. */
    create: async (name: string) => data(await this.api.POST('/v1/api-keys', { body: { name } })).apiKey,
    list: async () => data(await this.api.GET('/v1/api-keys')).apiKeys,
    revoke: async (id: string) =>
      data(await this.api.DELETE('/v1/api-keys/{id}', { params: { path: { id } } })),
  };

  readonly charts = {
    /** Renders a chart; `url` is a signed link to the image. */
    generate: async (config: GenerateChartRequest) =>
      data(await this.api.POST('/v1/charts/generate', { body: config })),
    bulk: async (charts: GenerateChartRequest[]) =>
      data(await this.api.POST('/v1/charts/bulk', { body: { charts } })),
    /** One page of the caller's charts, newest first. */
    list: async (query: ChartListQuery = {}) => data(await this.api.GET('/v1/charts', { params: { query } })),
    /** Every chart, page after page: `for await (const chart of cw.charts.iterate())`. */
    iterate: (query: ChartListQuery = {}) =>
      paginate(query, async (q) => {
        const page = await this.charts.list(q);
        return { items: page.charts, pagination: page.pagination };
      }),
    get: async (id: string) => data(await this.api.GET('/v1/charts/{id}', { params: { path: { id } } })),
    /** The chart's image (PNG or SVG). */
    image: (id: string) => this.download('/v1/charts/{id}/image', { params: { id } }),
    /** The chart as a report or data file (`GET /v1/charts/:id/export`). */
    export: (id: string, format: 'pdf' | 'svg' | 'png' | 'json') =>
      this.download('/v1/charts/{id}/export', { params: { id }, query: { format } }),
    delete: async (id: string) =>
      data(await this.api.DELETE('/v1/charts/{id}', { params: { path: { id } } })),
  };

  readonly analyses = {
    /**
     * Starts an analysis without waiting: `{analysisId, status}` (the server's 202), or the
     * finished result when it was already done (an idempotent repeat).
     */
    request: async (chartId: string, body: AnalyzeRequest = {}): Promise<AnalysisAccepted> => {
      const res = data(
        await this.api.POST('/v1/charts/{id}/analyze', {
          params: { path: { id: chartId }, query: { wait: 0 } },
          body,
          headers: { prefer: 'respond-async' },
        }),
      );
      return 'status' in res ? res : { analysisId: res.analysisId, status: 'completed' };
    },
    /**
     * Analyses a chart and waits for the result: follows the analysis' event stream
     * (`GET /v1/analyses/:id/events`) and, if the stream cannot be used, polls its `Location`.
     * A failed analysis throws `ApiError` with code `UPSTREAM_ERROR` and the reason in `details`.
     */
    analyze: async (chartId: string, body: AnalyzeRequest = {}, opts: AnalyzeOptions = {}) => {
      const accepted = await this.analyses.request(chartId, body);
      return this.analyses.wait(accepted.analysisId, opts);
    },
    /** Waits until the analysis is completed (answering it) or failed (throwing). */
    wait: async (analysisId: string, opts: AnalyzeOptions = {}): Promise<Analysis> => {
      const deadline = AbortSignal.timeout(opts.timeoutMs ?? 600_000);
      const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
      if (opts.stream !== false) {
        try {
          for await (const step of this.analyses.events(analysisId, { signal })) {
            opts.onProgress?.(step);
            if (FINAL.has(step.status)) break;
          }
        } catch (err) {
          // An API error (the analysis is not the caller's) is final; a broken stream is not.
          if (err instanceof ApiError && err.status !== 404 && err.status < 500) throw err;
          if (signal.aborted) throw err;
        }
      }
      return this.analyses.poll(analysisId, { ...opts, signal });
    },
    /** Polls `GET /v1/analyses/:id` until it is final. */
    poll: async (
      analysisId: string,
      opts: {
        pollIntervalMs?: number;
        signal?: AbortSignal;
        onProgress?: (s: AnalysisProgress) => void;
      } = {},
    ): Promise<Analysis> => {
      let last: string | undefined;
      for (;;) {
        const analysis = await this.analyses.get(analysisId);
        if (analysis.status !== last) {
          last = analysis.status;
          if (!FINAL.has(analysis.status) || opts.onProgress)
            opts.onProgress?.({ analysisId, status: analysis.status });
        }
        if (analysis.status === 'completed') return analysis;
        if (analysis.status === 'failed') throw analysisFailed(analysis);
        await sleep(opts.pollIntervalMs ?? 1_000, opts.signal);
      }
    },
    /** The analysis' steps as they happen (Server-Sent Events); ends after the last one. */
    events: (analysisId: string, opts: { signal?: AbortSignal } = {}) =>
      analysisEvents(this.transport, `/v1/analyses/${encodeURIComponent(analysisId)}/events`, opts.signal),
    get: async (id: string) =>
      data(await this.api.GET('/v1/analyses/{id}', { params: { path: { id } } })).analysis,
    list: async (query: AnalysisListQuery = {}) =>
      data(await this.api.GET('/v1/analyses', { params: { query } })),
    iterate: (query: AnalysisListQuery = {}) =>
      paginate(query, async (q) => {
        const page = await this.analyses.list(q);
        return { items: page.analyses, pagination: page.pagination };
      }),
    /** The analysis as a report (`GET /v1/analyses/:id/export`). */
    export: (id: string, format: 'pdf' | 'json') =>
      this.download('/v1/analyses/{id}/export', { params: { id }, query: { format } }),
  };

  /** One symbol on 2 to 4 intervals: a chart and an analysis each, and their confluence. */
  readonly multiTimeframe = {
    /** Starts a run without waiting: `{id, status}` (the server's 202). */
    start: async (body: MultiTimeframeRequest): Promise<MultiTimeframeAccepted> => {
      const res = data(
        await this.api.POST('/v1/analyses/multi-timeframe', {
          params: { query: { wait: 0 } },
          body,
          headers: { prefer: 'respond-async' },
        }),
      );
      return { id: res.id, status: res.status };
    },
    /**
     * Starts a run and polls it until every analysis is final: the items and the confluence. A run
     * whose analyses all failed is answered too (`status: 'failed'`), not thrown.
     */
    analyze: async (
      body: MultiTimeframeRequest,
      opts: { timeoutMs?: number; pollIntervalMs?: number; signal?: AbortSignal } = {},
    ): Promise<MultiTimeframeRun> => {
      const { id } = await this.multiTimeframe.start(body);
      const deadline = AbortSignal.timeout(opts.timeoutMs ?? 600_000);
      const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
      for (;;) {
        const run = await this.multiTimeframe.get(id);
        if (run.status !== 'running') return run;
        await sleep(opts.pollIntervalMs ?? 1_000, signal);
      }
    },
    get: async (id: string): Promise<MultiTimeframeRun> =>
      data(await this.api.GET('/v1/analyses/multi-timeframe/{id}', { params: { path: { id } } })),
    list: async (query: MultiTimeframeListQuery = {}) =>
      data(await this.api.GET('/v1/analyses/multi-timeframe', { params: { query } })),
    iterate: (query: MultiTimeframeListQuery = {}) =>
      paginate(query, async (q) => {
        const page = await this.multiTimeframe.list(q);
        return { items: page.runs, pagination: page.pagination };
      }),
  };

  readonly backtests = {
    /** Queues a backtest (the server's 202): the backtest, `queued`, with its step count. */
    create: async (body: CreateBacktestRequest) => data(await this.api.POST('/v1/backtests', { body })),
    /** Status, progress, scorecard, trades and (once completed) baselines. */
    get: async (id: string) => data(await this.api.GET('/v1/backtests/{id}', { params: { path: { id } } })),
    list: async (query: BacktestListQuery = {}) =>
      data(await this.api.GET('/v1/backtests', { params: { query } })),
    iterate: (query: BacktestListQuery = {}) =>
      paginate(query, async (q) => {
        const page = await this.backtests.list(q);
        return { items: page.backtests, pagination: page.pagination };
      }),
    cancel: async (id: string) =>
      data(await this.api.POST('/v1/backtests/{id}/cancel', { params: { path: { id } } })),
    delete: async (id: string) =>
      data(await this.api.DELETE('/v1/backtests/{id}', { params: { path: { id } } })),
    /** The equity curve in R, drawn by the built-in renderer. */
    equity: (id: string, format: 'png' | 'svg' = 'png') =>
      this.download('/v1/backtests/{id}/equity', { params: { id }, query: { format } }),
    /** Progress as it happens (Server-Sent Events); ends after the final status. */
    events: (id: string, opts: { signal?: AbortSignal } = {}) =>
      progressEvents<BacktestProgress>(
        this.transport,
        `/v1/backtests/${encodeURIComponent(id)}/events`,
        opts.signal,
      ),
    /**
     * Follows the backtest's progress until it is completed, failed or cancelled, then answers it
     * (read once more, with its trades). A broken stream falls back to reading it every second.
     */
    wait: async (
      id: string,
      opts: { signal?: AbortSignal; onProgress?: (p: BacktestProgress) => void } = {},
    ): Promise<Backtest> => {
      try {
        for await (const p of this.backtests.events(id, opts)) {
          opts.onProgress?.(p);
          if (BACKTEST_FINAL.has(p.status)) break;
        }
      } catch (err) {
        if (err instanceof ApiError && err.status !== 404 && err.status < 500) throw err;
        if (opts.signal?.aborted) throw err;
      }
      for (;;) {
        const b = await this.backtests.get(id);
        if (BACKTEST_FINAL.has(b.status)) return b;
        await new Promise<void>((resolve) => setTimeout(resolve, 1_000));
        opts.signal?.throwIfAborted();
      }
    },
  };

  readonly templates = {
    list: async (query: { limit?: number; offset?: number } = {}) =>
      data(await this.api.GET('/v1/templates', { params: { query } })),
    get: async (id: string) => data(await this.api.GET('/v1/templates/{id}', { params: { path: { id } } })),
    delete: async (id: string) =>
      data(await this.api.DELETE('/v1/templates/{id}', { params: { path: { id } } })),
  };

  readonly webhooks = {
    /** The signing secret is in `secret`, shown only now. */
    create: async (body: CreateWebhookRequest) => data(await this.api.POST('/v1/webhooks', { body })),
    list: async () => data(await this.api.GET('/v1/webhooks')).webhooks,
    get: async (id: string) => data(await this.api.GET('/v1/webhooks/{id}', { params: { path: { id } } })),
    update: async (id: string, body: UpdateWebhookRequest) =>
      data(await this.api.PATCH('/v1/webhooks/{id}', { params: { path: { id } }, body })),
    delete: async (id: string) =>
      data(await this.api.DELETE('/v1/webhooks/{id}', { params: { path: { id } } })),
    rotateSecret: async (id: string) =>
      data(await this.api.POST('/v1/webhooks/{id}/rotate-secret', { params: { path: { id } } })),
    test: async (id: string) =>
      data(await this.api.POST('/v1/webhooks/{id}/test', { params: { path: { id } } })),
    deliveries: (id: string, query: DeliveryListQuery = {}) =>
      paginate(query, async (q) => {
        const page = data(
          await this.api.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id }, query: q } }),
        );
        return { items: page.deliveries, pagination: page.pagination };
      }),
  };

  readonly files = {
    /** A signed link the API handed out (a chart's `url`): no credentials are sent. */
    download: (url: string) => this.download(url, { anonymous: true }),
  };
}

/** The success envelope's `data` (errors were thrown by the transport). */
function data<E>(result: { data?: E }): EnvelopeData<E> {
  if (result.data === undefined) throw new ChartwrightError('the API answered without a body');
  return (result.data as { data?: unknown }).data as EnvelopeData<E>;
}
/** Each success envelope's `data` (distributes over a 200 | 202 union). */
type EnvelopeData<E> = E extends { data: infer D } ? D : undefined;

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

async function toDownload(res: Response): Promise<Download> {
  const disposition = res.headers.get('content-disposition') ?? '';
  const name = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition)?.[1];
  return {
    bytes: new Uint8Array(await res.arrayBuffer()),
    contentType: res.headers.get('content-type') ?? 'application/octet-stream',
    filename: name ? decodeURIComponent(name) : undefined,
  };
}

function analysisFailed(a: Analysis): ApiError {
  const error = (a.error ?? { code: 'INTERNAL', reason: 'the analysis failed' }) as {
    code?: string;
    reason?: string;
  };
  return new ApiError(
    502,
    'UPSTREAM_ERROR',
    `The analysis failed: ${error.reason ?? 'unknown reason'}`,
    { analysisId: a.id, code: error.code, reason: error.reason },
    new Headers(),
    { method: 'GET', url: `/v1/analyses/${a.id}` },
  );
}
