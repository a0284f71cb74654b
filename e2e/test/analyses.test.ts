import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '@chartwright/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The local stand-in for the Anthropic Messages API lives with the adapter it tests.
import { FakeAnthropic, seededRandom } from '../../services/analysis-service/test/support/fake-anthropic.js';
import { api, createStack, type Stack, StackClient, sse, TOOL_INPUT } from './support.js';

describe('analyses across separate processes [postgres] [jetstream] [s3rver]', () => {
  let stack: Stack;
  let client: StackClient;
  let fake: FakeAnthropic;
  let tmp: string;
  beforeAll(async () => {
    stack = await createStack();
    client = await StackClient.open(stack);
    fake = await FakeAnthropic.start({ apiKey: 'sk-e2e' });
    tmp = await mkdtemp(path.join(tmpdir(), 'cw-e2e-analysis-'));
    await stack.start('quota-service');
    await stack.start('gateway', { RATE_LIMIT_FREE_PER_MIN: '100000' }, { port: stack.gatewayPort });
  });
  afterAll(async () => {
    await client?.close();
    await stack?.close();
    await fake?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const anthropicEnv = (dir: string) => ({
    ANTHROPIC_API_KEY: 'sk-e2e',
    ANTHROPIC_BASE_URL: fake.url,
    ANTHROPIC_MAX_RETRIES: '0',
    ANTHROPIC_TIMEOUT_MS: '60000',
    ANALYSIS_TMP_DIR: dir,
    ANALYSIS_ACK_WAIT_MS: '1500',
    ANALYSIS_RETRY_BACKOFF_MS: '100,200',
    ANALYSIS_MAX_ATTEMPTS: '3',
    ANALYSIS_CONCURRENCY: '8',
  });

  it('analyses with the built-in analyst over REST: waited result, async path with events, quota, 404s', async () => {
    const dir = path.join(tmp, 'builtin');
    const service = await stack.start('analysis-service', { ANALYSIS_TMP_DIR: dir });
    try {
      const alice = await client.user('alice@example.com');
      const bob = await client.user('bob@example.com');
      const chartId = await client.chart(alice.userId);

      const waited = await api(alice.url, 'POST', `/v1/charts/${chartId}/analyze`, {
        token: alice.token,
        body: {},
      });
      expect(waited.status, JSON.stringify(waited.body)).toBe(200);
      expect(waited.body.data.metadata.model).toBe('chartwright-technical-v1');
      expect(waited.body.data.quota).toEqual({ used: 1, limit: 3, remaining: 2 });

      const queued = await api(alice.url, 'POST', `/v1/charts/${chartId}/analyze?wait=0`, {
        token: alice.token,
        body: {},
      });
      expect(queued.status).toBe(202);
      expect(queued.headers.get('location')).toBe(`/v1/analyses/${queued.body.data.analysisId}`);
      expect(
        await sse(`${alice.url}/v1/analyses/${queued.body.data.analysisId}/events`, alice.token),
      ).toEqual(['queued', 'downloading', 'analysing', 'completed']);
      const got = await api(alice.url, 'GET', `/v1/analyses/${queued.body.data.analysisId}`, {
        token: alice.token,
      });
      expect(got.body.data.analysis.status).toBe('completed');

      const quota = await api(alice.url, 'GET', '/v1/user/quota', { token: alice.token });
      expect(quota.body.data.quota.analyses).toEqual({ used: 2, limit: 3, remaining: 1 });

      expect(
        (await api(bob.url, 'POST', `/v1/charts/${chartId}/analyze`, { token: bob.token, body: {} })).status,
      ).toBe(404);
      expect(
        (await api(bob.url, 'GET', `/v1/analyses/${queued.body.data.analysisId}`, { token: bob.token }))
          .status,
      ).toBe(404);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await service.stop('SIGTERM');
    }
  });

  it('completes an analysis whose worker was killed mid-way: one result, quota charged once, no temp file', async () => {
    const dir = path.join(tmp, 'kill');
    fake.reset();
    fake.enqueue({ kind: 'hang' });
    fake.setDefault({ kind: 'tool', input: TOOL_INPUT, delayMs: 50 });
    const env = anthropicEnv(dir);
    const doomed = await stack.start('analysis-service', env);
    const carol = await client.user('carol@example.com');
    const chartId = await client.chart(carol.userId);
    const accepted = await eventually(async () => {
      const r = await api(carol.url, 'POST', `/v1/charts/${chartId}/analyze?wait=0`, {
        token: carol.token,
        body: {},
      });
      return r.status === 202 ? r : null;
    });
    const analysisId = accepted.body.data.analysisId as string;

    // The model holds the request; the image sits in the temp folder meanwhile.
    await eventually(() => fake.requests.length === 1);
    expect(await readdir(dir)).toHaveLength(1);
    expect(
      (await stack.query(`select status from analysis.analyses where id = $1`, [analysisId]))[0],
    ).toEqual({
      status: 'analysing',
    });
    doomed.child.kill('SIGKILL');
    expect(await doomed.exited).toBeNull();
    expect(await readdir(dir)).toHaveLength(1);

    const restarted = await stack.start('analysis-service', env);
    try {
      // The sweep at start-up removed the dead process' file; after the ack wait the job runs again.
      const done = await eventually(
        async () => {
          const rows = await stack.query<{ status: string }>(
            `select status from analysis.analyses where id = $1`,
            [analysisId],
          );
          return rows[0]?.status === 'completed' ? rows : null;
        },
        30_000,
        100,
      );
      expect(done).toHaveLength(1);
      expect(fake.requests.map((r) => r.reply.kind)).toEqual(['hang', 'tool']);
      await eventually(async () => {
        const r = await stack.query<{ state: string }>(
          `select state from quota.reservations where kind = 'analyses' and user_id = $1`,
          [carol.userId],
        );
        return r.length === 1 && r[0]!.state === 'committed';
      });
      const quota = await api(carol.url, 'GET', '/v1/user/quota', { token: carol.token });
      expect(quota.body.data.quota.analyses.used).toBe(1);
      expect(await readdir(dir)).toEqual([]);
      // Nothing more happens later: still one completed analysis, charged once.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(fake.requests.length).toBe(2);
      expect(
        await stack.query(`select 1 from analysis.analyses where user_id = $1`, [carol.userId]),
      ).toHaveLength(1);
    } finally {
      await restarted.stop('SIGTERM');
      fake.setDefault(undefined);
    }
  });

  it('100 analyses against a model failing 30% of calls: each completed or failed with a reason, quota = completed', async () => {
    const dir = path.join(tmp, 'chaos');
    fake.reset();
    fake.setDefault({ kind: 'tool', input: TOOL_INPUT, delayMs: 20 });
    fake.setChaos({ failureRate: 0.3, random: seededRandom(20_251_201) });
    const service = await stack.start('analysis-service', anthropicEnv(dir));
    try {
      const dave = await client.user('dave@example.com', 'enterprise');
      const chartId = await client.chart(dave.userId);
      await eventually(
        async () =>
          (await stack.query(`select 1 from analysis.known_charts where chart_id = $1`, [chartId])).length ===
          1,
      );
      const ids: string[] = [];
      for (let batch = 0; batch < 10; batch++) {
        const replies = await Promise.all(
          Array.from({ length: 10 }, () =>
            api(dave.url, 'POST', `/v1/charts/${chartId}/analyze?wait=0`, { token: dave.token, body: {} }),
          ),
        );
        for (const r of replies) {
          expect(r.status, JSON.stringify(r.body)).toBe(202);
          ids.push(r.body.data.analysisId);
        }
      }
      const rows = await eventually(
        async () => {
          const r = await stack.query<{
            status: string;
            error_code: string | null;
            error_reason: string | null;
          }>(`select status, error_code, error_reason from analysis.analyses where user_id = $1`, [
            dave.userId,
          ]);
          return r.length === 100 && r.every((x) => x.status === 'completed' || x.status === 'failed')
            ? r
            : null;
        },
        90_000,
        200,
      );
      const completed = rows.filter((r) => r.status === 'completed').length;
      const failed = rows.filter((r) => r.status === 'failed');
      for (const f of failed) {
        expect(f.error_code).toMatch(/^(UPSTREAM_ERROR|RATE_LIMITED)$/);
        expect(f.error_reason).toMatch(/gave up after 3 attempts/);
      }
      expect(completed + failed.length).toBe(100);
      expect(completed).toBeGreaterThan(80);
      await eventually(async () => {
        const q = await api(dave.url, 'GET', '/v1/user/quota', { token: dave.token });
        return q.body.data.quota.analyses.used === completed;
      }, 20_000);
      expect(await readdir(dir)).toEqual([]);
      console.log(
        `chaos: ${completed} completed, ${failed.length} failed, ${fake.requests.length} model calls`,
      );
    } finally {
      fake.setChaos(undefined);
      fake.setDefault(undefined);
      await service.stop('SIGTERM');
    }
  });
});
