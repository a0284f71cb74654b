import type { BarsResult } from '../bars.js';
import { MarketDataError } from '../errors.js';
import { type BarsRequest, type MarketDataProvider, requestedBars } from './provider.js';

export interface CachedProviderOptions {
  /** How long bars stay fresh; default 30 s. */
  ttlMs?: number;
  /** Most entries kept; the least recently used go first. Default 500. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * Keeps bars briefly per symbol, interval and bar count, and lets concurrent identical requests share
 * one upstream call. Failures are not cached. A caller's abort signal only stops that caller's wait:
 * the shared upstream call carries on for the others.
 */
export class CachedProvider implements MarketDataProvider {
  readonly #inner: MarketDataProvider;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { at: number; value: BarsResult }>();
  readonly #inflight = new Map<string, Promise<BarsResult>>();

  constructor(inner: MarketDataProvider, opts: CachedProviderOptions = {}) {
    this.#inner = inner;
    this.#ttlMs = opts.ttlMs ?? 30_000;
    this.#maxEntries = opts.maxEntries ?? 500;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  async getBars(req: BarsRequest): Promise<BarsResult> {
    const limit = requestedBars(req);
    const key = `${req.symbol}|${req.interval}|${limit}|${req.end ?? ''}|${req.start ?? ''}`;
    const hit = this.#entries.get(key);
    if (hit && this.#now() - hit.at < this.#ttlMs) {
      // Re-insert to mark as recently used.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return copy(hit.value);
    }
    if (hit) this.#entries.delete(key);

    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#inner
        .getBars({ symbol: req.symbol, interval: req.interval, limit, end: req.end, start: req.start })
        .then((value) => {
          this.#store(key, value);
          return value;
        })
        .finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return copy(await abortable(pending, req.signal));
  }

  #store(key: string, value: BarsResult): void {
    this.#entries.set(key, { at: this.#now(), value });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }
}

/** Callers get their own array, so one caller mutating bars cannot corrupt the cache. */
function copy(r: BarsResult): BarsResult {
  return { ...r, bars: r.bars.map((b) => ({ ...b })), ...(r.warnings ? { warnings: [...r.warnings] } : {}) };
}

function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new MarketDataError('ABORTED', 'Request aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new MarketDataError('ABORTED', 'Request aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
