import { eventually } from '@chartwright/kit/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { api, createStack, type Stack } from './support.js';

const SERVICES = ['quota-service', 'storage-service', 'chart-service', 'analysis-service', 'gateway'];

describe('the five services as separate processes [postgres] [jetstream]', () => {
  let stack: Stack;
  afterAll(async () => stack?.close());

  it('start, migrate their schemas, report ready, serve a cross-service flow and stop cleanly on SIGTERM', async () => {
    stack = await createStack();
    const procs = [];
    for (const s of SERVICES) procs.push(await stack.start(s));
    for (const p of procs) {
      const ready = await fetch(`${p.url}/ready`);
      expect(ready.status, `${p.name} /ready`).toBe(200);
    }
    const schemas = await stack.query<{ schema_name: string }>(
      `select schema_name from information_schema.schemata where schema_name = any($1) order by 1`,
      [['analysis', 'chart', 'gateway', 'quota', 'storage']],
    );
    expect(schemas.map((s) => s.schema_name)).toEqual(['analysis', 'chart', 'gateway', 'quota', 'storage']);

    const gateway = procs.at(-1)!;
    const signup = await api(gateway.url, 'POST', '/v1/auth/signup', {
      body: { email: 'dist@example.com', password: 'long enough pw' },
    });
    expect(signup.status).toBe(201);
    // quota-service, another process, applied user.registered from JetStream.
    await eventually(
      async () =>
        (await stack.query(`select 1 from quota.inbox where consumer = 'quota-users'`)).length === 1,
    );
    const quota = await api(gateway.url, 'GET', '/v1/user/quota', { token: signup.body.data.token });
    expect(quota.body.data).toMatchObject({
      plan: 'free',
      quota: { charts: { used: 0, limit: 5, remaining: 5 } },
    });

    const codes = await Promise.all(procs.map((p) => p.stop('SIGTERM')));
    expect(codes).toEqual(SERVICES.map(() => 0));
  });
});

describe('an event committed before the publisher is killed [postgres] [jetstream]', () => {
  let stack: Stack;
  afterAll(async () => stack?.close());

  it('is published after restart and applied exactly once', async () => {
    stack = await createStack();
    await stack.start('quota-service');
    const doomed = await stack.start('gateway', { CW_FAILPOINT: 'gateway.signup.after-commit' });
    const res = await fetch(`${doomed.url}/v1/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'crash@example.com', password: 'long enough pw' }),
    }).catch((err) => err);
    expect(res).toBeInstanceOf(Error); // the connection died with the process
    expect(await doomed.exited).toBeNull(); // killed by SIGKILL
    const pending = await stack.query(`select subject from gateway.outbox`);
    expect(pending).toEqual([{ subject: 'user.registered' }]);
    expect(await stack.query(`select 1 from quota.inbox`)).toHaveLength(0);

    const gateway = await stack.start('gateway');
    await eventually(
      async () =>
        (await stack.query(`select 1 from quota.inbox where consumer = 'quota-users'`)).length === 1,
    );
    expect(await stack.query(`select 1 from gateway.outbox`)).toHaveLength(0);
    // The user exists and can log in; the quota row was created once.
    const login = await api(gateway.url, 'POST', '/v1/auth/login', {
      body: { email: 'crash@example.com', password: 'long enough pw' },
    });
    expect(login.status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(await stack.query(`select 1 from quota.inbox where consumer = 'quota-users'`)).toHaveLength(1);
    expect(await stack.query(`select 1 from quota.user_quotas`)).toHaveLength(1);
  });
});

describe('rate limits shared by two gateway processes through Redis [redis]', () => {
  let stack: Stack;
  afterAll(async () => stack?.close());

  it('holds the per-user limit across both', async () => {
    stack = await createStack();
    await stack.start('quota-service');
    const env = { RATE_LIMIT_GENERAL_PER_MIN: '10' };
    const a = await stack.start('gateway', env);
    const b = await stack.start('gateway', env);
    const signup = await api(a.url, 'POST', '/v1/auth/signup', {
      body: { email: 'rl@example.com', password: 'long enough pw' },
    });
    const token = signup.body.data.token;
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await api(i % 2 ? b.url : a.url, 'GET', '/v1/user', { token }));
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    expect(ok).toHaveLength(10);
    expect(limited).toHaveLength(10);
    expect(limited[0]!.body.error.code).toBe('RATE_LIMIT_EXCEEDED');
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(ok[0]!.headers.get('ratelimit-limit')).toBe('10');
    expect(ok[9]!.headers.get('ratelimit-remaining')).toBe('0');
  });
});

describe('invalid configuration [postgres] [jetstream]', () => {
  let stack: Stack;
  afterAll(async () => stack?.close());

  it('stops start-up with a message naming the variable', async () => {
    stack = await createStack();
    await expect(stack.start('quota-service', { QUOTA_RESERVATION_TTL_SECONDS: 'soon' })).rejects.toThrow(
      /QUOTA_RESERVATION_TTL_SECONDS: .*number/,
    );
    await expect(stack.start('quota-service', { NATS_URL: '' })).rejects.toThrow(/NATS_URL: required/);
    await expect(stack.start('gateway', { NODE_ENV: 'production', JWT_SECRET: 'short' })).rejects.toThrow(
      /JWT_SECRET: must be at least 32 bytes/,
    );
  });
});
