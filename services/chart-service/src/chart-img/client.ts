import { createHash } from 'node:crypto';
import type { ChartConfig, Drawing, Study } from '@chartwright/contracts';
import { ServiceError } from '@chartwright/kit';
import {
  CatalogueError,
  type DrawingInput,
  findDrawing,
  findStudy,
  resolveDrawing,
  toChartImgStudy,
} from '@chartwright/market';
import { z } from 'zod';
import { TokenBucket } from './limiter.js';
import { CHART_IMG_DRAWINGS, CHART_IMG_STUDIES } from './names.js';
import { CHART_IMG_PLANS, type ChartImgPlan, type ChartImgPlanLimits } from './plans.js';

export interface ChartImgOptions {
  apiKey: string;
  /** Default https://api.chart-img.com; tests point it at a local server. */
  baseUrl?: string;
  plan?: ChartImgPlan;
  timeoutMs?: number;
  /** Longest wait for the client-side rate limit before answering RATE_LIMIT_EXCEEDED. */
  maxQueueMs?: number;
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  /** Tries again after a transient answer (409 session disconnected, 5xx, unreachable); default 2. */
  retries?: number;
  /** Wait before retry n is this × 2^n ms; default 500. */
  retryBaseMs?: number;
  /** Requests a UTC day; default the plan's. */
  perDay?: number;
  /** Where the day's requests are counted; without it they are not limited client-side. */
  allowance?: DailyAllowance;
}

/**
 * chart-img.com's requests per day, counted where every replica sees them (chart-img.com caps an
 * account's requests a day by plan and answers 429 `Limit Exceeded` beyond).
 */
export interface DailyAllowance {
  /** Takes one request from `account`'s allowance of `limit` on `day`; false when it is spent. */
  take(account: string, day: string, limit: number): Promise<boolean>;
  /** Marks `day`'s allowance as spent (chart-img.com said so). */
  spend(account: string, day: string, limit: number): Promise<void>;
}

/** Answers that say "try again": a dropped browser session, server errors, gateway timeouts. */
const TRANSIENT = new Set([409, 500, 502, 503, 504]);

/** The body of `POST /v2/tradingview/advanced-chart[/storage]`. */
export interface ChartImgRequest {
  symbol: string;
  interval: string;
  width: number;
  height: number;
  style: string;
  theme: string;
  format: 'png';
  timezone?: string;
  range?: string | { from: string; to: string };
  studies?: Study[];
  drawings?: Drawing[];
}

export interface ChartImgStored {
  /** chart-img.com's CDN link (r2.chart-img.com), kept for the plan's storage days. */
  url: string;
  etag: string | null;
  expiresAt: Date | null;
  contentType: 'image/png';
}

const StorageAnswer = z.object({
  url: z.url(),
  etag: z.string().optional(),
  expire: z.union([z.string(), z.number()]).optional(),
});

const PRESET_RANGES = new Set(['1D', '5D', '1M', '3M', '6M', '1Y', '5Y', 'ALL', 'DTD', 'WTD', 'MTD', 'YTD']);
const INTERVALS: Record<string, string> = { '12M': '1Y' };

const studyNames = new Map(CHART_IMG_STUDIES.map((n) => [n.toLowerCase(), n]));
const drawingNames = new Map(CHART_IMG_DRAWINGS.map((n) => [n.toLowerCase(), n]));

const invalid = (field: string, message: string, extra: Record<string, unknown> = {}) =>
  new ServiceError('VALIDATION_ERROR', message, [{ field, message, ...extra }]);

/**
 * chart-img.com's v2 advanced-chart API, storage variant: the image stays on chart-img.com's CDN and
 * we get its link (storage-service copies it to our storage). Configs are checked against the plan
 * and chart-img.com's names before anything is sent; its error answers become our API errors.
 */
