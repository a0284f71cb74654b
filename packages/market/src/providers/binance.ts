import type { Interval } from '@chartwright/contracts';
import { type Bar, type BarsResult, barOpenTime, splitSymbol } from '../bars.js';
import { MarketDataError } from '../errors.js';
import { aggregateBars } from './aggregate.js';
import { type BarsRequest, type MarketDataProvider, requestedBars } from './provider.js';

/** Our interval → Binance's kline interval, and how many of those make one of our bars. */
const BINANCE_INTERVALS: Record<Interval, [string, number]> = {
  '1m': ['1m', 1],
  '3m': ['3m', 1],
  '5m': ['5m', 1],
  '15m': ['15m', 1],
  '30m': ['30m', 1],
  '45m': ['15m', 3],
  '1h': ['1h', 1],
  '2h': ['2h', 1],
  '3h': ['1h', 3],
  '4h': ['4h', 1],
  '6h': ['6h', 1],
  '12h': ['12h', 1],
  '1D': ['1d', 1],
  '1W': ['1w', 1],
  '1M': ['1M', 1],
  '3M': ['1M', 3],
  '6M': ['1M', 6],
  '12M': ['1M', 12],
};

/** Binance answers at most 1000 klines per request. */
const BINANCE_LIMIT = 1000;

export interface BinanceProviderOptions {
  /** Default https://api.binance.com; tests point it at a local server. */
  baseUrl?: string;
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
}

/** Spot klines from Binance's public REST API, for symbols `BINANCE:<PAIR>`. */
export class BinanceProvider implements MarketDataProvider {
  readonly #baseUrl: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof globalThis.fetch;

  constructor(opts: BinanceProviderOptions = {}) {
    this.#baseUrl = (opts.baseUrl ?? 'https://api.binance.com').replace(/\/+$/, '');
    this.#timeoutMs = opts.timeoutMs ?? 5_000;
    this.#fetch = opts.fetch ?? globalThis.fetch;
  }

  async getBars(req: BarsRequest): Promise<BarsResult> {
    const { exchange, ticker } = splitSymbol(req.symbol);
    if (exchange !== 'BINANCE' || !/^[A-Z0-9]{2,20}$/.test(ticker)) {
      throw new MarketDataError('UNKNOWN_SYMBOL', `Binance does not list ${req.symbol}`);
    }
    const mapping = BINANCE_INTERVALS[req.interval];
    if (!mapping) throw new MarketDataError('UNSUPPORTED_INTERVAL', `Unsupported interval ${req.interval}`);
    const [binanceInterval, perBar] = mapping;
    const wanted = requestedBars(req);
    const base = `${this.#baseUrl}/api/v3/klines?symbol=${ticker}&interval=${binanceInterval}`;
    const endTime = req.end === undefined ? '' : `&endTime=${Math.floor(req.end)}`;
    if (req.start !== undefined) return this.#forward(req, base + endTime, wanted, perBar);
    // One extra bar per aggregate so that a partial first bucket can be dropped.
    const limit = Math.min(BINANCE_LIMIT, (wanted + (perBar > 1 ? 1 : 0)) * perBar);
    const raw = await this.#request(`${base}&limit=${limit}${endTime}`, req.signal);
    let bars = parseKlines(raw);
    if (perBar > 1) bars = aggregateBars(bars, req.interval, perBar);
    return { bars: bars.slice(-wanted), source: 'binance', synthetic: false };
  }

  /** Bars from `req.start` on, a page of {@link BINANCE_LIMIT} klines at a time. */
  async #forward(req: BarsRequest, url: string, wanted: number, perBar: number): Promise<BarsResult> {
    const start = barOpenTime(req.start!, req.interval);
    const need = wanted * perBar;
    let klines: Bar[] = [];
    for (let cursor = start; klines.length < need; ) {
      const limit = Math.min(BINANCE_LIMIT, need - klines.length);
      const page = parseKlines(await this.#request(`${url}&startTime=${cursor}&limit=${limit}`, req.signal));
      klines = klines.concat(page);
      if (page.length < limit) break;
      cursor = page[page.length - 1]!.time + 1;
    }
    const bars = perBar > 1 ? aggregateBars(klines, req.interval, perBar) : klines;
    return {
      bars: bars.filter((b) => b.time >= req.start!).slice(0, wanted),
      source: 'binance',
      synthetic: false,
    };
  }

  async #request(url: string, callerSignal: AbortSignal | undefined): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;
    let res: Response;
    let body: string;
    try {
      res = await this.#fetch(url, { signal, headers: { accept: 'application/json' } });
      body = await res.text();
    } catch (err) {
      if (callerSignal?.aborted) throw new MarketDataError('ABORTED', 'Request aborted', { cause: err });
      if (timeout.aborted) {
        throw new MarketDataError('TIMEOUT', `Binance did not answer within ${this.#timeoutMs} ms`, {
          cause: err,
        });
      }
      throw new MarketDataError('UPSTREAM_ERROR', `Binance request failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (res.ok) {
      try {
        return JSON.parse(body);
      } catch (err) {
        throw new MarketDataError('UPSTREAM_ERROR', 'Binance answered with invalid JSON', { cause: err });
      }
    }
    if (res.status === 429 || res.status === 418) {
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new MarketDataError('RATE_LIMITED', `Binance rate limit (HTTP ${res.status})`, {
        retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
      });
    }
    let apiError: { code?: number; msg?: string } = {};
    try {
      apiError = JSON.parse(body) as typeof apiError;
    } catch {}
    if (res.status === 400 && apiError.code === -1121) {
      throw new MarketDataError('UNKNOWN_SYMBOL', `Binance: ${apiError.msg ?? 'Invalid symbol.'}`);
    }
    throw new MarketDataError(
      'UPSTREAM_ERROR',
      `Binance answered HTTP ${res.status}${apiError.msg ? `: ${apiError.msg}` : ''}`,
    );
  }
}

/** Binance klines: `[openTime, "open", "high", "low", "close", "volume", closeTime, …]`. */
export function parseKlines(raw: unknown): Bar[] {
  if (!Array.isArray(raw)) throw new MarketDataError('UPSTREAM_ERROR', 'Binance klines: expected an array');
  return raw.map((k, i) => {
    if (!Array.isArray(k) || k.length < 6) {
      throw new MarketDataError('UPSTREAM_ERROR', `Binance klines: malformed row ${i}`);
    }
    const bar: Bar = {
      time: Number(k[0]),
      open: Number(k[1]),
      high: Number(k[2]),
      low: Number(k[3]),
      close: Number(k[4]),
      volume: Number(k[5]),
    };
    if (!Object.values(bar).every(Number.isFinite)) {
      throw new MarketDataError('UPSTREAM_ERROR', `Binance klines: non-numeric value in row ${i}`);
    }
    return bar;
  });
}
