import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, Chartwright, ConnectionError, isApiError } from '../src/index.js';
import type { AnalysisProgress } from '../src/types.js';
import { type EmbeddedApp, startEmbeddedApp } from './support/embedded.js';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];
const CHART = { symbol: 'BINANCE:BTCUSDT', interval: '4h' } as const;

/** What went over the wire: the real fetch, with each request's method, URL, headers and status noted. */
function recordingFetch(fault?: (url: string, attempt: number) => 'drop-answer' | 'refuse' | undefined) {
  const calls: { method: string; url: string; headers: Headers; status?: number }[] = [];
  const fetcher: typeof fetch = async (input, init) => {
    const url = String(input);
    const call = { method: init?.method ?? 'GET', url, headers: new Headers(init?.headers) };
    calls.push(call);
    const what = fault?.(url, calls.filter((c) => c.url === url).length);
    if (what === 'refuse') throw new TypeError('fetch failed (refused by the test)');
    const res = await fetch(input, init);
    Object.assign(call, { status: res.status });
    if (what === 'drop-answer') {
      await res.arrayBuffer();
      throw new TypeError('fetch failed (the answer was lost on the way back)');
    }
    return res;
  };
  return { calls, fetcher };
}

describe('@chartwright/sdk against the embedded app [postgres] [jetstream] [redis]', () => {
  let app: EmbeddedApp;
  beforeAll(async () => {
    app = await startEmbeddedApp({ RATE_LIMIT_FREE_PER_MIN: '1000' });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
  });

  it('signs up, logs in, creates an API key and calls with either credential', async () => {
    const anonymous = new Chartwright({ baseUrl: app.url });
    const email = `sdk-${Date.now()}@example.com`;
    const session = await anonymous.auth.signup({ email, password: 'long enough password' });
    if (!('user' in session)) throw new Error('signup asked for verification');
    expect(session.user.email).toBe(email);
    const login = await anonymous.auth.login({ email, password: 'long enough password' });
    const byToken = anonymous.withCredentials({ token: login.token });
    expect((await byToken.user.get()).id).toBe(session.user.id);

    const key = await byToken.apiKeys.create('sdk test');
    expect(key.key).toMatch(/^cw_/);
    const byKey = new Chartwright({ baseUrl: app.url, apiKey: key.key });
    expect((await byKey.user.get()).id).toBe(session.user.id);
    expect((await byToken.apiKeys.list()).map((k) => k.id)).toContain(key.id);

    const err = await anonymous.user.get().catch((e) => e);
    expect(isApiError(err, 'UNAUTHORIZED')).toBe(true);
    expect(err.status).toBe(401);
  });

  it('generates, lists page by page, reads, and downloads the image and the signed link', async () => {
    const { client } = await app.user();
    const made = [];
    for (let i = 0; i < 3; i++)
      made.push(
        await client.charts.generate({
          ...CHART,
          studies: [{ name: 'Relative Strength Index', input: { period: 14 } }],
        }),
      );
    const { calls, fetcher } = recordingFetch();
    const paged = new Chartwright({ ...client.transport.options, fetch: fetcher });
    const seen = [];
    for await (const chart of paged.charts.iterate({ limit: 1 })) seen.push(chart.id);
    expect(seen.sort()).toEqual(made.map((c) => c.chartId).sort());
    // One request a page, and one more that is empty is not needed: `hasMore` ends it.
    expect(calls.filter((c) => c.url.includes('/v1/charts?'))).toHaveLength(3);

    const detail = await client.charts.get(made[0]!.chartId);
    expect(detail.chart.id).toBe(made[0]!.chartId);
    const image = await client.charts.image(made[0]!.chartId);
    expect(image.contentType).toBe('image/png');
    expect([...image.bytes.slice(0, 4)]).toEqual(PNG_MAGIC);
    const signed = await new Chartwright({ baseUrl: app.url }).files.download(made[0]!.url);
    expect(signed.bytes).toEqual(image.bytes);
  });

  it('sends an Idempotency-Key on POSTs and keeps it on a retry, so a lost answer is not charged twice', async () => {
    const user = await app.user();
    const { calls, fetcher } = recordingFetch((url, attempt) =>
      url.endsWith('/v1/charts/generate') && attempt === 1 ? 'drop-answer' : undefined,
    );
    const client = new Chartwright({ baseUrl: app.url, token: user.token, fetch: fetcher });
    const chart = await client.charts.generate(CHART);
    const posts = calls.filter((c) => c.url.endsWith('/v1/charts/generate'));
    expect(posts.map((c) => c.status)).toEqual([201, 201]);
    const keys = posts.map((c) => c.headers.get('idempotency-key'));
    expect(keys[0]).toMatch(/^sdk-[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    // The server carried the first out and replayed it: one chart, one unit of quota.
    const list = await user.client.charts.list();
    expect(list.charts.map((c) => c.id)).toEqual([chart.chartId]);
    expect((await user.client.user.quota()).quota.charts.used).toBe(1);

    // A new call gets a new key.
    await client.charts.generate(CHART);
    const last = calls.filter((c) => c.url.endsWith('/v1/charts/generate')).at(-1)!;
    expect(last.headers.get('idempotency-key')).not.toBe(keys[0]);
  });

  it('retries a 429 after its Retry-After, and throws it at once when Retry-After is past the cap', async () => {
    const user = await app.user();
    const redis = new Redis(app.env.REDIS_URL!);
    try {
      // The user's generation window, full for 1.5 s more: the real limiter answers 429, Retry-After: 2.
      const key = `${app.env.REDIS_KEY_PREFIX}rl:generate:${user.id}`;
      await redis.set(key, '100000', 'PX', 1500);
      const { calls, fetcher } = recordingFetch();
      const client = new Chartwright({ baseUrl: app.url, token: user.token, fetch: fetcher });
      const started = Date.now();
      const chart = await client.charts.generate(CHART);
      const waited = Date.now() - started;
      expect(chart.chartId).toBeTruthy();
      const posts = calls.filter((c) => c.url.endsWith('/v1/charts/generate'));
      expect(posts.map((c) => c.status)).toEqual([429, 201]);
      expect(waited).toBeGreaterThanOrEqual(2000);
      expect(waited).toBeLessThan(8000);

      await redis.set(key, '100000', 'PX', 50_000);
      const capped = new Chartwright({ baseUrl: app.url, token: user.token, maxRetryDelayMs: 5_000 });
      const t0 = Date.now();
      const err = await capped.charts.generate(CHART).catch((e) => e);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(err).toBeInstanceOf(ApiError);
      expect(err.code).toBe('RATE_LIMIT_EXCEEDED');
      expect(err.status).toBe(429);
      expect(err.retryAfter).toBeGreaterThan(5);
      await redis.del(key);
    } finally {
      redis.disconnect();
    }
  });

  it('analyze() follows the event stream, and polls Location when the stream cannot be used', async () => {
    const { client, token } = await app.user();
    const chart = await client.charts.generate(CHART);
    const steps: AnalysisProgress['status'][] = [];
    const analysis = await client.analyses.analyze(
      chart.chartId,
      {},
      { onProgress: (s) => steps.push(s.status) },
    );
    expect(analysis.status).toBe('completed');
    expect(analysis.chartId).toBe(chart.chartId);
    expect(analysis.recommendation).toMatch(/LONG|SHORT|NEUTRAL/);
    expect(steps[0]).toBe('queued');
    expect(steps.at(-1)).toBe('completed');

    // A proxy that breaks event streams: the same call finishes by polling.
    const { calls, fetcher } = recordingFetch((url) => (url.endsWith('/events') ? 'refuse' : undefined));
    const broken = new Chartwright({ baseUrl: app.url, token, fetch: fetcher, maxRetries: 0 });
    const polled = await broken.analyses.analyze(chart.chartId, {}, { pollIntervalMs: 100 });
    expect(polled.status).toBe('completed');
    expect(polled.id).not.toBe(analysis.id);
    expect(calls.some((c) => c.url.endsWith('/events'))).toBe(true);
    expect(calls.filter((c) => c.url.endsWith(`/v1/analyses/${polled.id}`)).length).toBeGreaterThan(0);

    const ids = [];
    for await (const a of client.analyses.iterate({ limit: 1 })) ids.push(a.id);
    expect(ids.sort()).toEqual([analysis.id, polled.id].sort());
  });

  it('multiTimeframe.analyze() starts a run and polls it to its confluence; get, list and iterate read it', async () => {
    const { client } = await app.user();
    const run = await client.multiTimeframe.analyze(
      { symbol: 'BINANCE:BTCUSDT', intervals: ['1D', '4h'] },
      { pollIntervalMs: 100 },
    );
    expect(run.status).toBe('completed');
    expect(run.items.map((i) => i.interval)).toEqual(['1D', '4h']);
    expect(run.items.every((i) => i.status === 'completed')).toBe(true);
    expect(run.confluence!.agreement).toBeGreaterThanOrEqual(0);
    expect(run.confluence!.agreement).toBeLessThanOrEqual(1);
    expect(await client.multiTimeframe.get(run.id)).toEqual(run);
    expect((await client.multiTimeframe.list()).runs.map((r) => r.id)).toEqual([run.id]);
    const ids = [];
    for await (const r of client.multiTimeframe.iterate({ limit: 1 })) ids.push(r.id);
    expect(ids).toEqual([run.id]);
    const analyses = (await client.analyses.list()).analyses.map((a) => a.id);
    expect(analyses.sort()).toEqual(run.items.map((i) => i.analysisId).sort());
  });

  it('throws typed errors by code: NOT_FOUND, QUOTA_EXCEEDED, VALIDATION_ERROR, and a ConnectionError', async () => {
    const alice = await app.user();
    const bob = await app.user({ plan: 'free' });
    const chart = await alice.client.charts.generate(CHART);

    const notFound = await bob.client.charts.get(chart.chartId).catch((e) => e);
    expect(isApiError(notFound, 'NOT_FOUND')).toBe(true);
    const analyzeOther = await bob.client.analyses.analyze(chart.chartId).catch((e) => e);
    expect(isApiError(analyzeOther, 'NOT_FOUND')).toBe(true);

    const { limit } = (await bob.client.user.quota()).quota.charts;
    expect(limit).toBeGreaterThan(0);
    for (let i = 0; i < (limit ?? 0); i++) await bob.client.charts.generate(CHART);
    const quota = await bob.client.charts.generate(CHART).catch((e) => e);
    expect(quota).toBeInstanceOf(ApiError);
    expect(quota.code).toBe('QUOTA_EXCEEDED');
    expect(quota.status).toBe(402);

    const invalid = await alice.client.charts
      .generate({ symbol: 'not a symbol!', interval: '4h' } as never)
      .catch((e) => e);
    expect(isApiError(invalid, 'VALIDATION_ERROR')).toBe(true);
    expect(invalid.status).toBe(400);

    const nowhere = new Chartwright({ baseUrl: 'http://127.0.0.1:9', maxRetries: 1, maxRetryDelayMs: 50 });
    const down = await nowhere.user.get().catch((e) => e);
    expect(down).toBeInstanceOf(ConnectionError);
    expect(down.request.url).toBe('http://127.0.0.1:9/v1/user');
  });
});