export class ChartImgClient {
  readonly plan: ChartImgPlan;
  readonly limits: ChartImgPlanLimits;
  readonly #apiKey: string;
  readonly #baseUrl: string;
  readonly #timeoutMs: number;
  readonly #maxQueueMs: number;
  readonly #fetch: typeof globalThis.fetch;
  readonly #now: () => number;
  readonly #bucket: TokenBucket;
  readonly #retries: number;
  readonly #retryBaseMs: number;
  readonly #perDay: number;
  readonly #allowance: DailyAllowance | undefined;
  /** Counts are kept per chart-img.com account; the key itself is not stored. */
  readonly #account: string;

  constructor(opts: ChartImgOptions) {
    this.plan = opts.plan ?? 'BASIC';
    this.limits = CHART_IMG_PLANS[this.plan];
    this.#apiKey = opts.apiKey;
    this.#baseUrl = (opts.baseUrl ?? 'https://api.chart-img.com').replace(/\/+$/, '');
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#maxQueueMs = opts.maxQueueMs ?? 5_000;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#now = opts.now ?? Date.now;
    this.#retries = opts.retries ?? 2;
    this.#retryBaseMs = opts.retryBaseMs ?? 500;
    this.#perDay = opts.perDay || this.limits.perDay;
    this.#allowance = opts.allowance;
    this.#account = createHash('sha256').update(opts.apiKey).digest('hex').slice(0, 16);
    // 5% under the plan's rate: requests spaced exactly 1/rate apart can arrive closer than that.
    this.#bucket = new TokenBucket(this.limits.perSecond * 0.95, this.limits.burst, this.#now);
  }

  /**
   * The request chart-img.com would get for `config`, or a VALIDATION_ERROR naming the field: size and
   * studies + drawings within the plan, known names, inputs translated (`period` → `length`…).
   */
  prepare(config: ChartConfig): ChartImgRequest {
    const { maxWidth, maxHeight, maxParameters } = this.limits;
    if (config.format !== 'png')
      throw invalid('format', 'The chart-img renderer makes PNG images only; use format "png"');
    if (config.width > maxWidth || config.height > maxHeight) {
      throw invalid(
        config.width > maxWidth ? 'width' : 'height',
        `Exceed Max Usage Resolution Limit (${maxWidth}x${maxHeight}): chart-img.com's ${this.plan} plan allows at most ${maxWidth}x${maxHeight}, got ${config.width}x${config.height}`,
      );
    }
    const params = config.studies.length + config.drawings.length;
    if (params > maxParameters) {
      throw invalid(
        'studies',
        `Exceed Max Usage Parameter Limit (${maxParameters}): chart-img.com's ${this.plan} plan allows at most ${maxParameters} studies and drawings together, got ${params}`,
      );
    }
    const body: ChartImgRequest = {
      symbol: config.symbol,
      interval: INTERVALS[config.interval] ?? config.interval,
      width: config.width,
      height: config.height,
      style: config.style,
      theme: config.theme,
      format: 'png',
    };
    if (config.timezone) body.timezone = config.timezone;
    const range = this.#range(config.range);
    if (range) body.range = range;
    if (config.studies.length) body.studies = config.studies.map((s, i) => chartImgStudy(s, i));
    if (config.drawings.length) body.drawings = config.drawings.map((d, i) => chartImgDrawing(d, i));
    return body;
  }

  #range(range: string | undefined): ChartImgRequest['range'] {
    if (!range || range === 'DYNAMIC') return undefined;
    if (PRESET_RANGES.has(range)) return range;
    const days = Number(range.slice(0, -1));
    const to = new Date(this.#now());
    return { from: new Date(to.getTime() - days * 86_400_000).toISOString(), to: to.toISOString() };
  }

