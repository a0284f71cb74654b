import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, type MessageBus, newId, openBus, publishEvent } from '@chartwright/kit';
import { chartGeneratedEvent, eventually, type ServiceProcess } from '@chartwright/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createStack, type Stack } from './support.js';

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(1024)]);

/**
 * The repros of idempotency keys under faults, with the services as processes: a gateway
 * killed while its request is in flight, and a service stopped while the gateway waits for it.
 * Each ends with the one result, charged once.
 */
describe('Idempotency-Key across crashes and timeouts [postgres] [jetstream] [s3rver]', () => {
  let stack: Stack;
  let bus: MessageBus;
  let tmp: string;
  const GATEWAY_ENV = { RATE_LIMIT_FREE_PER_MIN: '100000', IDEMPOTENCY_LEASE_MS: '2000' };
  const startGateway = () => stack.start('gateway', GATEWAY_ENV, { port: stack.gatewayPort });

  beforeAll(async () => {
    stack = await createStack();
    bus = await openBus({
      natsUrl: stack.env.NATS_URL,
      name: 'e2e-idempotency',
      logger: createLogger('e2e', 'silent'),
      prefix: stack.env.BUS_PREFIX,
    });
    await fetch(`${stack.s3.endpoint}/${stack.s3.bucket}`, { method: 'PUT' });
    tmp = await mkdtemp(path.join(tmpdir(), 'cw-e2e-idem-'));
    await stack.start('quota-service');
  });
  afterAll(async () => {
    await bus?.close();
    await stack?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const signup = async (gateway: ServiceProcess, email: string) => {
    const res = await api(gateway.url, 'POST', '/v1/auth/signup', {
      body: { email, password: 'long enough pw' },
    });
    expect(res.status).toBe(201);
    const userId = res.body.data.user.id as string;
    // quota-service knows the user before the first reservation.
    await eventually(
      async () =>
        (await stack.query(`select 1 from quota.user_quotas where user_id = $1`, [userId])).length > 0,
    );
    return { userId, token: res.body.data.token as string };
  };

  const reservations = (userId: string, kind: string) =>
    stack.query<{ state: string }>(`select state from quota.reservations where user_id = $1 and kind = $2`, [
      userId,
      kind,
    ]);

  it('generate: chart-service paused, the gateway killed mid-request, restarted: the retry answers the one chart, charged once', async () => {
    const chartService = await stack.start('chart-service');
    let gateway = await startGateway();
    const u = await signup(gateway, 'crash@example.com');
    const body = { symbol: 'BINANCE:BTCUSDT', interval: '4h', range: '1M' };
    const headers = { 'idempotency-key': 'gen-K' };
    try {
      chartService.child.kill('SIGSTOP');
      const inFlight = api(gateway.url, 'POST', '/v1/charts/generate', {
        token: u.token,
        body,
        headers,
      }).catch((err: Error) => err);
      await eventually(
        async () =>
          (
            await stack.query(
              `select 1 from gateway.idempotency_keys where key = 'gen-K' and state = 'running'`,
            )
          ).length > 0,
      );
      gateway.child.kill('SIGKILL');
      await gateway.exited;
      expect(await inFlight).toBeInstanceOf(Error);
      chartService.child.kill('SIGCONT');
      gateway = await startGateway();

      // The dead gateway's lease runs out; the retry takes the key over and chart-service answers
      // the chart the first attempt made (or makes it, once). The old code said 409 for 24 hours.
      const retried = await eventually(
        async () => {
          const r = await api(gateway.url, 'POST', '/v1/charts/generate', { token: u.token, body, headers });
          return r.status === 409 ? null : r;
        },
        30_000,
        500,
      );
      expect(retried.status, JSON.stringify(retried.body)).toBe(201);
      const charts = await stack.query<{ id: string }>(`select id from chart.charts where user_id = $1`, [
        u.userId,
      ]);
      expect(charts).toEqual([{ id: retried.body.data.chartId }]);
      expect(retried.body.data.url).toContain('/v1/files/');
      expect(retried.body.data.quota).toEqual({ used: 1, limit: 5, remaining: 4 });
      await eventually(async () => {
        const r = await reservations(u.userId, 'charts');
        return r.filter((x) => x.state === 'reserved').length === 0 ? r : null;
      });
      expect((await reservations(u.userId, 'charts')).filter((r) => r.state === 'committed')).toHaveLength(1);
      const quota = await api(gateway.url, 'GET', '/v1/user/quota', { token: u.token });
      expect(quota.body.data.quota.charts.used).toBe(1);
      // Settled: the next retry is a replay of the same answer.
      const replay = await api(gateway.url, 'POST', '/v1/charts/generate', { token: u.token, body, headers });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body.data.chartId).toBe(retried.body.data.chartId);
    } finally {
      chartService.child.kill('SIGCONT');
      await chartService.stop('SIGTERM');
      await gateway.stop('SIGTERM');
    }
  });

  it('analyze: the service dies while the gateway waits (202 or 504), restarted: the retry answers the one analysis, charged once', async () => {
    const gateway = await startGateway();
    const analysisEnv = {
      ANALYSIS_TMP_DIR: path.join(tmp, 'analysis'),
      ANALYSIS_RETRY_BACKOFF_MS: '1000',
      ANALYSIS_MAX_ATTEMPTS: '20',
      ANALYSIS_ACK_WAIT_MS: '2000',
    };
    let analysis = await stack.start('analysis-service', analysisEnv);
    try {
      const u = await signup(gateway, 'timeout@example.com');
      // The chart is announced, but its image is not in storage yet: the analysis keeps retrying.
      const chartId = newId();
      const objectKey = `users/${u.userId}/charts/${chartId}.png`;
      await publishEvent(
        bus,
        chartGeneratedEvent({ chartId, userId: u.userId, objectKey, size: PNG.length }),
      );
      const analyze = () =>
        api(gateway.url, 'POST', `/v1/charts/${chartId}/analyze?wait=3`, {
          token: u.token,
          body: {},
          headers: { 'idempotency-key': 'analyze-K' },
        });
      const first = analyze();
      await eventually(
        async () =>
          (await stack.query(`select 1 from analysis.analyses where user_id = $1`, [u.userId])).length > 0,
      );
      // Killed mid-work. The request was accepted before, so the gateway's wait ends with 202 and
      // the analysis's location (a kill inside the request itself gives 504): either way the work
      // may still complete, so the key must not be freed.
      analysis.child.kill('SIGKILL');
      await analysis.exited;
      expect([202, 504]).toContain((await first).status);

      analysis = await stack.start('analysis-service', analysisEnv);
      const put = await fetch(`${stack.s3.endpoint}/${stack.s3.bucket}/${objectKey}`, {
        method: 'PUT',
        headers: { 'content-type': 'image/png' },
        body: PNG,
      });
      expect(put.ok).toBe(true);
      const retried = await eventually(
        async () => {
          const r = await analyze();
          return r.status === 409 ? null : r;
        },
        30_000,
        500,
      );
      const rows = await stack.query<{ id: string }>(`select id from analysis.analyses where user_id = $1`, [
        u.userId,
      ]);
      expect(rows).toHaveLength(1);
      expect([200, 202], JSON.stringify(retried.body)).toContain(retried.status);
      expect(retried.body.data.analysisId).toBe(rows[0]!.id);
      await eventually(
        async () =>
          (
            await stack.query(`select 1 from analysis.analyses where user_id = $1 and status = 'completed'`, [
              u.userId,
            ])
          ).length === 1,
        30_000,
      );
      await eventually(async () => {
        const r = await reservations(u.userId, 'analyses');
        return r.length === 1 && r[0]!.state === 'committed';
      });
      const quota = await api(gateway.url, 'GET', '/v1/user/quota', { token: u.token });
      expect(quota.body.data.quota.analyses.used).toBe(1);
      expect(
        await stack.query(`select 1 from analysis.analyses where user_id = $1`, [u.userId]),
      ).toHaveLength(1);
    } finally {
      await analysis.stop('SIGTERM');
      await gateway.stop('SIGTERM');
    }
  });
});
