import { ChartConfig, type ChartConfigInput } from '@chartwright/contracts';
import { ServiceError } from '@chartwright/kit';
import { STUDY_NAMES } from '@chartwright/market';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART_IMG_STUDIES, ChartImgClient, TokenBucket } from '../src/chart-img/index.js';
import { type FakeChartImg, startFakeChartImg } from './support/fake-chart-img.js';

const config = (over: Partial<ChartConfigInput> = {}) =>
  ChartConfig.parse({ symbol: 'BINANCE:BTCUSDT', interval: '4h', width: 800, height: 600, ...over });

const failure = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceError);
    return err as ServiceError;
  }
  throw new Error('expected a failure');
};

describe('TokenBucket', () => {
  it('lets a burst through, then queues callers at the rate, and refuses waits beyond the limit', () => {
    let now = 0;
    const b = new TokenBucket(2, 3, () => now);
    expect([b.reserve(0), b.reserve(0), b.reserve(0)]).toEqual([0, 0, 0]);
    expect(b.reserve(0)).toBeNull();
    expect(b.reserve(1_000)).toBe(500);
    expect(b.reserve(1_000)).toBe(1_000);
    expect(b.reserve(1_000)).toBeNull();
    now += 1_000;
    expect(b.reserve(0)).toBeNull();
    expect(b.reserve(500)).toBe(500);
    now += 10_000;
    expect(b.waitMs()).toBe(0);
    b.drain();
    expect(b.waitMs()).toBe(500);
  });
});

describe('ChartImgClient.prepare', () => {
  const client = new ChartImgClient({ apiKey: 'k', plan: 'PRO', now: () => Date.UTC(2025, 5, 1) });

  it("translates our input names to chart-img.com's and keeps its other study names", () => {
    const body = client.prepare(
      config({
        interval: '12M',
        range: '7D',
        theme: 'dark',
        studies: [
          { name: 'RSI', input: { period: 21 } },
          { name: 'Bollinger Bands', input: { period: 20, stddev: 2.5 } },
          { name: 'Aroon', input: { length: 14 } },
        ],
        drawings: [
          {
            name: 'trend line',
            input: {
              startTime: Date.UTC(2025, 4, 1),
              startPrice: 1,
              endDatetime: '2025-05-20T00:00:00Z',
              endPrice: 2,
            },
            override: { linecolor: '#f23645' },
          },
        ],
      }),
    );
    expect(body).toMatchObject({
      symbol: 'BINANCE:BTCUSDT',
      interval: '1Y',
      theme: 'dark',
      format: 'png',
      range: { from: '2025-05-25T00:00:00.000Z', to: '2025-06-01T00:00:00.000Z' },
      studies: [
        { name: 'Relative Strength Index', input: { length: 21 } },
        { name: 'Bollinger Bands', input: { in_0: 20, in_1: 2.5 } },
        { name: 'Aroon', input: { length: 14 } },
      ],
      drawings: [
        {
          name: 'Trend Line',
          input: {
            startDatetime: '2025-05-01T00:00:00.000Z',
            startPrice: 1,
            endDatetime: '2025-05-20T00:00:00.000Z',
            endPrice: 2,
          },
          override: { linecolor: '#f23645' },
        },
      ],
    });
    expect(client.prepare(config({ range: '1M' })).range).toBe('1M');
    expect(client.prepare(config({ range: 'DYNAMIC' })).range).toBeUndefined();
  });

  it('uses only names chart-img.com knows', () => {
    for (const name of STUDY_NAMES) expect(CHART_IMG_STUDIES).toContain(name);
  });

  it('refuses unknown names, bad inputs, SVG and configs beyond the plan before sending', async () => {
    const unknown = await failure(() => client.prepare(config({ studies: [{ name: 'Magic Oscillator' }] })));
    expect(unknown.code).toBe('VALIDATION_ERROR');
    expect(unknown.message).toContain('Williams Alligator');
    expect(unknown.details).toMatchObject([{ field: 'studies.0.name' }]);

    const badInput = await failure(() =>
      client.prepare(config({ studies: [{ name: 'RSI' }, { name: 'RSI', input: { period: 'x' } }] })),
    );
    expect(badInput.details).toMatchObject([{ field: 'studies.1.input.period' }]);

    const drawing = await failure(() =>
      client.prepare(config({ drawings: [{ name: 'Smiley', input: {} }] })),
    );
    expect(drawing.details).toMatchObject([{ field: 'drawings.0.name' }]);
    expect(drawing.message).toContain('Callout');

    expect((await failure(() => client.prepare(config({ format: 'svg' })))).details).toMatchObject([
      { field: 'format' },
    ]);

    const basic = new ChartImgClient({ apiKey: 'k', plan: 'BASIC' });
    const size = await failure(() => basic.prepare(config({ width: 1200, height: 675 })));
    expect(size.code).toBe('VALIDATION_ERROR');
    expect(size.message).toContain('Exceed Max Usage Resolution Limit (800x600)');
    const params = await failure(() =>
      basic.prepare(
        config({ studies: [{ name: 'RSI' }, { name: 'MACD' }, { name: 'Volume' }, { name: 'VWAP' }] }),
      ),
    );
    expect(params.message).toContain('Exceed Max Usage Parameter Limit (3)');
    expect(params.details).toMatchObject([{ field: 'studies' }]);
  });
});

