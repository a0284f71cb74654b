import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ServiceProcess } from '@chartwright/kit/testing';
import { eventually } from '@chartwright/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAnthropic } from '../../services/analysis-service/test/support/fake-anthropic.js';
import { api, createStack, type Stack, StackClient, sse, TOOL_INPUT } from './support.js';

/**
 * A TCP relay in front of NATS for one gateway: `cut()` drops its connections and refuses new
 * ones (a network partition), `heal()` lets it reconnect.
 */
async function natsRelay(target: URL) {
  const sockets = new Set<Socket>();
  let open = true;
  const server: Server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = connect(Number(target.port || 4222), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `nats://127.0.0.1:${port}`,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    heal() {
      open = true;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Reads an SSE stream until it ends; `onChunk` sees the text so far. */
async function readStream(url: string, token: string, onChunk: (text: string) => void = () => {}) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const reader = res.body!.getReader();
  let text = '';
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    text += new TextDecoder().decode(chunk.value);
    onChunk(text);
  }
  return [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]!);
}

describe('two gateway replicas learn of analyses by events [postgres] [jetstream] [s3rver]', () => {
  let stack: Stack;
  let client: StackClient;
  let fake: FakeAnthropic;
  let tmp: string;
  let relay: Awaited<ReturnType<typeof natsRelay>>;
  let a: ServiceProcess;
  let b: ServiceProcess;
  beforeAll(async () => {
    stack = await createStack();
    client = await StackClient.open(stack);
    fake = await FakeAnthropic.start({ apiKey: 'sk-e2e' });
    tmp = await mkdtemp(path.join(tmpdir(), 'cw-e2e-replicas-'));
    relay = await natsRelay(new URL(stack.env.NATS_URL!));
    await stack.start('quota-service');
    a = await stack.start('gateway', { RATE_LIMIT_FREE_PER_MIN: '100000' }, { port: stack.gatewayPort });
    // Replica B reaches NATS through the relay, so the test can cut it off.
    b = await stack.start('gateway', { RATE_LIMIT_FREE_PER_MIN: '100000', NATS_URL: relay.url });
    await stack.start('analysis-service', {
      ANTHROPIC_API_KEY: 'sk-e2e',
      ANTHROPIC_BASE_URL: fake.url,
      ANTHROPIC_MAX_RETRIES: '0',
      ANALYSIS_TMP_DIR: tmp,
    });
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    await stack?.close();
    await relay?.close();
    await fake?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('wakes a wait on replica B and ends its progress stream with completed for an analysis asked on A', async () => {
    fake.setDefault({ kind: 'tool', input: TOOL_INPUT, delayMs: 800 });
    const u = await client.user('two@example.com', 'pro');
    const chartId = await client.chart(u.userId);

    // The bounded wait, on B: answered by the completion event, not by polling.
    const waited = await api(b.url, 'POST', `/v1/charts/${chartId}/analyze?wait=20`, {
      token: u.token,
      body: {},
    });
    expect(waited.status, JSON.stringify(waited.body)).toBe(200);
    expect(waited.body.data.analysis.recommendation).toBe('NEUTRAL');

    // Asked on A (202), streamed on B: every replica sees every event.
    const queued = await api(a.url, 'POST', `/v1/charts/${chartId}/analyze?wait=0`, {
      token: u.token,
      body: {},
    });
    expect(queued.status).toBe(202);
    const events = await readStream(`${b.url}/v1/analyses/${queued.body.data.analysisId}/events`, u.token);
    expect(events).toEqual(['queued', 'downloading', 'analysing', 'completed']);
    expect(await sse(`${a.url}/v1/analyses/${queued.body.data.analysisId}/events`, u.token)).toEqual(events);
  }, 60_000);

  it('delivers a completion that happened while replica B was cut off from NATS', async () => {
    fake.setDefault({ kind: 'tool', input: TOOL_INPUT, delayMs: 1_500 });
    const u = await client.user('cut@example.com', 'pro');
    const chartId = await client.chart(u.userId);
    const queued = await api(a.url, 'POST', `/v1/charts/${chartId}/analyze?wait=0`, {
      token: u.token,
      body: {},
    });
    const id = queued.body.data.analysisId as string;

    let seen = '';
    const stream = readStream(`${b.url}/v1/analyses/${id}/events`, u.token, (t) => {
      seen = t;
    });
    await eventually(() => seen.includes('event: queued'));
    relay.cut();
    // The analysis finishes while B hears nothing.
    await eventually(
      async () =>
        (await stack.query(`select status from analysis.analyses where id = $1`, [id]))[0]?.status ===
        'completed',
      20_000,
    );
    expect(seen).not.toContain('event: completed');
    relay.heal();
    // B reconnects and catches up (its watch resumes, and one read covers anything missed).
    expect((await stream).at(-1)).toBe('completed');
  }, 60_000);
});
