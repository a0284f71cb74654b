import { ChartConfig, type ChartConfigInput } from '@chartwright/contracts';
import { generateBars } from '@chartwright/market';
import { describe, expect, it } from 'vitest';
import { layoutChart } from '../src/render/layout.js';
import { type RenderInput, renderSvg } from '../src/render/svg.js';

const bars = generateBars('BINANCE:BTCUSDT', '1h', 200, { end: Date.UTC(2025, 5, 1) });
const [a, b] = [bars.at(-100)!, bars.at(-5)!];

const input = (over: Partial<ChartConfigInput>): RenderInput => ({
  config: ChartConfig.parse({ symbol: 'BINANCE:BTCUSDT', interval: '1h', format: 'svg', ...over }),
  bars,
  synthetic: false,
  visibleBars: 120,
});

const trend = (override?: Record<string, unknown>) => ({
  name: 'Trend Line',
  input: { startDatetime: a.time, startPrice: a.low, endDatetime: b.time, endPrice: b.low },
  ...(override ? { override } : {}),
});

/** Colours of the single-line overlays, then of the drawings, as the layout decided them. */
function lineColors(i: RenderInput): string[] {
  const l = layoutChart(i);
  return [
    ...l.overlays.filter((v) => v.plots.length === 1).map((v) => v.plots[0]!.color),
    ...l.drawings.map((d) => d.color),
  ].map((c) => c.toLowerCase());
}

describe('default colours of overlays and drawings', () => {
  it('moving averages and line drawings without colours each get a distinct one', () => {
    const i = input({
      studies: [
        { name: 'Moving Average', input: { period: 20 } },
        { name: 'Moving Average', input: { period: 50 } },
        { name: 'Moving Average Exponential', input: { period: 9 } },
        { name: 'VWAP' },
      ],
      drawings: [
        trend(),
        { name: 'Horizontal Line', input: { price: b.close } },
        { name: 'Vertical Line', input: { datetime: a.time } },
        {
          name: 'Rectangle',
          input: { startDatetime: a.time, startPrice: a.high, endDatetime: b.time, endPrice: b.low },
        },
      ],
    });
    const colors = lineColors(i);
    expect(colors).toHaveLength(8);
    expect(new Set(colors).size).toBe(8);
    // The first moving average keeps its usual blue; the trend line is drawn in its own colour.
    expect(colors[0]).toBe('#2962ff');
    const svg = renderSvg(i);
    const trendStroke =
      /<path d="M[\d.]+ [\d.]+L[\d.]+ [\d.]+" stroke="([^"]+)"[^>]*stroke-linecap="round"/.exec(svg)?.[1];
    expect(trendStroke?.toLowerCase()).toBe(colors[4]);
    expect(trendStroke?.toLowerCase()).not.toBe('#2962ff');
  });

  it('keeps colours given in the config, and no default takes one of them', () => {
    const i = input({
      studies: [
        { name: 'Moving Average', input: { period: 20 } },
        { name: 'Moving Average', input: { period: 50 }, override: { color: '#FF9800' } },
      ],
      drawings: [trend({ linecolor: '#2962ff' }), trend()],
    });
    const [ma20, ma50, explicitTrend, plainTrend] = lineColors(i);
    expect(ma50).toBe('#ff9800');
    expect(explicitTrend).toBe('#2962ff');
    expect(new Set([ma20, ma50, explicitTrend, plainTrend]).size).toBe(4);
  });

  it('a line chart keeps its blue price line to itself', () => {
    const [ma] = lineColors(input({ style: 'line', studies: [{ name: 'Moving Average' }] }));
    expect(ma).not.toBe('#2962ff');
  });
});
