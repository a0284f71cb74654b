import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  BINANCE_RETRY_MS,
  MarketData,
  type MarketDataConfig,
  MarketDataEnv,
  MarketDataError,
} from '../src/index.js';

const market = fileURLToPath(new URL('./fixtures/market/', import.meta.url));
const HOUR = 3_600_000;

describe('MARKET_DATA=auto', () => {
  let server: Server;
  let baseUrl: string;
  let mode: 'ok' | 'ratelimit' = 'ok';
  let requests = 0;

  beforeAll(async () => {
    // Answers like Binance's klines endpoint.
    server = createServer((req, res) => {
      requests++;
      const url = new URL(req.url ?? '/', 'http://x');
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '5' });
        res.end(JSON.stringify(body));
      };
      if (mode === 'ratelimit') return json(429, { code: -1003, msg: 'Too many requests' });
      if (url.searchParams.get('symbol') !== 'BTCUSDT')
        return json(400, { code: -1121, msg: 'Invalid symbol.' });
      const limit = Number(url.searchParams.get('limit'));
      const last = Math.floor(Date.now() / HOUR) * HOUR;
      json(
        200,
        Array.from({ length: limit }, (_, i) => {
          const t = last - (limit - 1 - i) * HOUR;
          return [t, '90000.0', '90500.0', '89500.0', '90100.0', '12.5', t + HOUR - 1, '0', 1, '0', '0', '0'];
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const auto = (url: string, now?: () => number) =>
    new MarketData({ source: 'auto', seed: 1, cacheMs: 0, binanceBaseUrl: url }, { now });
  const chart = { symbol: 'BINANCE:BTCUSDT', interval: '1h', range: '1D' } as const;

  it('is the default', () => {
    expect(z.object(MarketDataEnv).parse({}).MARKET_DATA).toBe('auto');
  });

  it('draws BINANCE: symbols from Binance', async () => {
    mode = 'ok';
    const s = await auto(baseUrl).forChart(chart, new Date());
    expect(s).toMatchObject({ source: 'binance', synthetic: false, warnings: [] });
    expect(s.bars.at(-1)!.close).toBe(90100);
  });

  it('falls back to synthetic bars with a warning when Binance rate-limits, and asks again later', async () => {
    mode = 'ratelimit';
    let now = Date.now();
    const md = auto(baseUrl, () => now);
    requests = 0;
    const s = await md.forChart(chart, new Date());
    expect(s).toMatchObject({ source: 'synthetic', synthetic: true });
    expect(s.window.synthetic).toBe(true);
    expect(s.warnings).toEqual([
      'Binance could not be reached (Binance rate limit (HTTP 429)): the chart shows synthetic bars',
    ]);
    expect(requests).toBe(1);
    // While it is known to be down, charts do not wait for it.
    expect((await md.forChart(chart, new Date())).warnings).toHaveLength(1);
    expect(requests).toBe(1);
    mode = 'ok';
    now += BINANCE_RETRY_MS + 1;
    expect(await md.forChart(chart, new Date())).toMatchObject({ source: 'binance', warnings: [] });
    expect(requests).toBe(2);
  });

  it('falls back when Binance refuses the connection', async () => {
    const s = await auto('http://127.0.0.1:9').forChart(chart, new Date());
    expect(s.synthetic).toBe(true);
    expect(s.warnings[0]).toMatch(/^Binance could not be reached \(Binance request failed: .*\): the chart/);
  });

  it('says so for symbols Binance does not serve, and passes on a symbol Binance rejects', async () => {
    const s = await auto(baseUrl).forChart({ symbol: 'NASDAQ:AAPL', interval: '1D' }, new Date());
    expect(s.synthetic).toBe(true);
    expect(s.warnings[0]).toContain('MARKET_DATA=auto fetches BINANCE: symbols only');
    mode = 'ok';
    await expect(
      auto(baseUrl).forChart({ ...chart, symbol: 'BINANCE:NOPEUSDT' }, new Date()),
    ).rejects.toMatchObject({ code: 'UNKNOWN_SYMBOL' });
  });
});

describe('historical charts (end)', () => {
  const cfg: MarketDataConfig = { source: 'file', dir: market, seed: 1, cacheMs: 0 };
  const at = new Date('2026-12-01T00:00:00Z');

  it('draws the bars up to end, gives exactly them to the analysis, and the ones after for outcomes', async () => {
    const md = new MarketData(cfg);
    const c = {
      symbol: 'BINANCE:BTCUSDT',
      interval: '1h',
      range: '1D',
      end: '2020-11-21T10:30:00Z',
    } as const;
    const drawn = await md.forChart(c, at);
    expect(drawn.window).toMatchObject({
      source: 'file:Binance_BTCUSDT_1h.csv',
      from: '2020-11-20T11:00:00.000Z',
      to: '2020-11-21T10:00:00.000Z',
      count: 24,
    });
    const again = await new MarketData(cfg).forWindow(c.symbol, c.interval, drawn.window);
    expect(again.bars).toEqual(drawn.bars);
    expect(again.warning).toBeUndefined();
    const after = await md.barsAfter(c.symbol, c.interval, drawn.window, 3);
    expect(after.bars.map((b) => new Date(b.time).toISOString())).toEqual([
      '2020-11-21T11:00:00.000Z',
      '2020-11-21T12:00:00.000Z',
      '2020-11-21T13:00:00.000Z',
    ]);
    const span = await md.history({
      symbol: c.symbol,
      interval: '4h',
      start: Date.parse('2020-11-10T00:00:00Z'),
      end: Date.parse('2020-11-11T00:00:00Z'),
      limit: 100,
    });
    expect(span.bars).toHaveLength(7);
  });

  it('refuses an end in the future or before the data starts, naming end', async () => {
    const md = new MarketData(cfg);
    const fail = (end: string) =>
      md.forChart({ symbol: 'BINANCE:BTCUSDT', interval: '1h', end }, at).then(
        () => null,
        (e: unknown) => e as MarketDataError,
      );
    const future = await fail('2027-01-01T00:00:00Z');
    expect(future).toBeInstanceOf(MarketDataError);
    expect(future).toMatchObject({ code: 'INVALID_REQUEST', field: 'end' });
    expect(future!.message).toContain('in the future');
    const early = await fail('2019-01-01T00:00:00Z');
    expect(early).toMatchObject({ code: 'INVALID_REQUEST', field: 'end' });
    expect(early!.message).toContain('before the data of BINANCE:BTCUSDT starts');
  });

  it('draws synthetic bars up to end too', async () => {
    const md = new MarketData({ source: 'synthetic', seed: 3, cacheMs: 0 });
    const s = await md.forChart({ symbol: 'X:Y', interval: '1D', end: '2024-03-05T12:00:00Z' }, at);
    expect(s.window.to).toBe('2024-03-05T00:00:00.000Z');
    await expect(md.barsAfter('X:Y', '1D', s.window, 5)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });
});