  /**
   * Renders and stores on chart-img.com; returns the image's CDN link. Transient failures are
   * tried again (each try waits its turn under the plan's rate), up to `retries` times and
   * within `timeoutMs` altogether.
   */
  async store(body: ChartImgRequest, signal?: AbortSignal): Promise<ChartImgStored> {
    const started = this.#now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#storeOnce(body, signal);
      } catch (err) {
        const transient = err instanceof TransientError;
        const cause = transient ? err.error : err;
        const delay = this.#retryBaseMs * 2 ** attempt;
        // All tries together stay within one request's timeout.
        const late = this.#now() - started + delay >= this.#timeoutMs;
        if (!transient || attempt >= this.#retries || late || signal?.aborted) throw cause;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async #storeOnce(body: ChartImgRequest, signal?: AbortSignal): Promise<ChartImgStored> {
    const wait = this.#bucket.reserve(this.#maxQueueMs);
    if (wait === null) {
      const retry = Math.ceil(this.#bucket.waitMs() / 1000);
      throw new ServiceError(
        'RATE_LIMIT_EXCEEDED',
        `chart-img.com allows ${this.limits.perSecond} chart(s) a second on the ${this.plan} plan; retry in ${retry} s`,
        { retryAfterSeconds: retry },
      );
    }
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const day = new Date(this.#now()).toISOString().slice(0, 10);
    if (this.#allowance && !(await this.#allowance.take(this.#account, day, this.#perDay)))
      throw this.#dailyLimitReached();

    const timeout = AbortSignal.timeout(this.#timeoutMs);
    let res: Response;
    try {
      res = await this.#fetch(`${this.#baseUrl}/v2/tradingview/advanced-chart/storage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': this.#apiKey },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        redirect: 'error',
      });
    } catch (err) {
      // Our own deadline is spent: no retry.
      if (timeout.aborted)
        throw new ServiceError('TIMEOUT', `chart-img.com did not answer in ${this.#timeoutMs} ms`);
      throw new TransientError(
        new ServiceError('UPSTREAM_ERROR', `chart-img.com is unreachable: ${(err as Error).message}`),
      );
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      if (res.status === 429 && /limit exceeded/i.test(text)) {
        await this.#allowance?.spend(this.#account, day, this.#perDay);
        throw this.#dailyLimitReached();
      }
      if (res.status === 429) this.#bucket.drain();
      const error = chartImgError(res.status, text, res.headers.get('retry-after'));
      throw TRANSIENT.has(res.status) ? new TransientError(error) : error;
    }
    let answer: z.infer<typeof StorageAnswer>;
    try {
      answer = StorageAnswer.parse(JSON.parse(text));
    } catch {
      throw new ServiceError('UPSTREAM_ERROR', 'chart-img.com answered with an unexpected body');
    }
    return {
      url: answer.url,
      etag: answer.etag ?? null,
      expiresAt: this.#expiry(answer.expire),
      contentType: 'image/png',
    };
  }

  #dailyLimitReached(): ServiceError {
    const now = this.#now();
    const midnight = new Date(now).setUTCHours(24, 0, 0, 0);
    const retryAfterSeconds = Math.max(1, Math.ceil((midnight - now) / 1000));
    return new ServiceError(
      'RATE_LIMIT_EXCEEDED',
      `chart-img.com allows ${this.#perDay} charts a day on the ${this.plan} plan and today's are used; ` +
        `it counts again from 00:00 UTC (in ${retryAfterSeconds} s). Ask for renderer "builtin" to draw the chart now.`,
      { retryAfterSeconds },
    );
  }

  #expiry(expire: string | number | undefined): Date {
    const fallback = new Date(this.#now() + this.limits.storageDays * 86_400_000);
    if (expire === undefined) return fallback;
    const d = new Date(typeof expire === 'number' && expire < 1e12 ? expire * 1000 : expire);
    return Number.isNaN(d.getTime()) ? fallback : d;
  }
}

/** A study in chart-img.com's terms; ours are translated, its other 70-odd names pass unchanged. */
function chartImgStudy(study: Study, i: number): Study {
  if (findStudy(study.name)) {
    try {
      return toChartImgStudy(study);
    } catch (err) {
      throw catalogueToServiceError(err, `studies.${i}`);
    }
  }
  const name = studyNames.get(study.name.trim().toLowerCase());
  if (!name) {
    throw invalid(
      `studies.${i}.name`,
      `Unknown study "${study.name}". chart-img.com supports: ${CHART_IMG_STUDIES.join(', ')}`,
      { supported: CHART_IMG_STUDIES },
    );
  }
  return { ...study, name };
}

/** A drawing in chart-img.com's terms: known drawings are checked and their inputs made canonical. */
function chartImgDrawing(drawing: Drawing, i: number): Drawing {
  if (findDrawing(drawing.name)) {
    try {
      const r = resolveDrawing(drawing);
      return {
        name: r.name,
        input: canonicalInput(r.input),
        ...(drawing.override ? { override: drawing.override } : {}),
      };
    } catch (err) {
      throw catalogueToServiceError(err, `drawings.${i}`);
    }
  }
  const name = drawingNames.get(drawing.name.trim().toLowerCase());
  if (!name) {
    throw invalid(
      `drawings.${i}.name`,
      `Unknown drawing "${drawing.name}". chart-img.com supports: ${CHART_IMG_DRAWINGS.join(', ')}`,
      { supported: CHART_IMG_DRAWINGS },
    );
  }
  return { ...drawing, name };
}

const TIME_KEYS = new Set(['datetime', 'startDatetime', 'endDatetime']);

function canonicalInput(input: DrawingInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    if (v === undefined) continue;
    out[k] = TIME_KEYS.has(k) && typeof v === 'number' ? new Date(v).toISOString() : v;
  }
  return out;
}

/** A catalogue rejection as a VALIDATION_ERROR naming the field, e.g. `studies.1.input.period`. */
export function catalogueToServiceError(err: unknown, at: string): unknown {
  if (!(err instanceof CatalogueError)) return err;
  const d = err.details;
  const field = d.supported ? `${at}.name` : d.field ? `${at}.input.${d.field}` : at;
  return new ServiceError('VALIDATION_ERROR', err.message, [
    { field, message: err.message, ...(d.supported ? { supported: d.supported } : {}) },
  ]);
}

interface ChartImgIssue {
  value?: unknown;
  msg?: string;
  param?: string;
  location?: string;
}

/** chart-img.com's error answers as our API errors. */
/** Carries an answer worth another try. */
class TransientError extends Error {
  constructor(readonly error: ServiceError) {
    super(error.message);
  }
}

export function chartImgError(status: number, text: string, retryAfter: string | null): ServiceError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  const issues: ChartImgIssue[] | undefined = Array.isArray(body)
    ? body
    : Array.isArray((body as { errors?: unknown })?.errors)
      ? (body as { errors: ChartImgIssue[] }).errors
      : undefined;
  const message =
    typeof body === 'string'
      ? body.trim().slice(0, 300)
      : String(
          (body as { message?: unknown; error?: unknown })?.message ??
            (body as { error?: unknown })?.error ??
            '',
        ).slice(0, 300);
  const says = (m: string) => `chart-img.com: ${m || `HTTP ${status}`}`;

