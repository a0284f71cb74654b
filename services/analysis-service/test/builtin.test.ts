import { AnalystOutput } from '@chartwright/contracts';
import { seededRandom } from '@chartwright/market';
import { describe, expect, it } from 'vitest';
import { analyseBars, BuiltinAnalyst, ground, pivotLevels } from '../src/analyst/index.js';
import type { AnalystBar } from '../src/analyst/types.js';

const H = 3_600_000;
const T0 = Date.UTC(2025, 0, 1);

/** Fixed bars: a drift per bar, ±1% noise and, for a range, a pull back towards 100. */
function series(n: number, drift: number, revert = 0, seed = 2): AnalystBar[] {
  const r = seededRandom(seed);
  const bars: AnalystBar[] = [];
  let close = 100;
  for (let i = 0; i < n; i++) {
    const open = close;
    close = open * (1 + drift + (r() - 0.5) * 0.02 - (revert * (open - 100)) / 100);
    bars.push({
      time: T0 + i * 4 * H,
      open,
      high: Math.max(open, close) * (1 + r() * 0.004),
      low: Math.min(open, close) * (1 - r() * 0.004),
      close,
      volume: 1000 + r() * 500,
    });
  }
  return bars;
}

const input = { symbol: 'BINANCE:BTCUSDT', interval: '4h', tradingStyle: 'swing_trading' as const };

describe('built-in analyst', () => {
  it('calls a steady uptrend LONG with stop loss < entry < take profit, quoting its readings', () => {
    const bars = series(300, 0.0015);
    const out = AnalystOutput.parse(analyseBars(bars, input));
    const last = bars.at(-1)!.close;
    expect(out.trend).toBe('bullish');
    expect(out.recommendation).toBe('LONG');
    expect(out.stopLoss!).toBeLessThan(out.entryPrice!);
    expect(out.entryPrice!).toBeLessThan(out.takeProfit!);
    expect(Math.abs(out.entryPrice! - last) / last).toBeLessThan(0.001);
    expect(out.confidence).toBeGreaterThanOrEqual(5);
    expect(out.signals).toContain('RSI(14) 65.8 rising from 59.5');
    expect(out.signals.some((s) => /^RSI\(14\) \d+\.\d/.test(s))).toBe(true);
    expect(out.signals.some((s) => s.startsWith('ADX(14)'))).toBe(true);
    expect(out.signals.some((s) => s.startsWith('MACD(12,26,9)'))).toBe(true);
    expect(out.analysisText).toContain('LONG');
    expect(out.keyLevels.support.every((p) => p < last)).toBe(true);
    expect(out.keyLevels.resistance.every((p) => p > last)).toBe(true);

    const grounded = ground(out, { lastPrice: last });
    expect(grounded.recommendation).toBe('LONG');
    expect(grounded.warnings).toEqual([]);
    expect(grounded.riskRewardRatio!).toBeGreaterThanOrEqual(1.5);
  });

  it('calls a steady downtrend SHORT with take profit < entry < stop loss', () => {
    const bars = series(300, -0.0015);
    const out = analyseBars(bars, input);
    expect(out.trend).toBe('bearish');
    expect(out.recommendation).toBe('SHORT');
    expect(out.takeProfit!).toBeLessThan(out.entryPrice!);
    expect(out.entryPrice!).toBeLessThan(out.stopLoss!);
    const grounded = ground(out, { lastPrice: bars.at(-1)!.close });
    expect(grounded.recommendation).toBe('SHORT');
    expect(grounded.warnings).toEqual([]);
  });

  it('stays NEUTRAL without entry, stop or target on a sideways market', () => {
    const out = analyseBars(series(300, 0, 0.3), input);
    expect(out.trend).toBe('neutral');
    expect(out.recommendation).toBe('NEUTRAL');
    expect([out.entryPrice, out.stopLoss, out.takeProfit]).toEqual([null, null, null]);
    expect(out.confidence).toBeLessThanOrEqual(4);
  });

  it('is deterministic and becomes NEUTRAL with the reason under a high confidence threshold', async () => {
    const bars = series(300, 0.0015);
    const analyst = new BuiltinAnalyst();
    const a = await analyst.analyse({
      ...input,
      imagePath: '/nonexistent.png',
      mediaType: 'image/png',
      bars,
    });
    const b = await analyst.analyse({
      ...input,
      imagePath: '/nonexistent.png',
      mediaType: 'image/png',
      bars,
    });
    expect(a).toEqual(b);
    expect(a.model).toBe('chartwright-technical-v1');
    expect(a.tokensUsed).toBe(0);
    const g = ground(a.output, { lastPrice: bars.at(-1)!.close, confidenceThreshold: 10 });
    expect(g.recommendation).toBe('NEUTRAL');
    expect(g.warnings.join(' ')).toMatch(/below the threshold 10/);
  });

  it('refuses too few bars', async () => {
    await expect(
      new BuiltinAnalyst().analyse({
        ...input,
        imagePath: '/x.png',
        mediaType: 'image/png',
        bars: series(20, 0.001),
      }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('clusters nearby swing highs and lows into levels', () => {
    const bar = (i: number, high: number, low: number): AnalystBar => ({
      time: T0 + i * H,
      open: (high + low) / 2,
      high,
      low,
      close: (high + low) / 2,
      volume: 1,
    });
    // Swing highs at 110 and 110.4 (one level, two touches), swing lows at 90 and 95.
    const highs = [100, 102, 110, 102, 100, 101, 110.4, 101, 100];
    const lows = [95, 92, 96, 90, 96, 95, 97, 96, 97];
    const bars = highs.map((h, i) => bar(i, h, lows[i]!));
    const levels = pivotLevels(bars, 1, 1);
    expect(levels).toContainEqual({ price: 110.2, touches: 2 });
    expect(levels.map((l) => l.price)).toContain(90);
  });
});
