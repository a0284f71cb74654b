import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MarketData, type MarketDataConfig, marketDataConfig, WARM_UP_BARS } from '../src/index.js';

const synthetic = (seed: number): MarketDataConfig => ({ source: 'synthetic', seed, cacheMs: 30_000 });

describe('MarketData: one setup, exact windows', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('names the bars a chart draws, and gives exactly them back to a service with another seed', async () => {
    const at = new Date('2026-11-20T10:17:00Z');
    const drawn = await new MarketData(synthetic(7)).forChart(
      { symbol: 'BINANCE:ETHUSDT', interval: '1h', range: '1D' },
      at,
    );
    expect(drawn.visible).toBe(24);
    expect(drawn.window).toMatchObject({ source: 'synthetic', synthetic: true, seed: 7, count: 24 });
    expect(drawn.window.warmUp).toBe(WARM_UP_BARS);
    expect(drawn.window.to).toBe('2026-11-20T10:00:00.000Z');

    // Later, elsewhere, with another seed and another clock: the same bars.
    const again = await new MarketData(synthetic(1)).forWindow('BINANCE:ETHUSDT', '1h', drawn.window);
    expect(again.warning).toBeUndefined();
    expect(again.bars).toEqual(drawn.bars);
    expect(again.window).toEqual(drawn.window);
  });

  it('reads a file source up to the window, and warns when the bars are no longer there', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cw-market-'));
    dirs.push(dir);
    const start = Date.UTC(2026, 0, 1);
    const rows = Array.from(
      { length: 400 },
      (_, i) => `${start + i * 3_600_000},${100 + i},${101 + i},${99 + i},${100 + i},5`,
    );
    const file = path.join(dir, 'BINANCE_BTCUSDT_1h.csv');
    await writeFile(file, `time,open,high,low,close,volume\n${rows.join('\n')}\n`);
    const cfg: MarketDataConfig = { source: 'file', dir, seed: 1, cacheMs: 0 };
    const drawn = await new MarketData(cfg).forChart(
      { symbol: 'BINANCE:BTCUSDT', interval: '1h', range: '1D' },
      new Date(),
    );
    expect(drawn.window).toMatchObject({
      source: 'file:BINANCE_BTCUSDT_1h.csv',
      synthetic: false,
      seed: null,
      count: 24,
    });

    // New bars arrive after the chart was drawn: the analysis still reads the chart's bars.
    const more = Array.from({ length: 50 }, (_, i) => `${start + (400 + i) * 3_600_000},1,2,0.5,1,5`);
    await writeFile(file, `time,open,high,low,close,volume\n${[...rows, ...more].join('\n')}\n`);
    const again = await new MarketData(cfg).forWindow('BINANCE:BTCUSDT', '1h', drawn.window);
    expect(again.warning).toBeUndefined();
    expect(again.bars).toEqual(drawn.bars);

    // The oldest bars are gone from the file: what is left, with a warning.
    await writeFile(file, `time,open,high,low,close,volume\n${rows.slice(300).join('\n')}\n`);
    const partial = await new MarketData(cfg).forWindow('BINANCE:BTCUSDT', '1h', drawn.window);
    expect(partial.warning).toContain('exact bars');
  });

  it('asks for MARKET_DATA_DIR with MARKET_DATA=file', () => {
    const { issues } = marketDataConfig({
      MARKET_DATA: 'file',
      MARKET_DATA_SEED: 1,
      MARKET_DATA_CACHE_MS: 0,
    });
    expect(issues).toEqual([{ variable: 'MARKET_DATA_DIR', problem: 'required when MARKET_DATA=file' }]);
  });
});
