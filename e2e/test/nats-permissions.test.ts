import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RPC_SENDERS } from '@chartwright/contracts';
import { eventually, freePort, REPO_ROOT, type ServiceProcess } from '@chartwright/kit/testing';
import { connect, type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createStack, type Stack } from './support.js';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const CONF = readFileSync(path.join(REPO_ROOT, 'infra/nats.conf'), 'utf8');
const MARKET = path.join(REPO_ROOT, 'packages/market/test/fixtures/history');
const USERS = [
  'provision',
  'gateway',
  'chart-service',
  'analysis-service',
  'storage-service',
  'quota-service',
  'notification-service',
  'outcome-service',
];
const PASSWORD_VAR: Record<string, string> = {
  provision: 'NATS_PROVISION_PASSWORD',
  gateway: 'NATS_GATEWAY_PASSWORD',
  'chart-service': 'NATS_CHART_PASSWORD',
  'analysis-service': 'NATS_ANALYSIS_PASSWORD',
  'storage-service': 'NATS_STORAGE_PASSWORD',
  'quota-service': 'NATS_QUOTA_PASSWORD',
  'notification-service': 'NATS_NOTIFICATION_PASSWORD',
  'outcome-service': 'NATS_OUTCOME_PASSWORD',
};
const password = (user: string) => `pw-${user}-0123456789`;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The quoted subjects of one user's publish or subscribe list in infra/nats.conf. */
function confSubjects(user: string, list: 'publish' | 'subscribe'): string[] {
  const start = CONF.indexOf(`user: ${user}\n`);
  const end = CONF.indexOf('user: ', start + 1);
  const block = CONF.slice(start, end === -1 ? undefined : end);
  const pub = block.indexOf('publish:');
  const sub = block.indexOf('subscribe:');
  const part = list === 'publish' ? block.slice(pub, sub) : block.slice(sub);
  return [...part.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}

/** nats-server with the project's config (its port and store moved to a temp dir). */
async function startNats(dir: string): Promise<{ url: string; child: ChildProcess; log: () => string }> {
  const port = await freePort();
  const conf = CONF.replace(/^port: \d+$/m, `port: ${port}`)
    .replace(/^http_port: \d+$/m, '')
    .replace(/store_dir: .*$/m, `store_dir: ${JSON.stringify(path.join(dir, 'js'))}`);
  expect(conf).not.toBe(CONF);
  await writeFile(path.join(dir, 'nats.conf'), conf);
  const env = { ...process.env };
  for (const u of USERS) env[PASSWORD_VAR[u]!] = password(u);
  const child = spawn(NATS_SERVER, ['-c', path.join(dir, 'nats.conf')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr?.on('data', (b: Buffer) => {
    out = (out + b.toString()).slice(-20_000);
  });
  await eventually(
    () =>
      new Promise<boolean>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port }, () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    10_000,
  );
  return { url: `nats://127.0.0.1:${port}`, child, log: () => out };
}

const as = (url: string, user: string) =>
  connect({ servers: url, user, pass: password(user), inboxPrefix: `_INBOX.${user}` });

/** A request: its answer, or the error the server or the service gave. */
async function ask(nc: NatsConnection, subject: string, body: unknown, headers?: Record<string, string>) {
  try {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(headers ?? {})) h.set(k, v);
    const m = await nc.request(subject, enc.encode(JSON.stringify(body)), { timeout: 3_000, headers: h });
    return { reply: JSON.parse(dec.decode(m.data)) as { ok: boolean; error?: { code: string } } };
  } catch (err) {
    return { error: String((err as Error).message ?? err) };
  }
}

/** Refused by the server: a permissions violation. */
const refusedByServer = (r: { error?: string }) => expect(r.error).toMatch(/Permissions Violation/);

/** A subscription the server refuses is closed with a permissions violation. */
async function subscribeRefused(nc: NatsConnection, subject: string, queue?: string) {
  const sub = nc.subscribe(subject, queue ? { queue } : {});
  const got = { n: 0 };
  void (async () => {
    for await (const _ of sub) got.n++;
  })().catch(() => undefined);
  const closed = await Promise.race([sub.closed, new Promise((r) => setTimeout(() => r('open'), 3_000))]);
  expect(String(closed), subject).toMatch(/Permissions Violation/);
  return got;
}

describe('NATS locked down with infra/nats.conf [postgres] [s3rver]', () => {
  let stack: Stack;
  let dir: string;
  let nats: Awaited<ReturnType<typeof startNats>>;
  const conns: NatsConnection[] = [];
  const services: Record<string, ServiceProcess> = {};

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cw-nats-perms-'));
    nats = await startNats(dir);
    stack = await createStack();
    await fetch(`${stack.s3.endpoint}/${stack.s3.bucket}`, { method: 'PUT' });
    const creds = (user: string) => ({
      NATS_URL: nats.url,
      BUS_PREFIX: '',
      NATS_USER: user,
      NATS_PASSWORD: password(user),
    });
    // Streams come from the provisioning step; the services may not create them.
    const provision = spawn(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', 'packages/kit/src/bin/provision-streams.ts'],
      { cwd: REPO_ROOT, env: { ...process.env, ...creds('provision'), LOG_LEVEL: 'warn' }, stdio: 'inherit' },
    );
    expect(await new Promise((r) => provision.once('exit', r))).toBe(0);
    for (const name of [
      'quota-service',
      'storage-service',
      'chart-service',
      'analysis-service',
      'notification-service',
      'outcome-service',
    ])
      services[name] = await stack.start(name, {
        ...creds(name),
        // Backtests read real history; charts stay synthetic (their bars are re-created from their seed).
        ...(name === 'analysis-service' ? { MARKET_DATA: 'file', MARKET_DATA_DIR: MARKET } : {}),
      });
    services.gateway = await stack.start(
      'gateway',
      { ...creds('gateway'), RATE_LIMIT_FREE_PER_MIN: '1000' },
      { port: stack.gatewayPort },
    );
  }, 180_000);

  afterAll(async () => {
    for (const c of conns) await c.close().catch(() => undefined);
    await stack?.close();
    nats?.child.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('infra/nats.conf grants each request subject to exactly the senders RPC_SENDERS names', () => {
    const owner = (subject: string) => `${subject.split('.')[1]}-service`;
    for (const user of USERS.filter((u) => u !== 'provision')) {
      const publish = Object.entries(RPC_SENDERS)
        .filter(([, senders]) => senders.includes(user as never))
        .map(([s]) => `${s}.${user}`);
      const serve = Object.entries(RPC_SENDERS)
        .filter(([s]) => owner(s) === user)
        .flatMap(([s, senders]) => senders.map((x) => `${s}.${x}`));
      expect(
        confSubjects(user, 'publish')
          .filter((s) => s.startsWith('svc.'))
          .sort(),
        user,
      ).toEqual(publish.sort());
      expect(
        confSubjects(user, 'subscribe')
          .filter((s) => s.startsWith('svc.'))
          .sort(),
        user,
      ).toEqual(serve.sort());
    }
  });

  it('runs the whole flow with permissions on, and refuses every forged action', async () => {
    const gw = services.gateway!.url;
    const signup = async (email: string) => {
      const r = await api(gw, 'POST', '/v1/auth/signup', { body: { email, password: 'long enough pw' } });
      expect(r.status).toBe(201);
      return { id: r.body.data.user.id as string, token: r.body.data.token as string };
    };
    const victim = await signup('victim@example.com');
    const mallory = await signup('mallory@example.com');
    await eventually(async () => (await stack.query(`select 1 from quota.user_quotas`)).length === 2, 15_000);

    // The whole flow: generate, the image stored, analyse (waited), list, quota, usage.
    const gen = await api(gw, 'POST', '/v1/charts/generate', {
      token: victim.token,
      body: { symbol: 'BINANCE:BTCUSDT', interval: '4h', range: '1M' },
    });
    expect(gen.status, JSON.stringify(gen.body)).toBe(201);
    const chartId = gen.body.data.chartId as string;
    await eventually(async () => {
      const r = await api(gw, 'GET', `/v1/charts/${chartId}`, { token: victim.token });
      return r.body.data?.chart.status === 'stored';
    }, 20_000);
    const analysed = await api(gw, 'POST', `/v1/charts/${chartId}/analyze?wait=20`, {
      token: victim.token,
      body: {},
    });
    expect(analysed.status, JSON.stringify(analysed.body)).toBe(200);
    const bulk = await api(gw, 'POST', '/v1/charts/bulk', {
      token: victim.token,
      body: { charts: [{ symbol: 'BINANCE:ETHUSDT', interval: '1h', range: '1M' }] },
    });
    expect(bulk.body.data?.summary.succeeded, JSON.stringify(bulk.body)).toBe(1);
    const prefs = await api(gw, 'GET', '/v1/user/notifications', { token: victim.token });
    expect(prefs.status, JSON.stringify(prefs.body)).toBe(200);
    const list = await api(gw, 'GET', '/v1/charts', { token: victim.token });
    expect(list.body.data.charts).toHaveLength(2);
    const quota = await api(gw, 'GET', '/v1/user/quota', { token: victim.token });
    expect(quota.body.data.quota.charts.used).toBe(2);
    await eventually(async () => {
      const r = await api(gw, 'GET', '/v1/charts', { token: victim.token });
      return r.body.data.charts.find((c: { id: string }) => c.id === chartId)?.analysesCount === 1;
    });
    // A multi-timeframe run: analysis-service has chart-service draw its charts (svc.chart.generate_set).
    const mtf = await api(gw, 'POST', '/v1/analyses/multi-timeframe?wait=30', {
      token: mallory.token,
      body: { symbol: 'BINANCE:BTCUSDT', intervals: ['4h', '1h'] },
    });
    expect(mtf.status, JSON.stringify(mtf.body)).toBe(200);
    expect(mtf.body.data.items.map((i: { status: string }) => i.status)).toEqual(['completed', 'completed']);
    expect(mtf.body.data.quota.charts.used).toBe(2);
    // A backtest: gateway → analysis-service, its events, quota settled, the equity curve drawn by chart-service.
    const backtest = await api(gw, 'POST', '/v1/backtests', {
      token: victim.token,
      body: {
        symbol: 'BINANCE:BTCUSDT',
        interval: '1h',
        from: '2020-01-01T00:00:00Z',
        to: '2020-01-03T00:00:00Z',
        step: 6,
        analyst: 'builtin',
      },
    });
    expect(backtest.status, JSON.stringify(backtest.body)).toBe(202);
    await eventually(async () => {
      const r = await api(gw, 'GET', `/v1/backtests/${backtest.body.data.id}`, { token: victim.token });
      return r.body.data.status === 'completed';
    }, 20_000);
    const equity = await api(gw, 'GET', `/v1/backtests/${backtest.body.data.id}/equity?format=svg`, {
      token: victim.token,
    });
    expect(equity.status).toBe(200);
    await eventually(async () => {
      const r = await api(gw, 'GET', '/v1/user/quota', { token: victim.token });
      return r.body.data.quota.analyses.used === 2;
    });
    const streamCounts = async () => {
      const admin = await as(nats.url, 'provision');
      const counts: Record<string, number> = {};
      for (const s of ['USERS', 'CHARTS', 'ANALYSES', 'USAGE', 'QUOTA', 'DLQ']) {
        const m = await admin.request(`$JS.API.STREAM.INFO.${s}`, enc.encode(''), { timeout: 3_000 });
        counts[s] = JSON.parse(dec.decode(m.data)).state.messages;
      }
      await admin.close();
      return counts;
    };
    // Usage events of the requests above settle first.
    await new Promise((r) => setTimeout(r, 1_000));
    const before = await streamCounts();

    // No credentials: no connection at all.
    await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/Authorization/i);
    await expect(
      connect({ servers: nats.url, user: 'gateway', pass: 'guess', reconnect: false }),
    ).rejects.toThrow(/Authorization/i);

    const storage = await as(nats.url, 'storage-service');
    const charts = await as(nats.url, 'chart-service');
    const analysis = await as(nats.url, 'analysis-service');
    const quotaSvc = await as(nats.url, 'quota-service');
    const gateway = await as(nats.url, 'gateway');
    conns.push(storage, charts, analysis, quotaSvc, gateway);
    const ref = { userId: victim.id, chartId };

    // Read another's charts, images and analyses over svc.>: only the gateway may ask.
    for (const subject of ['svc.chart.list', 'svc.chart.list.gateway', 'svc.chart.list.storage-service'])
      refusedByServer(await ask(storage, subject, { userId: victim.id, limit: 10, offset: 0 }));
    refusedByServer(await ask(analysis, 'svc.chart.get.gateway', ref));
    refusedByServer(await ask(quotaSvc, 'svc.analysis.list.gateway', { userId: victim.id }));
    refusedByServer(await ask(storage, 'svc.storage.chart_objects', ref));
    refusedByServer(await ask(charts, 'svc.notification.webhook_list.gateway', { userId: victim.id }));
    refusedByServer(await ask(quotaSvc, 'svc.notification.preferences_set.gateway', { userId: victim.id }));
    // Nor listen in: on the requests, or on the gateway's replies.
    await subscribeRefused(storage, 'svc.>');
    await subscribeRefused(charts, '_INBOX.gateway.>');
    await subscribeRefused(analysis, '_INBOX.>');
    // Nor read the streams through a consumer of one's own making.
    refusedByServer(
      await ask(storage, '$JS.API.CONSUMER.CREATE.ANALYSES.snoop', { stream_name: 'ANALYSES' }),
    );
    refusedByServer(
      await ask(gateway, '$JS.API.CONSUMER.CREATE.CHARTS.snoop.chart.>', { stream_name: 'CHARTS' }),
    );
    refusedByServer(await ask(storage, '$JS.API.STREAM.MSG.GET.CHARTS', { seq: 1 }));

    // Run an analysis charged to another, or delete their chart.
    refusedByServer(await ask(charts, 'svc.analysis.request.gateway', { ...ref, options: {} }));
    refusedByServer(await ask(charts, 'svc.analysis.request.chart-service', { ...ref, options: {} }));
    refusedByServer(await ask(analysis, 'svc.chart.delete.gateway', ref));
    // Only analysis-service has charts drawn for a multi-timeframe run.
    const set = { userId: victim.id, requests: [{ symbol: 'BINANCE:BTCUSDT', interval: '1h' }] };
    refusedByServer(await ask(gateway, 'svc.chart.generate_set.gateway', set));
    refusedByServer(await ask(storage, 'svc.chart.generate_set.analysis-service', set));
    refusedByServer(await ask(storage, 'svc.analysis.purge_chart.chart-service', ref));

    // Set one's own plan.
    refusedByServer(
      await ask(charts, 'svc.quota.set_plan.chart-service', { userId: mallory.id, plan: 'enterprise' }),
    );
    refusedByServer(
      await ask(charts, 'svc.quota.set_plan.gateway', { userId: mallory.id, plan: 'enterprise' }),
    );

    // Reserve against a victim, release a hold: the server refuses other senders, and quota-service
    // refuses a service's reservation of another's kind of work.
    const reserve = { userId: victim.id, kind: 'analyses', amount: 1000, reservationId: crypto.randomUUID() };
    refusedByServer(await ask(storage, 'svc.quota.reserve.storage-service', reserve));
    refusedByServer(await ask(gateway, 'svc.quota.reserve.gateway', reserve));
    const wrongKind = await ask(charts, 'svc.quota.reserve.chart-service', reserve);
    expect(wrongKind.reply?.error?.code).toBe('FORBIDDEN');
    const wrongKind2 = await ask(analysis, 'svc.quota.reserve.analysis-service', {
      ...reserve,
      kind: 'charts',
    });
    expect(wrongKind2.reply?.error?.code).toBe('FORBIDDEN');
    // The user named must be the one the request is made for.
    const mismatch = await ask(
      analysis,
      'svc.quota.get.analysis-service',
      { userId: victim.id },
      { 'Cw-User': mallory.id },
    );
    expect(mismatch.reply?.error?.code).toBe('FORBIDDEN');
    // A hold analysis-service has on the victim's analyses.
    const hold = { id: crypto.randomUUID() };
    const held0 = await ask(analysis, 'svc.quota.reserve.analysis-service', {
      userId: victim.id,
      kind: 'analyses',
      amount: 1,
      reservationId: hold.id,
    });
    expect(held0.reply?.ok, JSON.stringify(held0)).toBe(true);
    refusedByServer(await ask(storage, 'svc.quota.release.storage-service', { reservationId: hold.id }));
    refusedByServer(await ask(gateway, 'svc.quota.release.gateway', { reservationId: hold.id }));
    const crossRelease = await ask(charts, 'svc.quota.release.chart-service', { reservationId: hold.id });
    expect(crossRelease.reply?.error?.code).toBe('FORBIDDEN');

    // Publish forged events: only their owners may.
    const forged = {
      specversion: '1.0',
      id: crypto.randomUUID(),
      type: 'x',
      source: 'mallory',
      time: new Date().toISOString(),
    };
    for (const [nc, subject] of [
      [charts, 'user.plan_changed'],
      [quotaSvc, 'user.plan_changed'],
      [storage, 'chart.deleted'],
      [gateway, 'chart.deleted'],
      [charts, 'analysis.failed'],
      [storage, 'analysis.completed'],
      [analysis, 'chart.stored'],
      [gateway, 'dlq.CHARTS.storage-charts'],
      [charts, 'quota.threshold_reached'],
      [gateway, 'quota.threshold_reached'],
    ] as const)
      refusedByServer(await ask(nc, subject, { ...forged, type: subject }));

    // Answer svc.quota.get in place of quota-service.
    const impostor = await subscribeRefused(charts, 'svc.quota.get.gateway', 'quota-service');
    await subscribeRefused(gateway, 'svc.quota.>', 'quota-service');
    for (let i = 0; i < 5; i++) {
      const q = await api(gw, 'GET', '/v1/user/quota', { token: mallory.token });
      expect(q.body.data.plan).toBe('free');
    }
    expect(impostor.n).toBe(0);

    // Add and delete streams.
    for (const nc of [gateway, charts, analysis, storage, quotaSvc]) {
      refusedByServer(await ask(nc, '$JS.API.STREAM.CREATE.EVIL', { name: 'EVIL', subjects: ['evil.>'] }));
      refusedByServer(await ask(nc, '$JS.API.STREAM.DELETE.CHARTS', {}));
      refusedByServer(await ask(nc, '$JS.API.STREAM.PURGE.USERS', {}));
      refusedByServer(await ask(nc, '$JS.API.CONSUMER.DELETE.USERS.quota-users', {}));
    }

    // Nothing forged reached a stream, so no consumer saw any; the real state is as it was.
    const after = await streamCounts();
    expect(after.USERS).toBe(before.USERS);
    expect(after.CHARTS).toBe(before.CHARTS);
    expect(after.ANALYSES).toBe(before.ANALYSES);
    expect(after.QUOTA).toBe(before.QUOTA);
    expect(after.DLQ).toBe(0);
    const plan = await api(gw, 'GET', '/v1/user/quota', { token: mallory.token });
    expect(plan.body.data.plan).toBe('free');
    const held = await stack.query<{ state: string }>(`select state from quota.reservations where id = $1`, [
      hold.id,
    ]);
    expect(held[0]!.state).toBe('held');
    expect(
      (await ask(analysis, 'svc.quota.release.analysis-service', { reservationId: hold.id })).reply?.ok,
    ).toBe(true);
    expect(await stack.query(`select 1 from quota.reservations where amount = 1000`)).toEqual([]);
    const stillThere = await api(gw, 'GET', `/v1/charts/${chartId}`, { token: victim.token });
    expect(stillThere.status).toBe(200);
    expect(stillThere.body.data.analyses).toHaveLength(1);
    expect(stillThere.body.data.analyses[0].status).toBe('completed');

    // And the legitimate flow still works, ending with a delete.
    const del = await api(gw, 'DELETE', `/v1/charts/${chartId}`, { token: victim.token });
    expect(del.status).toBe(200);
    expect((await api(gw, 'GET', `/v1/charts/${chartId}`, { token: victim.token })).status).toBe(404);
  });
});
