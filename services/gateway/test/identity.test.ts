import { createHmac } from 'node:crypto';
import { createLogger } from '@chartwright/kit';
import { eventually, type TestBus, type TestDatabase, testEngines } from '@chartwright/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '../src/index.js';
import { ADMIN, type Harness, SECRET, signup, startHarness } from './harness.js';

const { pairs } = await testEngines(afterAll);

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const hs256 = (payload: object, secret = SECRET, header: object = { alg: 'HS256', typ: 'JWT' }) => {
  const unsigned = `${b64(header)}.${b64(payload)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
};

describe.each(pairs)('identity and access [%s]', (_name, db: TestDatabase, tb: TestBus) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(tb.bus, db);
  });
  afterAll(async () => h?.close());

  it('signs up, normalises emails, refuses duplicates and answers login failures alike', async () => {
    const { user, token } = await signup(h.app, '  Mixed.Case@Example.COM ');
    expect(user.email).toBe('mixed.case@example.com');
    const dup = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/signup',
      payload: { email: 'mixed.case@example.com', password: 'another password' },
    });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('CONFLICT');
    const me = await h.app.inject({
      method: 'GET',
      url: '/v1/user',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(me.json().data.user).toMatchObject({
      email: 'mixed.case@example.com',
      plan: 'free',
      role: 'user',
    });
    expect(JSON.stringify(me.json())).not.toContain('password');

    const wrongPw = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'mixed.case@example.com', password: 'wrong password' },
    });
    const noUser = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'nobody@example.com', password: 'wrong password' },
    });
    expect(wrongPw.statusCode).toBe(401);
    expect(noUser.statusCode).toBe(401);
    expect(wrongPw.json()).toEqual(noUser.json());
    const ok = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: 'MIXED.case@example.com', password: 'a long password' },
    });
    expect(ok.statusCode).toBe(200);
    expect(Date.parse(ok.json().data.expiresAt) - Date.now()).toBeGreaterThan(6 * 86_400_000);
  });

  it('rejects a JWT with alg none, a wrong signature, or past its expiry with 401', async () => {
    const { user } = await signup(h.app, 'jwt@example.com');
    const now = Math.floor(Date.now() / 1000);
    const good = hs256({ sub: user.id, role: 'user', iat: now, exp: now + 60 });
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: user.id, role: 'admin', iat: now, exp: now + 60 })}.`;
    const wrongSig = hs256(
      { sub: user.id, role: 'user', iat: now, exp: now + 60 },
      'another-secret-that-is-32-bytes-long!!',
    );
    const expired = hs256({ sub: user.id, role: 'user', iat: now - 120, exp: now - 60 });
    // Correctly signed, but it would never end.
    const endless = hs256({ sub: user.id, role: 'user', iat: now });
    const get = (t: string) =>
      h.app.inject({ method: 'GET', url: '/v1/user', headers: { authorization: `Bearer ${t}` } });
    expect((await get(good)).statusCode).toBe(200);
    for (const t of [none, wrongSig, expired, endless, 'garbage', `${good}x`]) {
      const res = await get(t);
      expect(res.statusCode, t).toBe(401);
      expect(res.json().error.code).toBe('INVALID_TOKEN');
    }
    expect((await get(expired)).json().error.message).toBe('token expired');
    expect((await get(endless)).json().error.message).toMatch(/no expiry/);
    const missing = await h.app.inject({ method: 'GET', url: '/v1/user' });
    expect(missing.statusCode).toBe(401);
    expect(missing.json().error.code).toBe('UNAUTHORIZED');
  });

  it('keeps API keys to their owner and revokes them at once', async () => {
    const a = await signup(h.app, 'keys-a@example.com');
    const b = await signup(h.app, 'keys-b@example.com');
    const created = await h.app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: { authorization: `Bearer ${a.token}` },
      payload: { name: 'bot' },
    });
    expect(created.statusCode).toBe(201);
    const key = created.json().data.apiKey;
    expect(key.key).toMatch(/^cw_live_[A-Za-z0-9_-]{32}$/);
    expect(key.key.startsWith(key.prefix)).toBe(true);

    const viaKey = await h.app.inject({ method: 'GET', url: '/v1/user', headers: { 'x-api-key': key.key } });
    expect(viaKey.json().data.user.id).toBe(a.user.id);
    const listA = await h.app.inject({
      method: 'GET',
      url: '/v1/api-keys',
      headers: { authorization: `Bearer ${a.token}` },
    });
    expect(listA.json().data.apiKeys).toHaveLength(1);
    expect(JSON.stringify(listA.json())).not.toContain(key.key);
    const listB = await h.app.inject({
      method: 'GET',
      url: '/v1/api-keys',
      headers: { authorization: `Bearer ${b.token}` },
    });
    expect(listB.json().data.apiKeys).toEqual([]);
    const stealB = await h.app.inject({
      method: 'DELETE',
      url: `/v1/api-keys/${key.id}`,
      headers: { authorization: `Bearer ${b.token}` },
    });
    expect(stealB.statusCode).toBe(404);
    expect(
      (await h.app.inject({ method: 'GET', url: '/v1/user', headers: { 'x-api-key': key.key } })).statusCode,
    ).toBe(200);

    // A key cannot manage keys: one that leaks cannot mint another that outlives its revocation.
    for (const [method, url] of [
      ['POST', '/v1/api-keys'],
      ['GET', '/v1/api-keys'],
      ['DELETE', `/v1/api-keys/${key.id}`],
    ] as const) {
      const viaKeyManage = await h.app.inject({
        method,
        url,
        headers: { 'x-api-key': key.key },
        payload: method === 'POST' ? { name: 'more' } : undefined,
      });
      expect(viaKeyManage.statusCode, `${method} ${url}`).toBe(403);
    }

    const revoke = await h.app.inject({
      method: 'DELETE',
      url: `/v1/api-keys/${key.id}`,
      headers: { authorization: `Bearer ${a.token}` },
    });
    expect(revoke.statusCode).toBe(200);
    expect(revoke.json()).toMatchObject({ success: true, data: { id: key.id, deleted: true } });
    const after = await h.app.inject({ method: 'GET', url: '/v1/user', headers: { 'x-api-key': key.key } });
    expect(after.statusCode).toBe(401);
    expect(
      (await h.app.inject({ method: 'GET', url: '/v1/user', headers: { 'x-api-key': 'cw_live_forged' } }))
        .statusCode,
    ).toBe(401);
  });

  it('tells another gateway of a revoked key and a changed plan by event (no Redis)', async () => {
    const other = await startHarness(tb.bus, db);
    try {
      const u = await signup(h.app, 'replica@example.com');
      const created = await h.app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers: { authorization: `Bearer ${u.token}` },
        payload: { name: 'bot' },
      });
      const key = created.json().data.apiKey;
      const viaOther = (headers: Record<string, string>) =>
        other.app.inject({ method: 'GET', url: '/v1/user', headers });
      // Cached on the other gateway now.
      expect((await viaOther({ 'x-api-key': key.key })).statusCode).toBe(200);
      expect((await viaOther({ authorization: `Bearer ${u.token}` })).json().data.user.plan).toBe('free');
      // One change at a time: a plan change also drops the user's keys.
      await h.app.inject({
        method: 'DELETE',
        url: `/v1/api-keys/${key.id}`,
        headers: { authorization: `Bearer ${u.token}` },
      });
      await eventually(async () => (await viaOther({ 'x-api-key': key.key })).statusCode === 401);
      const admin = (await h.app.inject({ method: 'POST', url: '/v1/auth/login', payload: ADMIN })).json()
        .data.token;
      await h.app.inject({
        method: 'PATCH',
        url: `/v1/admin/users/${u.user.id}/plan`,
        headers: { authorization: `Bearer ${admin}` },
        payload: { plan: 'pro' },
      });
      await eventually(
        async () => (await viaOther({ authorization: `Bearer ${u.token}` })).json().data.user.plan === 'pro',
      );
    } finally {
      await other.close();
    }
  });

  it('keeps limiting, per process, when Redis does not answer', async () => {
    const noRedis = await startHarness(tb.bus, db, {
      REDIS_URL: 'redis://127.0.0.1:1',
      RATE_LIMIT_GENERAL_PER_MIN: '3',
    });
    try {
      const { token } = await signup(noRedis.app, 'no-redis@example.com');
      const codes = [];
      for (let i = 0; i < 4; i++)
        codes.push(
          (
            await noRedis.app.inject({
              method: 'GET',
              url: '/v1/user',
              headers: { authorization: `Bearer ${token}` },
            })
          ).statusCode,
        );
      expect(codes).toEqual([200, 200, 200, 429]);
    } finally {
      await noRedis.close();
    }
  });

  it('slows down guessing: failed authentications are limited per IP, good ones are not', async () => {
    const strict = await startHarness(tb.bus, db, { RATE_LIMIT_AUTH_PER_MIN: '3' });
    try {
      const { token } = await signup(strict.app, 'guess@example.com');
      const guess = (headers: Record<string, string>) =>
        strict.app.inject({ method: 'GET', url: '/v1/user', headers });
      const answers = [];
      // A made-up X-Forwarded-For does not make another client (TRUST_PROXY is off).
      for (let i = 0; i < 3; i++)
        answers.push(
          await guess({ 'x-api-key': `cw_live_${'x'.repeat(40)}${i}`, 'x-forwarded-for': `198.51.100.${i}` }),
        );
      expect(answers.map((r) => r.statusCode)).toEqual([401, 401, 401]);
      expect(answers[2]!.headers['ratelimit-remaining']).toBe('0');
      const limited = await guess({ authorization: 'Bearer not.a.token' });
      expect(limited.statusCode).toBe(429);
      expect(limited.json().error.code).toBe('RATE_LIMIT_EXCEEDED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // The same address with valid credentials is served.
      expect((await guess({ authorization: `Bearer ${token}` })).statusCode).toBe(200);
    } finally {
      await strict.close();
    }
  });

  it('makes an existing account admin only when it knows ADMIN_PASSWORD', async () => {
    const logger = createLogger('test', 'silent');
    const start = (email: string, password: string) =>
      startGateway({
        bus: tb.bus,
        database: db.target,
        logger,
        env: { JWT_SECRET: SECRET, ADMIN_EMAIL: email, ADMIN_PASSWORD: password },
      });
    const role = async (email: string, password: string) => {
      const login = await h.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email, password },
      });
      const me = await h.app.inject({
        method: 'GET',
        url: '/v1/user',
        headers: { authorization: `Bearer ${login.json().data.token}` },
      });
      return me.json().data.user.role;
    };
    // Somebody signed up with the address before the operator configured it.
    await signup(h.app, 'squatter@example.com', 'the squatter password');
    await (await start('squatter@example.com', 'the operator password')).stop();
    expect(await role('squatter@example.com', 'the squatter password')).toBe('user');
    // The operator's own account, signed up first, is promoted.
    await signup(h.app, 'operator@example.com', 'the operator password');
    await (await start('operator@example.com', 'the operator password')).stop();
    expect(await role('operator@example.com', 'the operator password')).toBe('admin');
  });

  it('creates the configured admin once when several gateways start together', async () => {
    const admin = { email: 'together@example.com', password: 'admin password 456' };
    const env = { JWT_SECRET: SECRET, ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password };
    const logger = createLogger('test', 'silent');
    const started = await Promise.allSettled(
      Array.from({ length: 3 }, () => startGateway({ bus: tb.bus, database: db.target, logger, env })),
    );
    try {
      expect(started.map((s) => (s.status === 'rejected' ? String(s.reason) : s.status))).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
      ]);
      const login = await h.app.inject({ method: 'POST', url: '/v1/auth/login', payload: admin });
      expect(login.statusCode).toBe(200);
      const me = await h.app.inject({
        method: 'GET',
        url: '/v1/user',
        headers: { authorization: `Bearer ${login.json().data.token}` },
      });
      expect(me.json().data.user).toMatchObject({ email: admin.email, role: 'admin' });
    } finally {
      for (const s of started) if (s.status === 'fulfilled') await s.value.stop();
    }
  });

  it('lets only admins change plans, and quota-service applies the new limits on user.plan_changed', async () => {
    const u = await signup(h.app, 'plan@example.com');
    const forbidden = await h.app.inject({
      method: 'PATCH',
      url: `/v1/admin/users/${u.user.id}/plan`,
      headers: { authorization: `Bearer ${u.token}` },
      payload: { plan: 'pro' },
    });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().error.code).toBe('FORBIDDEN');
    const login = await h.app.inject({ method: 'POST', url: '/v1/auth/login', payload: ADMIN });
    const admin = login.json().data.token;
    const changed = await h.app.inject({
      method: 'PATCH',
      url: `/v1/admin/users/${u.user.id}/plan`,
      headers: { authorization: `Bearer ${admin}` },
      payload: { plan: 'pro' },
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.json().data.user.plan).toBe('pro');
    const quota = await eventually(async () => {
      const q = await h.app.inject({
        method: 'GET',
        url: '/v1/user/quota',
        headers: { authorization: `Bearer ${u.token}` },
      });
      return q.json().data.plan === 'pro' ? q : null;
    });
    expect(quota.json().data).toMatchObject({
      plan: 'pro',
      quota: { charts: { limit: 100 }, analyses: { limit: 50 } },
    });
    const missing = await h.app.inject({
      method: 'PATCH',
      url: '/v1/admin/users/00000000-0000-7000-8000-000000000000/plan',
      headers: { authorization: `Bearer ${admin}` },
      payload: { plan: 'pro' },
    });
    expect(missing.statusCode).toBe(404);
    const bad = await h.app.inject({
      method: 'PATCH',
      url: `/v1/admin/users/${u.user.id}/plan`,
      headers: { authorization: `Bearer ${admin}` },
      payload: { plan: 'platinum' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details[0].field).toBe('plan');
  });

  it('keeps an idempotent POST: another body or query is 422, a running one 409, a secret answer not replayed', async () => {
    const u = await signup(h.app, 'idem@example.com');
    const post = (name: string, key: string, query = '') =>
      h.app.inject({
        method: 'POST',
        url: `/v1/api-keys${query}`,
        headers: { authorization: `Bearer ${u.token}`, 'idempotency-key': key },
        payload: { name },
      });
    const first = await post('one', 'k-1');
    expect(first.statusCode).toBe(201);
    // A new key is shown once: its answer is not kept, so a replay says it was done, without it.
    // (Replays of answers without secrets: the templates test in charts.test.ts.)
    const again = await post('one', 'k-1');
    expect(again.statusCode).toBe(409);
    expect(again.body).not.toContain('cw_live_');
    const other = await post('two', 'k-1');
    expect(other.statusCode).toBe(422);
    expect(other.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // The query is part of the request (analyze's ?wait): another one is another request.
    expect((await post('one', 'k-1', '?wait=0')).statusCode).toBe(422);
    const list = await h.app.inject({
      method: 'GET',
      url: '/v1/api-keys',
      headers: { authorization: `Bearer ${u.token}` },
    });
    expect(list.json().data.apiKeys).toHaveLength(1);
    // Two at once with a new key: one runs, the other is told it is in progress (or replays).
    const [x, y] = await Promise.all([post('three', 'k-2'), post('three', 'k-2')]);
    expect([x.statusCode, y.statusCode].sort()).toEqual(expect.arrayContaining([201]));
    for (const r of [x, y]) expect([201, 409]).toContain(r.statusCode);
  });

  it('reports each request to the usage ledger and shows daily counts', async () => {
    const u = await signup(h.app, 'usage@example.com');
    for (let i = 0; i < 3; i++)
      await h.app.inject({ method: 'GET', url: '/v1/user', headers: { authorization: `Bearer ${u.token}` } });
    const today = new Date().toISOString().slice(0, 10);
    const usage = await eventually(async () => {
      const res = await h.app.inject({
        method: 'GET',
        url: `/v1/user/usage?from=${today}&to=${today}`,
        headers: { authorization: `Bearer ${u.token}` },
      });
      const day = res.json().data.days[0];
      return day && day.requests >= 3 ? day : null;
    });
    expect(usage.date).toBe(today);
    const bad = await h.app.inject({
      method: 'GET',
      url: '/v1/user/usage?from=2026-13-01',
      headers: { authorization: `Bearer ${u.token}` },
    });
    expect(bad.statusCode).toBe(400);
  });

  it('serves the OpenAPI document and the docs page', async () => {
    const doc = await h.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(doc.json().openapi).toBe('3.1.0');
    expect(Object.keys(doc.json().paths)).toEqual(
      expect.arrayContaining(['/v1/auth/signup', '/v1/api-keys/{id}', '/v1/user/quota']),
    );
    const page = await h.app.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
  });
});
