import { ChartConfig, type ChartConfigInput } from '@chartwright/contracts';
import { generateBars } from '@chartwright/market';
import { describe, expect, it } from 'vitest';
import { layoutChart } from '../src/render/layout.js';
import { type RenderInput, renderSvg } from '../src/render/svg.js';
import { textEngine } from '../src/render/text.js';

const bars = generateBars('BINANCE:BTCUSDT', '1h', 200, { end: Date.UTC(2025, 5, 1) });
const last = bars.at(-1)!;
const first = bars.at(-120)!;
const te = textEngine('svg');

const input = (over: Partial<ChartConfigInput>): RenderInput => ({
  config: ChartConfig.parse({
    symbol: 'BINANCE:BTCUSDT',
    interval: '1h',
    width: 800,
    height: 500,
    format: 'svg',
    ...over,
  }),
  bars,
  synthetic: false,
  visibleBars: 120,
});

interface Label {
  text: string;
  x0: number;
  x1: number;
  top: number;
  baseline: number;
}

const plainText = (s: string) =>
  s
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

/** Every <text> with its box, measured as the renderer measures it (render/text.ts). */
function labels(svg: string): Label[] {
  return [...svg.matchAll(/<text ([^>]*)>(.*?)<\/text>/g)].map(([, attrs, body]) => {
    const attr = (name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(attrs!)?.[1];
    const text = plainText(body!);
    const size = Number(attr('font-size'));
    const width = te.measure(text, size, attr('font-weight') === 'bold');
    const x = Number(attr('x'));
    const anchor = attr('text-anchor');
    const x0 = anchor === 'middle' ? x - width / 2 : anchor === 'end' ? x - width : x;
    const baseline = Number(attr('y'));
    // DejaVu's capitals rise 0.73 em above the baseline.
    return { text, x0, x1: x0 + width, top: baseline - size * 0.73, baseline };
  });
}

/** The labels drawn over the plot (not on the axes) that leave it. */
function outside(i: RenderInput): Label[] {
  const l = layoutChart(i);
  const all = labels(renderSvg(i));
  expect(all.length).toBeGreaterThan(3);
  const slack = 0.5;
  return all.filter((b) => {
    if (b.x0 >= l.right) return false; // a price-axis label
    const horizontal = b.x0 < l.left - slack || b.x1 > l.right + slack;
    if (b.baseline > l.bottom + l.fs) return horizontal; // a time-axis label
    return horizontal || b.top < -slack || b.baseline > l.bottom + slack;
  });
}

const long = (startDatetime: number, extra: Record<string, unknown> = {}) => ({
  name: 'Long Position',
  input: {
    startDatetime,
    entryPrice: last.close,
    targetPrice: last.close * 1.05,
    stopPrice: last.close * 0.975,
    ...extra,
  },
});

describe('labels stay inside the plot', () => {
  it('a long position near the right edge keeps its target, stop and R/R labels inside', () => {
    const i = input({ drawings: [long(bars.at(-3)!.time)] });
    const svg = renderSvg(i);
    expect(svg).toContain('Target');
    expect(svg).toContain('R/R');
    expect(outside(i)).toEqual([]);
  });

  it('a short position at the last bar, and one at the first visible bar', () => {
    const short = (t: number) => ({
      name: 'Short Position',
      input: {
        startDatetime: t,
        entryPrice: last.close,
        targetPrice: last.close * 0.95,
        stopPrice: last.close * 1.02,
      },
    });
    expect(outside(input({ drawings: [short(last.time)] }))).toEqual([]);
    expect(
      outside(input({ drawings: [short(first.time), long(first.time, { text: 'Swing entry' })] })),
    ).toEqual([]);
  });

  it('labels of lines, text, arrows, rectangles and fibs at either edge', () => {
    const words = 'Breakout above the weekly range high';
    for (const bar of [first, last]) {
      const drawings = [
        { name: 'Vertical Line', input: { datetime: bar.time, text: words } },
        { name: 'Text', input: { datetime: bar.time, price: bar.close, text: words } },
        { name: 'Arrow Mark Down', input: { datetime: bar.time, price: bar.high, text: words } },
        { name: 'Arrow Mark Up', input: { datetime: bar.time, price: bar.low, text: words } },
        {
          name: 'Rectangle',
          input: {
            startDatetime: bar.time,
            startPrice: bar.high,
            endDatetime: last.time,
            endPrice: bar.low,
            text: words,
          },
        },
        ...['Fib Retracement', 'Trend Line'].map((name) => ({
          name,
          input: {
            startDatetime: bar.time,
            startPrice: bar.low,
            endDatetime: last.time,
            endPrice: bar.high,
            text: words,
          },
        })),
      ];
      const i = { ...input({ drawings }), synthetic: true };
      expect(outside(i), `drawings at ${new Date(bar.time).toISOString()}`).toEqual([]);
    }
  });

  it('text longer than the plot is cut short; labels at the top and bottom stay in', () => {
    const long500 = 'x'.repeat(500);
    const shown = bars.slice(-120);
    const highest = shown.reduce((a, b) => (b.high > a.high ? b : a));
    const lowest = shown.reduce((a, b) => (b.low < a.low ? b : a));
    const i = input({
      width: 400,
      height: 300,
      drawings: [
        { name: 'Text', input: { datetime: first.time, price: highest.high, text: long500 } },
        { name: 'Arrow Mark Down', input: { datetime: highest.time, price: highest.high, text: 'Top' } },
        { name: 'Arrow Mark Up', input: { datetime: lowest.time, price: lowest.low, text: 'Bottom' } },
        { name: 'Horizontal Line', input: { price: last.close }, override: { text: long500 } },
      ],
    });
    expect(outside(i)).toEqual([]);
  });

  it('legends and the title fit a narrow chart', () => {
    const i = input({
      width: 400,
      height: 300,
      studies: [{ name: 'Ichimoku Cloud' }, { name: 'Bollinger Bands' }, { name: 'MACD' }],
    });
    expect(outside({ ...i, symbolLabel: 'A very long instrument name that cannot fit / TetherUS' })).toEqual(
      [],
    );
  });
});
