import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startChartService } from '@chartwright/chart-service';
import { eventually, type TestBus, type TestDatabase, testEngines } from '@chartwright/kit/testing';
import { startStorageService } from '@chartwright/storage-service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type Harness, signup, startHarness } from './harness.js';

const { pairs } = await testEngines(afterAll);

const PUBLIC_URL = 'https://api.chartwright.test';
const PNG = Buffer.from('89504e470d0a1a0a', 'hex');
const chart = {
  symbol: 'BINANCE:BTCUSDT',
  interval: '4h',
  range: '7D',
  theme: 'dark',
  width: 800,
  height: 450,
  studies: [
    { name: 'Relative Strength Index', input: { period: 14 } },
    { name: 'Bollinger Bands', input: { period: 20, stddev: 2 } },
  ],
  drawings: [
    {
      name: 'Horizontal Line',
      input: { price: 107418 },
      override: { linecolor: '#f23645', text: 'Resistance' },
    },
  ],
};

describe.each(pairs)('chart endpoints [%s]', (_name, db: TestDatabase, tb: TestBus) => {
  let h: Harness;
  let dataDir: string;
  let admin: string;

  type Call = { method: 'GET' | 'POST' | 'DELETE'; url: string; payload?: unknown; token?: string };
  const call = ({ method, url, payload, token }: Call) =>
    h.app.inject({
      method,
      url,
      payload: payload as never,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  /** A signed link's path and query, as a client without a token requests it. */
  const local = (link: string) => {
    const u = new URL(link);
    expect(u.origin).toBe(PUBLIC_URL);
    return u.pathname + u.search;
  };
  const user = async (email: string, plan: 'free' | 'pro' = 'pro') => {
    const u = await signup(h.app, email);
    if (plan !== 'free') {
      const res = await h.app.inject({
        method: 'PATCH',
        url: `/v1/admin/users/${u.user.id}/plan`,
        headers: { authorization: `Bearer ${admin}` },
        payload: { plan },
      });
      expect(res.statusCode).toBe(200);
      // quota-service applies it on user.plan_changed.
      await eventually(
        async () =>
          (
            await h.app.inject({
              method: 'GET',
              url: '/v1/user/quota',
              headers: { authorization: `Bearer ${u.token}` },
            })
          ).json().data.plan === plan,
      );
    }
    return u;
  };
  const generate = (token: string, payload: unknown = chart) =>
    call({ method: 'POST', url: '/v1/charts/generate', payload, token });

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'cw-gw-charts-'));
    h = await startHarness(
      tb.bus,
      db,
      {
        DATA_DIR: dataDir,
        SIGNING_SECRET: 'gateway-chart-tests-signing-secret-32-bytes',
        PUBLIC_URL,
        RATE_LIMIT_FREE_PER_MIN: '4',
      },
      [startStorageService, startChartService],
    );
    const login = await h.app.inject({ method: 'POST', url: '/v1/auth/login', payload: ADMIN });
    admin = login.json().data.token;
  });
  afterAll(async () => {
    await h?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('generates, lists, shows, serves the image and signed link, deletes, then answers 404 everywhere', async () => {
    const { token } = await user('flow@example.com');
    const res = await generate(token);
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      success: true,
      data: {
        chartId: expect.any(String),
        url: expect.stringContaining(`${PUBLIC_URL}/v1/files/users/`),
        metadata: {
          format: 'PNG',
          resolution: '800x450',
          generatedAt: expect.any(String),
          expiresAt: expect.any(String),
          renderer: 'builtin',
          synthetic: true,
        },
        quota: { used: 1, limit: 100, remaining: 99 },
        // The line at 107,418 is far above the synthetic prices.
        warnings: [expect.stringContaining('drawing 1 "Horizontal Line" at 107,418.0 is outside the chart')],
      },
    });
    const { chartId, url } = body.data;

    const list = await call({ method: 'GET', url: '/v1/charts?limit=20&symbol=BTCUSDT', token });
    expect(list.statusCode).toBe(200);
    expect(list.json().data).toMatchObject({
      charts: [
        { id: chartId, symbol: 'BINANCE:BTCUSDT', interval: '4h', status: 'stored', analysesCount: 0 },
      ],
      pagination: { total: 1, limit: 20, offset: 0, hasMore: false },
    });

    const detail = await call({ method: 'GET', url: `/v1/charts/${chartId}`, token });
    expect(detail.statusCode).toBe(200);
    expect(detail.json().data).toMatchObject({
      chart: {
        id: chartId,
        range: '7D',
        config: { symbol: 'BINANCE:BTCUSDT', studies: chart.studies, drawings: chart.drawings },
        permanentUrl: `${PUBLIC_URL}/v1/charts/${chartId}/image`,
      },
      // analysis-service is not running here.
      analyses: [],
    });

    const image = await call({ method: 'GET', url: `/v1/charts/${chartId}/image`, token });
    expect(image.statusCode).toBe(200);
    expect(image.headers['content-type']).toBe('image/png');
    expect(image.rawPayload.subarray(0, 8)).toEqual(PNG);
    const signed = await call({ method: 'GET', url: local(url) });
    expect(signed.statusCode).toBe(200);
    expect(signed.rawPayload.equals(image.rawPayload)).toBe(true);

    const del = await call({ method: 'DELETE', url: `/v1/charts/${chartId}`, token });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toEqual({
      success: true,
      data: { id: chartId, deleted: true },
      message: 'Chart deleted successfully',
    });
    for (const after of [
      { method: 'GET', url: `/v1/charts/${chartId}`, token },
      { method: 'GET', url: `/v1/charts/${chartId}/image`, token },
      { method: 'DELETE', url: `/v1/charts/${chartId}`, token },
      { method: 'GET', url: local(url) },
    ] as Call[]) {
      const r = await call(after);
      expect(r.statusCode, `${after.method} ${after.url}`).toBe(404);
      expect(r.json().error.code).toBe('NOT_FOUND');
    }
    expect((await call({ method: 'GET', url: '/v1/charts', token })).json().data.pagination.total).toBe(0);
  });

  it('names the field of every validation error and lists the supported studies', async () => {
    const { token } = await user('valid@example.com');
    const cases: [unknown, string][] = [
      [{ ...chart, symbol: 'BTCUSDT' }, 'symbol'],
      [{ ...chart, interval: '7h' }, 'interval'],
      [{ ...chart, theme: 'blue' }, 'theme'],
      [{ ...chart, width: 5000 }, 'width'],
      [{ ...chart, height: 10 }, 'height'],
      [{ ...chart, studies: [{ input: {} }] }, 'studies.0.name'],
      [{ ...chart, drawings: [{ name: 'Trend Line' }] }, 'drawings.0.input'],
      [{ interval: '1h' }, 'symbol'],
    ];
    for (const [payload, field] of cases) {
      const res = await generate(token, payload);
      expect(res.statusCode, field).toBe(400);
      const err = res.json().error;
      expect(err.code).toBe('VALIDATION_ERROR');
      expect(err.details.map((d: { field: string }) => d.field)).toContain(field);
      expect(err.message).toContain(field);
    }
    const study = await generate(token, { ...chart, studies: [{ name: 'Astrology Bands' }] });
    expect(study.statusCode).toBe(400);
    expect(study.json().error.message).toContain('Supported studies: ');
    expect(study.json().error.message).toContain('Relative Strength Index');
    expect(study.json().error.details[0]).toMatchObject({ field: 'studies.0.name' });
    const drawing = await generate(token, {
      ...chart,
      drawings: [
        {
          name: 'Long Position',
          input: { startDatetime: '2025-01-01', entryPrice: 1, targetPrice: 0.5, stopPrice: 2 },
        },
      ],
    });
    expect(drawing.statusCode).toBe(400);
    expect(drawing.json().error.details[0].field).toMatch(/^drawings\.0\.input/);
    const limit = await call({ method: 'GET', url: '/v1/charts?limit=101', token });
    expect(limit.statusCode).toBe(400);
    expect(limit.json().error.details[0]).toMatchObject({ field: 'limit', in: 'querystring' });
    const status = await call({ method: 'GET', url: '/v1/charts?status=lost', token });
    expect(status.json().error.details[0].field).toBe('status');
    expect((await call({ method: 'GET', url: '/v1/charts/not-a-uuid', token })).statusCode).toBe(400);
    const quota = await call({ method: 'GET', url: '/v1/user/quota', token });
    expect(quota.json().data.quota.charts.used).toBe(0);
  });

  it('answers 402 QUOTA_EXCEEDED past the monthly limit and 429 past the per-minute limit', async () => {
    const free = await user('free@example.com', 'free');
    const small = { symbol: 'BINANCE:ETHUSDT', interval: '1h', width: 400, height: 300 };
    for (let i = 0; i < 4; i++) expect((await generate(free.token, small)).statusCode).toBe(201);
    const limited = await generate(free.token, small);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('RATE_LIMIT_EXCEEDED');
    // Analysis has its own bucket (no analysis-service runs here, so it cannot go further).
    const charts = await call({ method: 'GET', url: '/v1/charts?limit=1', token: free.token });
    const analyse = await call({
      method: 'POST',
      url: `/v1/charts/${charts.json().data.charts[0].id}/analyze`,
      token: free.token,
    });
    expect(analyse.json().error.code).not.toBe('RATE_LIMIT_EXCEEDED');

    // The quota: free has 5 charts; bulk is limited per request, so it reaches the quota.
    const bulkUser = await user('free-bulk@example.com', 'free');
    const bulk = await call({
      method: 'POST',
      url: '/v1/charts/bulk',
      token: bulkUser.token,
      payload: { charts: Array.from({ length: 6 }, () => small) },
    });
    expect(bulk.statusCode).toBe(200);
    expect(bulk.json().data.summary).toEqual({ requested: 6, succeeded: 5, failed: 1 });
    const over = await generate(bulkUser.token, small);
    expect(over.statusCode).toBe(402);
    expect(over.json()).toEqual({
      success: false,
      error: {
        code: 'QUOTA_EXCEEDED',
        message: 'Monthly chart generation limit reached. Upgrade your plan to continue.',
        details: { quota: { used: 5, limit: 5, remaining: 0 } },
      },
    });
  });

  it('saves templates and generates from them with overrides', async () => {
    const { token } = await user('templates@example.com');
    const created = await call({
      method: 'POST',
      url: '/v1/templates',
      token,
      payload: { name: 'BTC 4h', config: chart },
    });
    expect(created.statusCode).toBe(201);
    const template = created.json().data.template;
    expect(template).toMatchObject({
      name: 'BTC 4h',
      config: { symbol: 'BINANCE:BTCUSDT', style: 'candle' },
    });
    const dup = await call({
      method: 'POST',
      url: '/v1/templates',
      token,
      payload: { name: 'BTC 4h', config: chart },
    });
    expect(dup.statusCode).toBe(409);
    // With an Idempotency-Key a retried POST replays the first answer instead of failing.
    const keyed = () =>
      h.app.inject({
        method: 'POST',
        url: '/v1/templates',
        payload: { name: 'ETH 1h', config: { ...chart, symbol: 'BINANCE:ETHUSDT' } },
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'template-eth' },
      });
    const firstTry = await keyed();
    const retried = await keyed();
    expect([firstTry.statusCode, retried.statusCode]).toEqual([201, 201]);
    expect(retried.headers['idempotent-replayed']).toBe('true');
    expect(retried.json()).toEqual(firstTry.json());
    await call({ method: 'DELETE', url: `/v1/templates/${firstTry.json().data.template.id}`, token });
    const invalid = await call({
      method: 'POST',
      url: '/v1/templates',
      token,
      payload: { name: 'bad', config: { ...chart, symbol: 'nope' } },
    });
    expect(invalid.json().error.details[0].field).toBe('config.symbol');

    const list = await call({ method: 'GET', url: '/v1/templates', token });
    expect(list.json().data).toMatchObject({ templates: [{ id: template.id }], pagination: { total: 1 } });
    const one = await call({ method: 'GET', url: `/v1/templates/${template.id}`, token });
    expect(one.json().data.template.id).toBe(template.id);

    const res = await generate(token, { templateId: template.id, symbol: 'BINANCE:ETHUSDT', theme: 'light' });
    expect(res.statusCode).toBe(201);
    const detail = await call({ method: 'GET', url: `/v1/charts/${res.json().data.chartId}`, token });
    expect(detail.json().data.chart.config).toMatchObject({
      symbol: 'BINANCE:ETHUSDT',
      theme: 'light',
      interval: '4h',
      width: 800,
      studies: chart.studies,
    });

    const del = await call({ method: 'DELETE', url: `/v1/templates/${template.id}`, token });
    expect(del.json()).toEqual({
      success: true,
      data: { id: template.id, deleted: true },
      message: 'Template deleted successfully',
    });
    expect((await call({ method: 'GET', url: `/v1/templates/${template.id}`, token })).statusCode).toBe(404);
  });

  it('generates in bulk with a result per item', async () => {
    const { token } = await user('bulk@example.com');
    const small = { symbol: 'BINANCE:BTCUSDT', interval: '1h', width: 400, height: 300 };
    const res = await call({
      method: 'POST',
      url: '/v1/charts/bulk',
      token,
      payload: { charts: [small, { ...small, symbol: 'nope' }, { ...small, theme: 'light' }] },
    });
    expect(res.statusCode).toBe(200);
    const data = res.json().data;
    expect(data.summary).toEqual({ requested: 3, succeeded: 2, failed: 1 });
    expect(data.results[0]).toMatchObject({
      index: 0,
      success: true,
      chart: { metadata: { resolution: '400x300' } },
    });
    expect(data.results[1]).toMatchObject({
      index: 1,
      success: false,
      error: { code: 'VALIDATION_ERROR', details: [{ field: 'symbol' }] },
    });
    expect(data.quota).toEqual({ used: 2, limit: 100, remaining: 98 });
    const tooMany = await call({
      method: 'POST',
      url: '/v1/charts/bulk',
      token,
      payload: { charts: Array.from({ length: 51 }, () => small) },
    });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().error.details[0].field).toBe('charts');
  });

  it('documents the chart and template routes in the OpenAPI document', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const paths = Object.keys(res.json().paths);
    for (const p of [
      '/v1/charts/generate',
      '/v1/charts/bulk',
      '/v1/charts',
      '/v1/charts/{id}',
      '/v1/charts/{id}/image',
      '/v1/templates',
      '/v1/templates/{id}',
    ])
      expect(paths).toContain(p);
    const generate = res.json().paths['/v1/charts/generate'].post;
    expect(Object.keys(generate.requestBody.content['application/json'].schema.properties)).toEqual(
      expect.arrayContaining(['symbol', 'interval', 'studies', 'drawings', 'templateId']),
    );
  });

  it("never shows, serves, analyses or deletes another user's charts, images or templates", async () => {
    const a = await user('owner@example.com');
    const b = await user('intruder@example.com');
    const made = (await generate(a.token)).json().data;
    const template = (
      await call({
        method: 'POST',
        url: '/v1/templates',
        token: a.token,
        payload: { name: 'mine', config: chart },
      })
    ).json().data.template;
    const id = made.chartId;

    for (const c of [
      { method: 'GET', url: `/v1/charts/${id}` },
      { method: 'GET', url: `/v1/charts/${id}/image` },
      { method: 'DELETE', url: `/v1/charts/${id}` },
      { method: 'GET', url: `/v1/templates/${template.id}` },
      { method: 'DELETE', url: `/v1/templates/${template.id}` },
      { method: 'POST', url: '/v1/charts/generate', payload: { templateId: template.id } },
    ] as Call[]) {
      const r = await call({ ...c, token: b.token });
      expect(r.statusCode, `${c.method} ${c.url}`).toBe(404);
      expect(r.json().error.code).toBe('NOT_FOUND');
    }
    const bulk = await call({
      method: 'POST',
      url: '/v1/charts/bulk',
      token: b.token,
      payload: { charts: [{ templateId: template.id }] },
    });
    expect(bulk.json().data.results[0]).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
    const lists = await Promise.all([
      call({ method: 'GET', url: '/v1/charts', token: b.token }),
      call({ method: 'GET', url: '/v1/charts?symbol=BTC', token: b.token }),
      call({ method: 'GET', url: '/v1/templates', token: b.token }),
    ]);
    expect(lists.map((l) => l.json().data.pagination.total)).toEqual([0, 0, 0]);
    // Without a token nothing is served; the signed link is the only way in.
    for (const c of [
      { method: 'GET', url: `/v1/charts/${id}` },
      { method: 'GET', url: `/v1/charts/${id}/image` },
      { method: 'GET', url: '/v1/charts' },
      { method: 'POST', url: '/v1/charts/generate', payload: chart },
      { method: 'GET', url: '/v1/templates' },
    ] as Call[]) {
      expect((await call(c)).statusCode, `${c.method} ${c.url}`).toBe(401);
    }
    // The owner still has everything, and nothing of b's quota was used.
    expect((await call({ method: 'GET', url: `/v1/charts/${id}/image`, token: a.token })).statusCode).toBe(
      200,
    );
    expect(
      (await call({ method: 'GET', url: `/v1/templates/${template.id}`, token: a.token })).statusCode,
    ).toBe(200);
    const quota = await eventually(async () => {
      const q = (await call({ method: 'GET', url: '/v1/user/quota', token: b.token })).json();
      return q.success ? q.data.quota.charts : null;
    });
    expect(quota.used).toBe(0);
  });
});
