import { ChartConfig, type ChartConfigInput } from '@chartwright/contracts';
import { generateBars } from '@chartwright/market';
import { afterAll, describe, expect, it } from 'vitest';
import { RenderPool, renderChart, renderSvgDocument } from '../src/render/index.js';
import type { RenderInput } from '../src/render/svg.js';

// A synthetic chart near 36,680 (the shipped data's last BTCUSDT close).
const bars = generateBars('BINANCE:BTCUSDT', '1h', 200, { end: Date.UTC(2025, 5, 1) });
const last = bars.at(-1)!;
const HOUR = 3_600_000;

const input = (drawings: ChartConfigInput['drawings'], format: 'svg' | 'png' = 'svg'): RenderInput => ({
  config: ChartConfig.parse({ symbol: 'BINANCE:BTCUSDT', interval: '1h', format, drawings }),
  bars,
  synthetic: true,
  visibleBars: 100,
});

const near = { name: 'Horizontal Line', input: { price: last.close, text: 'Near' } };
const far = { name: 'Horizontal Line', input: { price: 60_000, text: 'Far away' } };
const RANGE = String.raw`\d{2},\d{3}\.\d{2}–\d{2},\d{3}\.\d{2}`;

describe('drawings outside the chart', () => {
  it('a line far above the prices is reported by number, name and price, and not drawn', () => {
    const { svg, warnings } = renderSvgDocument(input([near, far]));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      new RegExp(`^drawing 2 "Horizontal Line" at 60,000\\.00 is outside the chart's price range ${RANGE}$`),
    );
    expect(svg).toContain('Near');
    expect(svg).not.toContain('Far away');
    expect(svg).not.toContain('60,000');
  });

  it('reports drawings wholly before or after the time range, and keeps those partly inside', () => {
    const trendInside = {
      name: 'Trend Line',
      input: {
        startDatetime: last.time - 500 * HOUR,
        startPrice: last.close,
        endDatetime: last.time,
        endPrice: last.close,
      },
    };
    const { warnings } = renderSvgDocument(
      input([
        { name: 'Vertical Line', input: { datetime: last.time - 1000 * HOUR } },
        trendInside,
        { name: 'Text', input: { datetime: last.time + 400 * HOUR, price: last.close, text: 'Later' } },
        {
          name: 'Long Position',
          input: { startDatetime: last.time, entryPrice: 100, targetPrice: 120, stopPrice: 90 },
        },
      ]),
    );
    expect(warnings).toEqual([
      expect.stringMatching(
        /^drawing 1 "Vertical Line" at 2025-04-\d\dT\d\d:00Z is outside the chart's time range 2025-05-2\dT\d\d:00Z–2025-06-01T\d\d:00Z$/,
      ),
      expect.stringMatching(/^drawing 3 "Text" at 2025-06-17T16:00Z is outside the chart's time range /),
      expect.stringMatching(
        new RegExp(
          `^drawing 4 "Long Position" at 90\\.00–120\\.00 is outside the chart's price range ${RANGE}$`,
        ),
      ),
    ]);
  });

  it('a chart with every drawing in range has no warnings', () => {
    expect(renderSvgDocument(input([near])).warnings).toEqual([]);
  });

  const pool = new RenderPool({ size: 1, lazy: true });
  afterAll(() => pool.close());

  it('renderChart and the render pool hand the warnings on with the image', async () => {
    const direct = await renderChart(input([far], 'png'));
    expect(direct.warnings).toEqual([expect.stringContaining('drawing 1 "Horizontal Line" at 60,000.00')]);
    const pooled = await pool.render(input([near, far], 'png'));
    expect(pooled.warnings).toEqual(direct.warnings.map((w) => w.replace('drawing 1', 'drawing 2')));
    expect((await pool.render(input([near], 'png'))).warnings).toEqual([]);
  });
});
