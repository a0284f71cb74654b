import { eventually } from '@chartwright/kit/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { api, createStack, type Stack } from './support.js';

const ADMIN = { email: 'hot-admin@example.com', password: 'hot admin password' };

describe('the principal cache across two gateway processes [postgres] [jetstream] [redis]', () => {
  let stack: Stack;
  afterAll(async () => stack?.close());

  it('refuses a key revoked on one gateway at once on the other, and shows a changed plan at once', async () => {
    stack = await createStack();
    const env = { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password };
    const a = await stack.start('gateway', env);
    const b = await stack.start('gateway', env);
    const signup = await api(a.url, 'POST', '/v1/auth/signup', {
      body: { email: 'hot@example.com', password: 'long enough pw' },
    });
    const token = signup.body.data.token as string;
    for (let i = 0; i < 5; i++) {
      const created = await api(a.url, 'POST', '/v1/api-keys', { token, body: { name: `k${i}` } });
      expect(created.status).toBe(201);
      const key = created.body.data.apiKey;
      const viaB = () => api(b.url, 'GET', '/v1/user', { headers: { 'x-api-key': key.key } });
      // Now cached on B.
      expect((await viaB()).status).toBe(200);
      expect((await viaB()).status).toBe(200);
      const revoke = await api(a.url, 'DELETE', `/v1/api-keys/${key.id}`, { token });
      expect(revoke.body).toMatchObject({ success: true, data: { id: key.id, deleted: true } });
      // The very next request, on the other process: no waiting for an event.
      const after = await viaB();
      expect(after.status, `key ${i}`).toBe(401);
      expect(after.body.error.code).toBe('INVALID_TOKEN');
    }

    // What makes it immediate even when the event is late: a revocation with no event at all
    // (written straight to the database) is served from B's cache until the epoch moves, and
    // refused on the very next request after it does.
    const late = (await api(a.url, 'POST', '/v1/api-keys', { token, body: { name: 'late' } })).body.data
      .apiKey;
    const lateViaB = () => api(b.url, 'GET', '/v1/user', { headers: { 'x-api-key': late.key } });
    expect((await lateViaB()).status).toBe(200);
    await stack.query(`update gateway.api_keys set revoked_at = now() where id = $1`, [late.id]);
    expect((await lateViaB()).status).toBe(200);
    const redis = new Redis(stack.env.REDIS_URL!);
    try {
      await redis.incr(`${stack.env.REDIS_KEY_PREFIX}auth:epoch`);
    } finally {
      redis.disconnect();
    }
    expect((await lateViaB()).status).toBe(401);

    expect((await api(b.url, 'GET', '/v1/user', { token })).body.data.user.plan).toBe('free');
    const admin = (await api(a.url, 'POST', '/v1/auth/login', { body: ADMIN })).body.data.token;
    const changed = await api(a.url, 'PATCH', `/v1/admin/users/${signup.body.data.user.id}/plan`, {
      token: admin,
      body: { plan: 'pro' },
    });
    expect(changed.status).toBe(200);
    expect((await api(b.url, 'GET', '/v1/user', { token })).body.data.user.plan).toBe('pro');
  });
});

describe('the usage ledger with batched reports [postgres] [jetstream]', () => {
  let stack: Stack;
  afterAll(async () => stack?.close());

  it('counts every request answered, also across a SIGTERM of the gateway under load', async () => {
    stack = await createStack();
    await stack.start('quota-service');
    const gateway = await stack.start('gateway', { RATE_LIMIT_GENERAL_PER_MIN: '1000000' });
    const signup = await api(gateway.url, 'POST', '/v1/auth/signup', {
      body: { email: 'ledger@example.com', password: 'long enough pw' },
    });
    const token = signup.body.data.token as string;
    const userId = signup.body.data.user.id as string;
    let answered = 0;
    let refused = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const res = await fetch(`${gateway.url}/v1/user`, {
            headers: { authorization: `Bearer ${token}` },
          });
          await res.arrayBuffer();
          if (res.status === 200) answered++;
        } catch {
          // The gateway is gone: nothing was served.
          refused++;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    await eventually(() => answered >= 300, 30_000);
    const code = await gateway.stop('SIGTERM');
    stop = true;
    await Promise.all(workers);
    expect(code).toBe(0);
    expect(refused).toBeGreaterThan(0);
    const ledger = async () =>
      Number(
        (
          await stack.query<{ n: string }>(
            `select coalesce(sum(requests), 0) as n from quota.api_usage where user_id = $1 and endpoint = '/v1/user'`,
            [userId],
          )
        )[0]!.n,
      );
    await eventually(async () => (await ledger()) >= answered, 20_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await ledger()).toBe(answered);
    // Batched: far fewer ledger rows than requests.
    const rows = await stack.query(`select 1 from quota.api_usage where user_id = $1`, [userId]);
    expect(rows.length).toBeLessThan(answered / 5);
  });
});