describe('ChartImgClient against a server answering like chart-img.com', () => {
  let fake: FakeChartImg;
  beforeAll(async () => {
    fake = await startFakeChartImg({ apiKey: 'good-key', plan: 'BASIC' });
  });
  afterAll(() => fake.close());

  const make = (over: Partial<ConstructorParameters<typeof ChartImgClient>[0]> = {}) =>
    new ChartImgClient({ apiKey: 'good-key', baseUrl: fake.url, plan: 'BASIC', ...over });

  it('stores a chart and returns its CDN link and expiry, sending the key and the translated body', async () => {
    fake.requests.length = 0;
    const client = make();
    const stored = await client.store(
      client.prepare(config({ studies: [{ name: 'Relative Strength Index', input: { period: 14 } }] })),
    );
    expect(stored.url).toMatch(/^https:\/\/r2\.chart-img\.com\/.+\.png$/);
    expect(stored.expiresAt!.getTime() - Date.now()).toBeGreaterThan(13 * 86_400_000);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({
      path: '/v2/tradingview/advanced-chart/storage',
      apiKey: 'good-key',
      body: { studies: [{ name: 'Relative Strength Index', input: { length: 14 } }] },
    });
  });

  it('maps its error answers to clear API errors', async () => {
    await new Promise((r) => setTimeout(r, 1_100));
    const body = make().prepare(config());
    const cases: [number, unknown, string, RegExp][] = [
      [401, { message: 'Invalid Request' }, 'UPSTREAM_ERROR', /Invalid Request/],
      [403, { message: 'Forbidden' }, 'UPSTREAM_ERROR', /Forbidden/],
      [409, { message: 'Session Disconnected' }, 'UPSTREAM_ERROR', /Session Disconnected/],
      [500, { message: 'Something Went Wrong' }, 'UPSTREAM_ERROR', /Something Went Wrong/],
      [504, { message: 'External Request Timeout' }, 'TIMEOUT', /External Request Timeout/],
      [429, { message: 'Too Many Requests' }, 'RATE_LIMIT_EXCEEDED', /Too Many Requests/],
      // The daily cap: said plainly, with when it returns and what works now.
      [429, { message: 'Limit Exceeded' }, 'RATE_LIMIT_EXCEEDED', /3000 charts a day.*00:00 UTC.*"builtin"/],
      [
        422,
        [{ value: 'X', msg: 'Invalid value', param: 'studies[0].name', location: 'body' }],
        'VALIDATION_ERROR',
        /studies\[0\]\.name Invalid value/,
      ],
      [200, '<html>', 'UPSTREAM_ERROR', /unexpected body/],
    ];
    for (const [status, answer, code, message] of cases) {
      // A fresh client per case: a 429 drains its bucket.
      fake.script.push([status, answer]);
      const err = await failure(make({ plan: 'ULTRA', retries: 0 }).store(body));
      expect(err.code, `HTTP ${status}`).toBe(code);
      expect(err.message).toMatch(message);
    }
  });

  it('tries transient answers again (409, 5xx) with backoff, but not mistakes, and gives up after the bound', async () => {
    const body = make().prepare(config());
    fake.requests.length = 0;
    fake.script.push([500, { message: 'Something Went Wrong' }], [409, { message: 'Session Disconnected' }]);
    const stored = await make({ plan: 'ULTRA', retryBaseMs: 20 }).store(body);
    expect(stored.url).toMatch(/^https:\/\/r2\.chart-img\.com\//);
    expect(fake.requests).toHaveLength(3);

    fake.requests.length = 0;
    fake.script.push(
      ...Array.from({ length: 3 }, () => [504, { message: 'External Request Timeout' }] as [number, unknown]),
    );
    const timedOut = await failure(make({ plan: 'ULTRA', retryBaseMs: 20 }).store(body));
    expect(timedOut.code).toBe('TIMEOUT');
    expect(fake.requests).toHaveLength(3);

    fake.requests.length = 0;
    fake.script.push([422, 'Invalid Symbol']);
    const wrong = await failure(make({ plan: 'ULTRA', retryBaseMs: 20 }).store(body));
    expect(wrong.code).toBe('VALIDATION_ERROR');
    expect(fake.requests).toHaveLength(1);
  });

  it('answers its real checks: wrong key, unknown symbol, plan limits enforced by the server', async () => {
    const wrongKey = await failure(make({ apiKey: 'bad', plan: 'ULTRA' }).store(make().prepare(config())));
    expect(wrongKey.code).toBe('UPSTREAM_ERROR');
    expect(wrongKey.message).toContain('CHART_IMG_API_KEY');

    await new Promise((r) => setTimeout(r, 1_100));
    const symbol = await failure(
      make({ plan: 'ULTRA' }).store(make().prepare(config({ symbol: 'NASDAQ:NOPE' }))),
    );
    expect(symbol.code).toBe('VALIDATION_ERROR');
    expect(symbol.details).toMatchObject([{ field: 'symbol', message: 'Invalid Symbol' }]);

    // A client that believes in a bigger plan than the account has: the server's 403 is a 400 for us.
    await new Promise((r) => setTimeout(r, 1_100));
    const ultra = make({ plan: 'ULTRA' });
    const size = await failure(ultra.store(ultra.prepare(config({ width: 1920, height: 1080 }))));
    expect(size.code).toBe('VALIDATION_ERROR');
    expect(size.message).toContain('Exceed Max Usage Resolution Limit (800x600)');
  });

  it('keeps to the plan rate client-side: a burst is spread out instead of hitting 429', async () => {
    await new Promise((r) => setTimeout(r, 3_100));
    fake.requests.length = 0;
    const client = make({ maxQueueMs: 5_000 });
    const body = client.prepare(config());
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: 5 }, () => client.store(body)));
    expect(results).toHaveLength(5);
    // Burst 3, then one a second.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_900);
    expect(fake.requests).toHaveLength(5);

    // With no time to wait, the request is refused without reaching chart-img.com.
    const impatient = make({ maxQueueMs: 0 });
    await Promise.all([impatient.store(body), impatient.store(body), impatient.store(body)]).catch(
      () => undefined,
    );
    const before = fake.requests.length;
    const refused = await failure(impatient.store(body));
    expect(refused.code).toBe('RATE_LIMIT_EXCEEDED');
    expect((refused.details as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(0);
    expect(fake.requests.length).toBe(before);
  });

  it('times out a chart-img.com that does not answer', async () => {
    fake.delayMs = 1_500;
    try {
      const err = await failure(make({ plan: 'ULTRA', timeoutMs: 1_000 }).store(make().prepare(config())));
      expect(err.code).toBe('TIMEOUT');
    } finally {
      fake.delayMs = 0;
    }
  });
});
