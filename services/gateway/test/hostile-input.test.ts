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
    h = await startHarness(tb.bus, db, { DATA_DIR: dataDir, RATE_LIMIT_FREE_PER_MIN: '100000' }, [
      startStorageService,
      startChartService,
      startAnalysisService,
    ]);
    token = (await signup(h.app, 'fuzz@example.com')).token;
  });
  afterAll(async () => {
    await h?.close();
    await rm(dataDir, { recursive: true, force: true });
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
