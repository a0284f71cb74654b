import { describe, expect, it } from 'vitest';
import type { Bar } from '../src/bars.js';
import { computeStudy, resolveStudy } from '../src/studies/resolve.js';

const barWith = (close: number, i: number, extra: Partial<Bar>): Bar => ({
  time: Date.UTC(2024, 0, 1) + i * 86_400_000,
  open: close,
  high: close,
  low: close,
  close,
  volume: 100,
  ...extra,
});
const bar = (close: number, i: number): Bar => barWith(close, i, {});
const run = (name: string, bars: Bar[], input?: Record<string, number | string>) =>
  computeStudy(resolveStudy({ name, ...(input ? { input } : {}) }), bars);

// Wilder's RSI example data (StockCharts "RSI" ChartSchool spreadsheet), 14-period.
const WILDER = [
  44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.1, 45.42, 45.84, 46.08, 45.89, 46.03, 45.61, 46.28, 46.28,
  46.0, 46.03, 46.41, 46.22, 45.64, 46.21, 46.25, 45.71, 46.46, 45.78, 45.35, 44.03, 44.18, 44.22, 44.57,
  43.42, 42.66, 43.13,
];
// The published table rounds its intermediate averages, so it differs from exact values by < 0.1.
const WILDER_PUBLISHED = [
  70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99, 41.46, 41.87,
  45.46, 37.3, 33.08, 37.77,
];

