import type { Interval } from '@chartwright/contracts';
import { addBars, type Bar, type BarsResult, barOpenTime, intervalMs, splitSymbol } from '../bars.js';
import { type BarsRequest, type MarketDataProvider, requestedBars } from './provider.js';

export interface SyntheticProviderOptions {
  /** Changes every series; default 1. */
  seed?: number;
  /** Clock for the bars' timestamps; tests pin it. */
  now?: () => number;
}

/**
 * Seeded, offline bars for demos and tests: a log-price random walk with GARCH(1,1) volatility
 * clustering, drifting regimes (up, down, sideways) and volume that rises with the size of the move.
 * The same symbol, interval and seed always give the same prices. The walk runs backwards from the
 * newest bar, so asking for more bars only prepends older ones. Results say `synthetic: true`.
 */
export class SyntheticProvider implements MarketDataProvider {
  readonly #seed: number;
  readonly #now: () => number;

  constructor(opts: SyntheticProviderOptions = {}) {
    this.#seed = opts.seed ?? 1;
    this.#now = opts.now ?? Date.now;
  }

  async getBars(req: BarsRequest): Promise<BarsResult> {
    const bars = generateBars(req.symbol, req.interval, requestedBars(req), {
      seed: this.#seed,
      end: req.end ?? this.#now(),
    });
    return { bars, source: 'synthetic', synthetic: true };
  }
}

/**
 * Where the newest synthetic bar of a ticker the shipped data files cover closes: their last close
 * (Binance, 2021-06-10), so that drawings at realistic prices land on a synthetic chart.
 */
const REAL_LEVELS: Readonly<Record<string, number>> = { BTCUSDT: 36_680, ETHUSDT: 2_620 };

/** 53-bit string hash (cyrb53): stable across runs and platforms. */
function hash(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** mulberry32: a small, fast, seeded source of numbers in [0, 1), good enough for charts and tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateBars(
  symbol: string,
  interval: Interval,
  count: number,
  opts: { seed?: number; end?: number } = {},
): Bar[] {
  const seed = opts.seed ?? 1;
  const rand = seededRandom(hash(`${symbol}|${interval}|${seed}`));
  const gauss = () => {
    const u = 1 - rand();
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };

  // Price level depends on the ticker only, so every interval of a symbol looks alike.
  const ticker = splitSymbol(symbol).ticker;
  const lastPrice = REAL_LEVELS[ticker] ?? 10 ** (0.5 + seededRandom(hash(ticker))() * 4.5);
  // About 3% daily volatility, scaled by the square root of the bar length.
  const sigma = Math.min(0.25, 0.03 * Math.sqrt(intervalMs(interval) / 86_400_000));
  const baseVolume = 1e6 / Math.sqrt(lastPrice);

  const alpha = 0.09;
  const beta = 0.89;
  const omega = sigma * sigma * (1 - alpha - beta);
  let variance = sigma * sigma;
  let shock = 0;
  let drift = 0;
  let regimeLeft = 0;

  const out: Bar[] = new Array(count);
  let close = lastPrice;
  const newest = barOpenTime(opts.end ?? Date.now(), interval);
  for (let i = count - 1; i >= 0; i--) {
    if (regimeLeft <= 0) {
      regimeLeft = 15 + Math.floor(rand() * 60);
      const r = rand();
      drift = r < 0.35 ? 0 : (r < 0.675 ? 1 : -1) * (0.04 + rand() * 0.12) * sigma;
    }
    regimeLeft--;
    variance = omega + alpha * shock * shock + beta * variance;
    const vol = Math.sqrt(variance);
    // Occasional fat-tailed moves.
    shock = vol * gauss() * (rand() < 0.03 ? 2.5 : 1);
    const ret = drift + shock;
    const open = close / Math.exp(ret);
    const wickUp = Math.abs(gauss()) * vol * 0.45;
    const wickDown = Math.abs(gauss()) * vol * 0.45;
    const high = Math.max(open, close) * Math.exp(wickUp);
    const low = Math.min(open, close) * Math.exp(-wickDown);
    const volume = baseVolume * Math.exp(0.35 * gauss()) * (0.6 + (2.5 * Math.abs(ret)) / sigma);
    out[i] = {
      time: addBars(newest, interval, i - (count - 1)),
      open: round(open),
      high: round(high),
      low: round(low),
      close: round(close),
      volume: Math.round(volume * 1000) / 1000,
    };
    close = open;
  }
  return out;
}

/** Five significant digits, like a real tick size. */
function round(p: number): number {
  const decimals = Math.max(0, Math.min(8, 4 - Math.floor(Math.log10(p))));
  return Number(p.toFixed(decimals));
}
