import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChartConfig } from '@chartwright/contracts';
import { generateBars } from '@chartwright/market';
import { describe, expect, it } from 'vitest';
import { alignSeries, compareColor, renderChartSync } from '../src/render/index.js';

const END = Date.UTC(2025, 5, 2, 12);
const SYMBOLS = ['BINANCE:BTCUSDT', 'BINANCE:ETHUSDT', 'NASDAQ:AAPL', 'FX:EURUSD'];
/** Also write each image as PNG into this folder, to look at them. */
const PNG_DIR = process.env.COMPARE_PNG_DIR;

const seriesOf = (symbols: string[]) =>
  symbols.map((symbol) => ({ symbol, bars: generateBars(symbol, '4h', 120, { end: END, seed: 7 }) }));

const render = (symbols: string[], layout: 'overlay' | 'grid', format: 'svg' | 'png' = 'svg') =>
  renderChartSync({
    config: ChartConfig.parse({
      symbol: symbols[0],
      interval: '4h',
      width: 1000,
      height: 600,
      theme: 'dark',
      format,
      compare: { symbols, layout },
    }),
    bars: [],
    synthetic: false,
    compare: alignSeries(seriesOf(symbols)),
  });

describe('comparison charts', () => {
  for (const n of [2, 4]) {
    for (const layout of ['overlay', 'grid'] as const) {
      it(`${layout} of ${n} symbols: a distinct colour and a label per symbol`, () => {
        const symbols = SYMBOLS.slice(0, n);
        const svg = render(symbols, layout).data.toString('utf8');
        for (const [i, s] of symbols.entries()) {
          expect(svg).toContain(s);
          expect(svg).toContain(compareColor(i));
        }
        expect(new Set(symbols.map((_, i) => compareColor(i))).size).toBe(n);
        if (layout === 'overlay') {
          // One line per symbol, a legend, and a percent axis.
          expect(svg.match(/<path id="line-\d"/g)).toHaveLength(n);
          expect(svg).toContain('<g id="legend">');
          expect(svg).toMatch(/>[+-]?\d+(\.\d+)?%</);
        } else {
          expect(svg.match(/<g id="panel-\d">/g)).toHaveLength(n);
        }
        if (PNG_DIR) {
          mkdirSync(PNG_DIR, { recursive: true });
          writeFileSync(join(PNG_DIR, `${layout}-${n}.png`), render(symbols, layout, 'png').data);
        }
      });
    }
  }

  it('overlay lines start at 0 % and end at each symbol’s change over the window', () => {
    const [a, b] = alignSeries(seriesOf(SYMBOLS.slice(0, 2)));
    const change = (s: typeof a) => (s!.bars.at(-1)!.close / s!.bars[0]!.close - 1) * 100;
    const svg = render(SYMBOLS.slice(0, 2), 'overlay').data.toString('utf8');
    for (const s of [a, b]) {
      const c = change(s);
      expect(svg).toContain(`${c > 0 ? '+' : ''}${c.toFixed(2)}%`);
    }
  });

  it('aligns series on the times they share', () => {
    const bars = generateBars('X:A', '1h', 10, { end: END });
    const aligned = alignSeries([
      { symbol: 'X:A', bars },
      { symbol: 'X:B', bars: bars.slice(3) },
    ]);
    expect(aligned.map((s) => s.bars.length)).toEqual([7, 7]);
    expect(
      alignSeries([
        { symbol: 'X:A', bars: bars.slice(0, 4) },
        { symbol: 'X:B', bars: bars.slice(5) },
      ])[0]!.bars,
    ).toHaveLength(0);
  });
});
