import { ADX, EMA, RSI } from 'trading-signals';
import { describe, expect, it } from 'vitest';
import { generateBars } from '../src/providers/synthetic.js';
import { SNAPSHOT_LOOKBACK, SNAPSHOT_WINDOW, snapshot } from '../src/snapshot.js';

describe('snapshot', () => {
  it('computes readings an analyst can quote', () => {
    const bars = generateBars('BINANCE:BTCUSDT', '1D', 300, { end: Date.UTC(2025, 0, 1) });
    const s = snapshot(bars);
    expect(s.lastClose).toBe(bars.at(-1)!.close);
    const sma20 = bars.slice(-20).reduce((a, b) => a + b.close, 0) / 20;
    expect(s.sma20).toBeCloseTo(sma20, 8);
    for (const v of [
      s.sma50,
      s.sma200,
      s.ema20,
      s.rsi14,
      s.adx14,
      s.atr14,
      s.sma20SlopePct,
      s.relativeVolume,
    ]) {
      expect(typeof v).toBe('number');
    }
    expect(s.rsi14).toBeGreaterThanOrEqual(0);
    expect(s.rsi14).toBeLessThanOrEqual(100);
    expect(s.macd!.histogram).toBeCloseTo(s.macd!.macd - s.macd!.signal, 10);
    expect(s.bollinger!.upper).toBeGreaterThan(s.bollinger!.lower);
    expect(s.stochastic!.k).toBeGreaterThanOrEqual(0);
  });

  it('reads the last window of a long series as the whole series would', () => {
    const bars = generateBars('BINANCE:ETHUSDT', '4h', SNAPSHOT_WINDOW + 600, { end: Date.UTC(2025, 0, 1) });
    const s = snapshot(bars);
    // Smoothed indicators over every bar, from the very first one.
    const ema = new EMA(20);
    const rsi = new RSI(14);
    const adx = new ADX(14);
    for (const b of bars) {
      ema.add(b.close);
      rsi.add(b.close);
      adx.add(b);
    }
    const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
    expect(rel(s.ema20!, ema.getResultOrThrow())).toBeLessThan(1e-9);
    expect(rel(s.rsi14!, rsi.getResultOrThrow())).toBeLessThan(1e-9);
    expect(rel(s.adx14!, adx.getResultOrThrow())).toBeLessThan(1e-9);
    expect(s.bars).toBe(bars.length);
    expect(s.high).toBe(Math.max(...bars.map((b) => b.high)));
    expect(s.low).toBe(Math.min(...bars.map((b) => b.low)));
  });

  it('gives the readings SNAPSHOT_LOOKBACK bars back as a snapshot taken then would', () => {
    const bars = generateBars('BINANCE:SOLUSDT', '1h', 300, { end: Date.UTC(2025, 0, 1) });
    const then = snapshot(bars.slice(0, -SNAPSHOT_LOOKBACK));
    const { earlier } = snapshot(bars);
    expect(earlier.rsi14).toBeCloseTo(then.rsi14!, 10);
    expect(earlier.macdHistogram).toBeCloseTo(then.macd!.histogram, 10);
  });

  it('returns nulls rather than guesses on short series', () => {
    const s = snapshot(generateBars('X:Y', '1h', 10, { end: 0 }));
    expect(s).toMatchObject({ sma20: null, rsi14: null, macd: null, adx14: null, bollinger: null });
    expect(snapshot([]).lastClose).toBeNull();
  });
});