  switch (status) {
    case 401:
      return new ServiceError(
        'UPSTREAM_ERROR',
        says(`${message || 'Invalid Request'} (check CHART_IMG_API_KEY)`),
      );
    case 403:
      if (/resolution/i.test(message))
        return new ServiceError('VALIDATION_ERROR', says(message), [{ field: 'width', message }]);
      if (/parameter/i.test(message))
        return new ServiceError('VALIDATION_ERROR', says(message), [{ field: 'studies', message }]);
      return new ServiceError('UPSTREAM_ERROR', says(message || 'Forbidden'));
    case 422: {
      if (issues?.length) {
        const details = issues.map((i) => ({
          field: i.param ?? '(body)',
          message: i.msg ?? 'invalid',
          value: i.value,
        }));
        return new ServiceError(
          'VALIDATION_ERROR',
          says(details.map((d) => `${d.field} ${d.message}`).join('; ')),
          details,
        );
      }
      const field = /symbol/i.test(message) ? 'symbol' : /interval/i.test(message) ? 'interval' : '(body)';
      return new ServiceError('VALIDATION_ERROR', says(message || 'Unprocessable'), [{ field, message }]);
    }
    case 429: {
      const seconds = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
      return new ServiceError(
        'RATE_LIMIT_EXCEEDED',
        says(message || 'Too Many Requests'),
        seconds === undefined ? undefined : { retryAfterSeconds: seconds },
      );
    }
    case 504:
      return new ServiceError('TIMEOUT', says(message || 'External Request Timeout'));
    default:
      return new ServiceError('UPSTREAM_ERROR', says(message));
  }
}
