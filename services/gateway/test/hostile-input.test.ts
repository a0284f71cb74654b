import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startAnalysisService } from '@chartwright/analysis-service';
import { startChartService } from '@chartwright/chart-service';
import { testEngines } from '@chartwright/kit/testing';
import { startStorageService } from '@chartwright/storage-service';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, signup, startHarness } from './harness.js';

// Property-based: generated malformed and hostile bodies, headers and paths get 4xx answers in
// the error envelope, never a 5xx, and the service keeps serving afterwards.
const { buses, databases } = await testEngines(afterAll);
const db = databases[0]!;
const tb = buses[0]!;

const ENDPOINTS: { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string }[] = [
  { method: 'POST', url: '/v1/auth/signup' },
  { method: 'POST', url: '/v1/auth/login' },
  { method: 'GET', url: '/v1/user' },
  { method: 'GET', url: '/v1/user/quota' },
  { method: 'GET', url: '/v1/user/usage' },
  { method: 'POST', url: '/v1/api-keys' },
  { method: 'GET', url: '/v1/api-keys' },
  { method: 'DELETE', url: '/v1/api-keys/:id' },
  { method: 'PATCH', url: '/v1/admin/users/:id/plan' },
  { method: 'POST', url: '/v1/charts/generate' },
  { method: 'POST', url: '/v1/charts/bulk' },
  { method: 'GET', url: '/v1/charts' },
  { method: 'GET', url: '/v1/charts/:id' },
  { method: 'DELETE', url: '/v1/charts/:id' },
  { method: 'GET', url: '/v1/charts/:id/image' },
  { method: 'POST', url: '/v1/charts/:id/analyze' },
  { method: 'POST', url: '/v1/templates' },
  { method: 'GET', url: '/v1/templates' },
  { method: 'GET', url: '/v1/templates/:id' },
  { method: 'DELETE', url: '/v1/templates/:id' },
  { method: 'GET', url: '/v1/analyses' },
  { method: 'GET', url: '/v1/analyses/:id' },
  { method: 'GET', url: '/v1/analyses/:id/events' },
  { method: 'POST', url: '/v1/analyses/multi-timeframe' },
  { method: 'GET', url: '/v1/analyses/multi-timeframe' },
  { method: 'GET', url: '/v1/analyses/multi-timeframe/:id' },
  { method: 'POST', url: '/v1/backtests' },
  { method: 'GET', url: '/v1/backtests' },
  { method: 'GET', url: '/v1/backtests/:id' },
  { method: 'DELETE', url: '/v1/backtests/:id' },
  { method: 'POST', url: '/v1/backtests/:id/cancel' },
  { method: 'GET', url: '/v1/backtests/:id/equity' },
  { method: 'GET', url: '/v1/files/users/:id/charts/x.png' },
];

const hostileString = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.constantFrom(
    "' OR 1=1 --",
    '"; drop table gateway.users; --',
    '../../etc/passwd',
    '%00',
    '\u0000',
    '<script>alert(1)</script>',
    '$' + '{jndi:ldap://x}',
    '__proto__',
    'constructor',
    'x'.repeat(5000),
    '😀'.repeat(100),
  ),
);
const jsonValue = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record({ email: hostileString, password: hostileString, name: fc.option(hostileString) }),
  fc.record({ name: fc.oneof(hostileString, fc.integer(), fc.constant(null)) }),
  fc.record({ plan: fc.oneof(hostileString, fc.constantFrom('free', 'pro', 'enterprise')) }),
  fc.constant({ __proto__: { admin: true } }),
  // Chart configs, almost valid: the fields that exist, with hostile or out-of-range values.
  fc.record(
    {
      symbol: fc.oneof(hostileString, fc.constantFrom('BINANCE:BTCUSDT', 'X:Y', 'BINANCE:')),
      interval: fc.oneof(hostileString, fc.constantFrom('1h', '4h', '1D', '7x')),
      range: fc.oneof(hostileString, fc.constantFrom('7D', '1M')),
      theme: fc.oneof(hostileString, fc.constantFrom('dark', 'light')),
      width: fc.oneof(fc.integer(), fc.double(), hostileString),
      height: fc.oneof(fc.integer(), fc.double(), hostileString),
      studies: fc.array(
        fc.record({
          name: fc.oneof(hostileString, fc.constantFrom('Relative Strength Index', 'MACD')),
          input: fc.jsonValue({ maxDepth: 2 }),
        }),
        { maxLength: 30 },
      ),
      drawings: fc.array(
        fc.record({
          name: fc.oneof(hostileString, fc.constantFrom('Horizontal Line', 'Trend Line', 'Text')),
          input: fc.jsonValue({ maxDepth: 2 }),
          override: fc.jsonValue({ maxDepth: 2 }),
        }),
        { maxLength: 5 },
      ),
      templateId: fc.oneof(fc.uuid(), hostileString),
      charts: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 60 }),
      options: fc.jsonValue({ maxDepth: 2 }),
      prompt: hostileString,
    },
    { requiredKeys: [] },
  ),
);
const rawBody = fc.oneof(
  jsonValue.map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 500 }),
  fc.constantFrom('{', '[', 'null', '{"a":', '\u0000\u0001', '{"email": "a@b.c", "password": {"$gt": ""}}'),
);