describe('indicator values', () => {
  const closes = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
  const bars = closes.map(bar);

  it('Moving Average: SMA(3) by hand', () => {
    const { ma } = run('Moving Average', bars, { period: 3 });
    expect(ma!.slice(0, 4)).toEqual([null, null, 11, 12]);
    expect(ma![9]).toBeCloseTo(18, 10);
  });

  it('Moving Average Exponential: EMA(3) by hand, seeded with the first price', () => {
    const { ema } = run('Moving Average Exponential', [2, 4, 6, 8, 12].map(bar), { length: 3 });
    // k = 2/(3+1) = 0.5: 2 → 3 → 4.5 → 6.25 → 9.125; stable from the third value.
    expect(ema).toEqual([null, null, 4.5, 6.25, 9.125]);
  });

  it("Relative Strength Index: Wilder's example", () => {
    const { rsi } = run('Relative Strength Index', WILDER.map(bar), { period: 14 });
    expect(rsi!.slice(0, 14).every((v) => v === null)).toBe(true);
    // By hand: first 14 changes gain 3.34 and lose 1.40 → RS = (3.34/14)/(1.40/14), RSI = 70.46.
    expect(rsi![14]).toBeCloseTo(100 - 100 / (1 + 3.34 / 1.4), 6);
    rsi!.slice(14).forEach((v, j) => {
      expect(Math.abs(v! - WILDER_PUBLISHED[j]!)).toBeLessThan(0.1);
    });
    // Exact Wilder smoothing, computed independently.
    let gain = 3.34 / 14;
    let loss = 1.4 / 14;
    for (let i = 15; i < WILDER.length; i++) {
      const d = WILDER[i]! - WILDER[i - 1]!;
      gain = (gain * 13 + Math.max(d, 0)) / 14;
      loss = (loss * 13 + Math.max(-d, 0)) / 14;
      expect(rsi![i]).toBeCloseTo(100 - 100 / (1 + gain / loss), 8);
    }
  });

  it('Bollinger Bands: population standard deviation', () => {
    const { upper, middle, lower } = run('Bollinger Bands', [1, 2, 3, 4, 5].map(bar), { in_0: 5, in_1: 2 });
    // mean 3, population sd sqrt(2).
    expect(middle![4]).toBeCloseTo(3, 10);
    expect(upper![4]).toBeCloseTo(3 + 2 * Math.SQRT2, 10);
    expect(lower![4]).toBeCloseTo(3 - 2 * Math.SQRT2, 10);
    expect(upper![3]).toBeNull();
  });

  it('MACD: line is fast EMA minus slow EMA; signal waits for its own warm-up', () => {
    const data = Array.from({ length: 60 }, (_, i) => 100 + Math.sin(i / 3) * 5 + i * 0.2);
    const { macd, signal, histogram } = run('MACD', data.map(bar), { fast: 3, slow: 6, signal: 4 });
    const ema = (period: number) => {
      const k = 2 / (period + 1);
      const out = [data[0]!];
      for (let i = 1; i < data.length; i++) out.push(data[i]! * k + out[i - 1]! * (1 - k));
      return out;
    };
    const f = ema(3);
    const s = ema(6);
    expect(macd![4]).toBeNull();
    expect(macd![5]).toBeCloseTo(f[5]! - s[5]!, 10);
    expect(macd![59]).toBeCloseTo(f[59]! - s[59]!, 10);
    expect(signal![7]).toBeNull();
    expect(signal![8]).not.toBeNull();
    expect(histogram![30]).toBeCloseTo(macd![30]! - signal![30]!, 10);
  });

  it('Average True Range: Wilder smoothing of true ranges', () => {
    const hl = [
      [10, 8, 9],
      [11, 9, 10],
      [12, 9.5, 11],
      [11.5, 10, 10.5],
      [13, 10.5, 12.5],
    ] as const;
    const bars2 = hl.map(([h, l, c], i) => barWith(c, i, { high: h, low: l }));
    const { atr } = run('Average True Range', bars2, { period: 3 });
    // TR: 2, 2, 2.5, 1.5, 2.5 → first ATR = mean(2, 2, 2.5) = 2.1667; then (2.1667*2 + 1.5)/3 …
    const first = (2 + 2 + 2.5) / 3;
    expect(atr![2]).toBeCloseTo(first, 10);
    expect(atr![3]).toBeCloseTo((first * 2 + 1.5) / 3, 10);
    expect(atr![4]).toBeCloseTo((((first * 2 + 1.5) / 3) * 2 + 2.5) / 3, 10);
  });

  it('Williams %R and Stochastic %K agree: %R = %K − 100', () => {
    const data = Array.from({ length: 40 }, (_, i) =>
      barWith(50 + Math.sin(i) * 3, i, { high: 52 + Math.sin(i) * 3, low: 48 + Math.sin(i) * 3 }),
    );
    const { r } = run('Williams %R', data, { length: 14 });
    const { k } = run('Stochastic', data, { in_0: 14, in_1: 1, in_2: 3 });
    for (let i = 20; i < 40; i++) expect(r![i]).toBeCloseTo(k![i]! - 100, 8);
  });

  it('VWAP resets each UTC day with the Session anchor', () => {
    const hour = 3_600_000;
    const t0 = Date.UTC(2024, 0, 1, 22);
    const data = [10, 20, 30, 40].map((c, i) => ({ ...bar(c, 0), time: t0 + i * hour, volume: i + 1 }));
    const { vwap } = run('VWAP', data);
    expect(vwap![1]).toBeCloseTo((10 * 1 + 20 * 2) / 3, 10);
    expect(vwap![2]).toBe(30); // 2024-01-02 00:00: a new session
    const all = run('VWAP', data, { anchor: 'None' }).vwap!;
    expect(all[3]).toBeCloseTo((10 + 40 + 90 + 160) / 10, 10);
  });

  it('every catalogue study computes lines aligned to the bars', async () => {
    const { STUDIES } = await import('../src/studies/catalogue.js');
    const { generateBars } = await import('../src/providers/synthetic.js');
    const data = generateBars('BINANCE:BTCUSDT', '1h', 300, { end: Date.UTC(2025, 0, 1) });
    for (const def of STUDIES) {
      const lines = run(def.name, data);
      for (const [key, line] of Object.entries(lines)) {
        expect(line, `${def.name}.${key}`).toHaveLength(300);
        expect(line.at(-1), `${def.name}.${key} last`).not.toBeUndefined();
      }
      const visible = def.outputs.filter((o) => !o.hidden && lines[o.key]);
      expect(
        visible.some(
          (o) => typeof lines[o.key]!.at(-1) === 'number' || lines[o.key]!.some((v) => v !== null),
        ),
      ).toBe(true);
    }
  });
});
