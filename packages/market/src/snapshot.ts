import { ADX, ATR, BollingerBands, EMA, MACD, RSI, SMA, StochasticOscillator } from 'trading-signals';
import type { Bar } from './bars.js';
import { lastValue, stream } from './studies/compute.js';

/** Compact readings an analyst can quote. Values are `null` when there are too few bars. */
export interface MarketSnapshot {
  bars: number;
  time: number | null;
  lastClose: number | null;
  /** Percentage change of the last close over the previous bar's. */
  changePct: number | null;
  high: number | null;
  low: number | null;
  sma20: number | null;
  sma50: number | null;
  sma200: number | null;
  /** Percentage change of the moving average over the last 5 bars. */
  sma20SlopePct: number | null;
  sma50SlopePct: number | null;
  ema20: number | null;
  rsi14: number | null;
  macd: { macd: number; signal: number; histogram: number } | null;
  adx14: number | null;
  plusDI: number | null;
  minusDI: number | null;
  atr14: number | null;
  /** ATR as a percentage of the last close. */
  atrPct: number | null;
  bollinger: { upper: number; middle: number; lower: number; percentB: number } | null;
  stochastic: { k: number; d: number } | null;
  /** Last bar's volume relative to the 20-bar average. */
  relativeVolume: number | null;
  /** Readings `SNAPSHOT_LOOKBACK` bars before the last, to tell where they are heading. */
  earlier: { rsi14: number | null; macdHistogram: number | null };
}

/** How many bars back slopes and `earlier` readings compare with. */
export const SNAPSHOT_LOOKBACK = 5;

const slopePct = (line: (number | null)[], lookback = SNAPSHOT_LOOKBACK): number | null => {
  const last = line[line.length - 1];
  const prev = line[line.length - 1 - lookback];
  return last == null || prev == null || prev === 0 ? null : ((last - prev) / prev) * 100;
};

/**
 * Bars the indicators read: SMA(200) with a long warm-up, after which the smoothed indicators
 * (EMA, RSI, ADX, ATR) no longer depend on where they started (the weight left on the start is
 * below 1e-12). Older bars change nothing but the cost.
 */
export const SNAPSHOT_WINDOW = 400;

/** Readings over the given bars (oldest first), computed with `trading-signals`. */
export function snapshot(all: readonly Bar[]): MarketSnapshot {
  const bars = all.length > SNAPSHOT_WINDOW ? all.slice(-SNAPSHOT_WINDOW) : all;
  const closes = bars.map((b) => b.close);
  const hlc = bars.map((b) => ({ high: b.high, low: b.low, close: b.close }));
  const last = bars[bars.length - 1];
  const prev = bars[bars.length - 2];

  const sma20 = stream(new SMA(20), closes);
  const sma50 = stream(new SMA(50), closes);
  const macdRows = stream(new MACD(new EMA(12), new EMA(26), new EMA(9)), closes);
  const macd = macdRows[macdRows.length - 1] ?? null;
  const rsi = stream(new RSI(14), closes);
  const earlierAt = bars.length - 1 - SNAPSHOT_LOOKBACK;
  const bb = stream(new BollingerBands(20, 2), closes).at(-1) ?? null;
  const stoch =
    stream(new StochasticOscillator({ kPeriod: 14, kSlowingPeriod: 3, dPeriod: 3 }), hlc).at(-1) ?? null;
  const adx = new ADX(14);
  const adxValue = lastValue(stream(adx, hlc));
  const atr = lastValue(stream(new ATR(14), hlc));
  const volAvg = lastValue(
    stream(
      new SMA(20),
      bars.map((b) => b.volume),
    ),
  );

  let high = Number.NEGATIVE_INFINITY;
  let low = Number.POSITIVE_INFINITY;
  for (const b of all) {
    if (b.high > high) high = b.high;
    if (b.low < low) low = b.low;
  }

  return {
    bars: all.length,
    time: last?.time ?? null,
    lastClose: last?.close ?? null,
    changePct: last && prev && prev.close !== 0 ? ((last.close - prev.close) / prev.close) * 100 : null,
    high: all.length ? high : null,
    low: all.length ? low : null,
    sma20: lastValue(sma20),
    sma50: lastValue(sma50),
    sma200: lastValue(stream(new SMA(200), closes)),
    sma20SlopePct: slopePct(sma20),
    sma50SlopePct: slopePct(sma50),
    ema20: lastValue(stream(new EMA(20), closes)),
    rsi14: lastValue(rsi),
    macd:
      bars.length >= 26 + 9 && macd
        ? { macd: macd.macd, signal: macd.signal, histogram: macd.histogram }
        : null,
    adx14: adxValue,
    plusDI: adxValue !== null && typeof adx.pdi === 'number' ? adx.pdi * 100 : null,
    minusDI: adxValue !== null && typeof adx.mdi === 'number' ? adx.mdi * 100 : null,
    atr14: atr,
    atrPct: atr !== null && last && last.close !== 0 ? (atr / last.close) * 100 : null,
    bollinger:
      bb && last
        ? { ...bb, percentB: bb.upper === bb.lower ? 0.5 : (last.close - bb.lower) / (bb.upper - bb.lower) }
        : null,
    stochastic: stoch ? { k: stoch.stochK, d: stoch.stochD } : null,
    relativeVolume: volAvg && last ? last.volume / volAvg : null,
    earlier: {
      rsi14: rsi[earlierAt] ?? null,
      macdHistogram:
        bars.length - SNAPSHOT_LOOKBACK >= 26 + 9 ? (macdRows[earlierAt]?.histogram ?? null) : null,
    },
  };
}