describe('hostile input on every gateway endpoint', () => {
  let h: Harness;
  let dataDir: string;
  let token: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'cw-gw-hostile-'));
    const env = { DATA_DIR: dataDir, RATE_LIMIT_FREE_PER_MIN: '100000', BODY_LIMIT_BYTES: '65536' };
    h = await startHarness(tb.bus, db, env, [startStorageService, startChartService, startAnalysisService]);
    token = (await signup(h.app, 'fuzz@example.com')).token;
  });
  afterAll(async () => {
    await h?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses text the database cannot store (NUL, unpaired surrogates) with 400 naming the field', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const chart = { symbol: 'BINANCE:BTCUSDT', interval: '1h' };
    const cases: [string, string, unknown, string, string][] = [
      [
        'POST',
        '/v1/auth/signup',
        { email: 'nul@example.com', password: 'long enough pw', name: 'a\u0000' },
        'body',
        'name',
      ],
      ['POST', '/v1/api-keys', { name: 'key\u0000' }, 'body', 'name'],
      ['POST', '/v1/templates', { name: '\ud800x', config: chart }, 'body', 'name'],
      [
        'POST',
        '/v1/charts/generate',
        { ...chart, studies: [{ name: 'Relative Strength Index', input: { source: 'close\u0000' } }] },
        'body',
        'studies.0.input.source',
      ],
      [
        'POST',
        '/v1/charts/generate',
        {
          ...chart,
          drawings: [{ name: 'Horizontal Line', input: { price: 1 }, override: { 'a\u0000': 1 } }],
        },
        'body',
        'drawings.0.override.a\u0000',
      ],
      [
        'POST',
        `/v1/charts/${'0'.repeat(8)}-0000-7000-8000-${'0'.repeat(12)}/analyze`,
        { prompt: 'x\udc00' },
        'body',
        'prompt',
      ],
      [
        'POST',
        '/v1/analyses/multi-timeframe',
        { symbol: 'BINANCE:BTCUSDT', intervals: ['1h', '4h'], prompt: 'x\u0000' },
        'body',
        'prompt',
      ],
      [
        'POST',
        '/v1/backtests',
        {
          symbol: 'BINANCE:BTCUSDT',
          interval: '1h',
          from: '2020-01-01T00:00:00Z',
          to: '2020-02-01T00:00:00Z',
          step: 24,
          analyst: 'builtin',
          prompt: 'x\u0000',
        },
        'body',
        'prompt',
      ],
      ['GET', '/v1/charts?symbol=a%00b', undefined, 'querystring', 'symbol'],
    ];
    for (const [method, url, payload, where, field] of cases) {
      const res = await h.app.inject({
        method: method as 'GET',
        url,
        headers: auth,
        payload: payload as object,
      });
      expect(res.statusCode, `${method} ${url} -> ${res.body}`).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'VALIDATION_ERROR', details: [{ field, in: where }] });
    }
    const ok = await h.app.inject({ method: 'GET', url: '/v1/charts?symbol=%F0%9F%93%88', headers: auth });
    expect(ok.statusCode).toBe(200);
    // Deep nesting (allowed by free-form fields such as a drawing's override) is refused, not walked.
    const deep = `${'{"a":'.repeat(2_000)}"x"${'}'.repeat(2_000)}`;
    const nested = await h.app.inject({
      method: 'POST',
      url: '/v1/charts/generate',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: `{"symbol":"BINANCE:BTCUSDT","interval":"1h","drawings":[{"name":"Horizontal Line","input":{"price":1},"override":${deep}}]}`,
    });
    expect(nested.statusCode).toBe(400);
    expect(nested.json().error.message).toMatch(/nested more than 64 levels/);
  });

  it('keeps to BODY_LIMIT_BYTES, takes JSON only, and reads a missing body as {}', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const big = { symbol: 'BINANCE:BTCUSDT', interval: '1h', note: 'x'.repeat(70_000) };
    const tooBig = await h.app.inject({
      method: 'POST',
      url: '/v1/charts/generate',
      headers: auth,
      payload: big,
    });
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    const text = await h.app.inject({
      method: 'POST',
      url: '/v1/charts/generate',
      headers: { ...auth, 'content-type': 'text/plain' },
      payload: 'symbol=BINANCE:BTCUSDT',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');

    const generated = await h.app.inject({
      method: 'POST',
      url: '/v1/charts/generate',
      headers: auth,
      payload: { symbol: 'BINANCE:BTCUSDT', interval: '1h', width: 400, height: 300 },
    });
    expect(generated.statusCode).toBe(201);
    const chartId = generated.json().data.chartId as string;
    // Everything in an analysis request is optional: no body, or an empty JSON one, is the defaults.
    for (const headers of [auth, { ...auth, 'content-type': 'application/json' }]) {
      const res = await h.app.inject({
        method: 'POST',
        url: `/v1/charts/${chartId}/analyze?wait=0`,
        headers,
      });
      expect(res.statusCode, res.body).toBe(202);
    }
    const empty = await h.app.inject({
      method: 'POST',
      url: '/v1/charts/generate',
      headers: { ...auth, 'content-type': 'application/json' },
    });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error.code).toBe('VALIDATION_ERROR');
  });

  it('answers thousands of generated requests with 4xx (never 5xx) in the error envelope', async () => {
    let count = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ENDPOINTS),
        rawBody,
        fc.record({
          auth: fc.oneof(
            fc.constant(undefined),
            fc.constant(`Bearer ${token}`),
            hostileString.map((s) => `Bearer ${s}`),
            hostileString,
          ),
          apiKey: fc.option(
            fc.oneof(
              hostileString,
              hostileString.map((s) => `cw_live_${s}`),
            ),
            { nil: undefined },
          ),
          contentType: fc.constantFrom(
            'application/json',
            'text/plain',
            'application/x-www-form-urlencoded',
            'multipart/form-data; boundary=x',
            'application/json; charset=utf-16',
            '',
          ),
          idempotencyKey: fc.option(hostileString, { nil: undefined }),
        }),
        fc.oneof(
          fc.uuid(),
          hostileString.map((s) => encodeURIComponent(s)),
          fc.constant('%E0%A4%A'),
          fc.constant('..%2F..%2F'),
        ),
        fc
          .string({ maxLength: 100 })
          .map(
            (s) =>
              `?from=${encodeURIComponent(s)}&to=${encodeURIComponent(s)}&limit=${encodeURIComponent(s)}&offset=${encodeURIComponent(s)}&symbol=${encodeURIComponent(s)}&status=${encodeURIComponent(s)}&chartId=${encodeURIComponent(s)}&wait=${encodeURIComponent(s)}`,
          ),
        async (ep, body, hdr, id, query) => {
          count++;
          const headers: Record<string, string> = {};
          if (hdr.auth !== undefined) headers.authorization = hdr.auth.replace(/[^\x20-\x7e]/g, '');
          if (hdr.apiKey !== undefined) headers['x-api-key'] = hdr.apiKey.replace(/[^\x20-\x7e]/g, '');
          if (hdr.contentType) headers['content-type'] = hdr.contentType;
          if (hdr.idempotencyKey !== undefined)
            headers['idempotency-key'] = hdr.idempotencyKey.replace(/[^\x20-\x7e]/g, '');
          const res = await h.app.inject({
            method: ep.method,
            url:
              ep.url.replace(':id', id) + (ep.method === 'GET' || ep.url.endsWith('/analyze') ? query : ''),
            headers,
            payload: ep.method === 'GET' || ep.method === 'DELETE' ? undefined : body,
          });
          expect(res.statusCode, `${ep.method} ${ep.url} -> ${res.body}`).toBeLessThan(500);
          if (res.statusCode >= 400) {
            const json = res.json();
            expect(json.success).toBe(false);
            expect(typeof json.error.code).toBe('string');
            expect(typeof json.error.message).toBe('string');
          }
        },
      ),
      { numRuns: 2_500, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    expect(count).toBeGreaterThanOrEqual(2_500);
    const alive = await h.app.inject({
      method: 'GET',
      url: '/v1/user',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(alive.statusCode).toBe(200);
  }, 300_000);
});
