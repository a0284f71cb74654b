import { describe, expect, it } from 'vitest';
import { generateBars } from '../src/providers/synthetic.js';
import { snapshot } from '../src/snapshot.js';

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

  it('returns nulls rather than guesses on short series', () => {
    const s = snapshot(generateBars('X:Y', '1h', 10, { end: 0 }));
    expect(s).toMatchObject({ sma20: null, rsi14: null, macd: null, adx14: null, bollinger: null });
    expect(snapshot([]).lastClose).toBeNull();
  });
});
