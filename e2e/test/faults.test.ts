import {
  eventually,
  type PrivateNats,
  type PrivatePostgres,
  type ServiceProcess,
  startPrivateNats,
  startPrivatePostgres,
} from '@chartwright/kit/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultyAnswers, Traffic, type User } from '../chaos/traffic.js';
import { createStack, type Stack } from './support.js';

/**
 * The faults production brings, on a stack of five processes with a PostgreSQL cluster and a
 * nats-server of its own (so they can be stopped and killed): sessions ended in a transaction,
 * a PostgreSQL restart, a NATS restart, and SIGTERMs under load. `pnpm chaos` runs the longer
 * matrix (kill -9 of each service included) and checks the data afterwards.
 */

const SERVICES = ['quota-service', 'storage-service', 'chart-service', 'analysis-service'] as const;
const ENV = {
  RATE_LIMIT_FREE_PER_MIN: '100000',
  RATE_LIMIT_GENERAL_PER_MIN: '100000',
  QUOTA_PLANS_JSON: JSON.stringify({ free: { charts: 100_000, analyses: 100_000 } }),
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('faults under load [postgres] [jetstream]', () => {
  let postgres: PrivatePostgres;
  let nats: PrivateNats;
  let stack: Stack;
  let traffic: Traffic;
  let users: User[];
  const procs = new Map<string, ServiceProcess>();
  const dbName = () => new URL(stack.databaseUrl).pathname.slice(1);
  const start = async (name: string) => {
    // A loaded machine starts five TypeScript processes slowly.
    const p = await stack.start(name, ENV, {
      timeoutMs: 120_000,
      ...(name === 'gateway' ? { port: stack.gatewayPort } : {}),
    });
    procs.set(name, p);
    return p;
  };
  const alive = () =>
    [...procs.values()].filter((p) => p.child.exitCode === null && p.child.signalCode === null);
  const allReady = async () => {
    for (const p of procs.values())
      if ((await fetch(`${p.url}/ready`).catch(() => undefined))?.status !== 200) return false;
    return true;
  };
  /** The flow still works end to end: a chart, and its analysis waited for to completion. */
  const flowWorks = async () => {
    const user = users[0]!;
    const chartId = await traffic.generate(user);
    if (!chartId) return false;
    const res = await traffic.call('analyze-wait', 'POST', `/v1/charts/${chartId}/analyze?wait=30`, {
      token: user.token,
      body: {},
    });
    lastBody = res?.body;
    return res?.status === 200;
  };
  let lastBody: unknown;

  beforeAll(async () => {
    const t0 = Date.now();
    [postgres, nats] = await Promise.all([startPrivatePostgres(), startPrivateNats()]);
    console.log(`[faults] private servers up in ${Date.now() - t0} ms`);
    stack = await createStack({ postgresUrl: postgres.url, natsUrl: nats.url });
    // Started together (each migrates its own schema; stream set-up is idempotent).
    await Promise.all(SERVICES.map(start));
    await start('gateway');
    console.log(`[faults] five services up in ${Date.now() - t0} ms`);
    traffic = new Traffic(() => `http://127.0.0.1:${stack.gatewayPort}`);
    users = [];
    for (let i = 0; i < 3; i++) users.push((await traffic.signup())!);
    expect(users.every(Boolean)).toBe(true);
    await eventually(flowWorks, 30_000, 500).catch((err) => {
      throw new Error(
        `${err.message}; last answers: ${JSON.stringify(traffic.outcomes.slice(-4))}; ${JSON.stringify(lastBody)}`,
      );
    });
  }, 300_000);

  afterAll(async () => {
    await stack?.close();
    await postgres?.destroy();
    await nats?.destroy();
  });

  it('six terminations of in-transaction sessions under load end no process, and the flow keeps working', async () => {
    traffic.phase = 'terminate';
    let done = false;
    const load = traffic.drive(users, { workers: 3, until: () => done, maxOps: 400 });
    const admin = new pg.Client({ connectionString: stack.databaseUrl });
    await admin.connect();
    let terminated = 0;
    try {
      // Only this stack's sessions (its own database), busy in a transaction or a statement.
      for (let round = 0; round < 6; round++) {
        await sleep(400);
        const until = Date.now() + 3_000;
        for (;;) {
          const r = await admin.query(
            `select pg_terminate_backend(pid) from pg_stat_activity
              where datname = $1 and pid <> pg_backend_pid()
                and state in ('idle in transaction', 'active')`,
            [dbName()],
          );
          if (r.rowCount || Date.now() > until) {
            terminated += r.rowCount ?? 0;
            break;
          }
          await sleep(20);
        }
      }
    } finally {
      await admin.end();
      done = true;
      await load;
    }
    expect(terminated).toBeGreaterThanOrEqual(6);
    expect(alive().map((p) => p.name)).toEqual([...procs.keys()]);
    expect(faultyAnswers(traffic.of('terminate'))).toEqual([]);
    expect(traffic.of('terminate').filter((o) => o.status === 201).length).toBeGreaterThan(0);
    expect(await eventually(flowWorks, 20_000, 250)).toBe(true);
  });

  it('a PostgreSQL restart gives only 503s with Retry-After, /ready goes false, and every service serves again by itself', async () => {
    traffic.phase = 'postgres-restart';
    let done = false;
    const load = traffic.drive(users, { workers: 3, until: () => done, maxOps: 1_000 });
    await sleep(300);
    await postgres.stop('fast');
    await sleep(1_000);
    const gatewayReady = await fetch(`${procs.get('gateway')!.url}/ready`);
    expect(gatewayReady.status).toBe(503);
    await sleep(4_000);
    await postgres.start();
    const back = Date.now();
    await eventually(allReady, 20_000, 100);
    console.log(`[faults] every service ready ${Date.now() - back} ms after PostgreSQL was back`);
    done = true;
    await load;
    const outcomes = traffic.of('postgres-restart');
    expect(alive().map((p) => p.name)).toEqual([...procs.keys()]);
    expect(faultyAnswers(outcomes)).toEqual([]);
    expect(outcomes.some((o) => o.status === 503)).toBe(true);
    expect(await eventually(flowWorks, 20_000, 250)).toBe(true);
  });

  it('during a NATS restart requests fail fast with 503 + Retry-After (none waits out a timeout), and the flow resumes', async () => {
    traffic.phase = 'nats-restart';
    let done = false;
    const load = traffic.drive(users, { workers: 3, until: () => done, maxOps: 1_000 });
    await sleep(300);
    await nats.kill();
    await sleep(5_000);
    await nats.start();
    await eventually(allReady, 20_000, 100);
    done = true;
    await load;
    const outcomes = traffic.of('nats-restart');
    const slowest = Math.max(...outcomes.map((o) => o.ms));
    console.log(`[faults] NATS restart: ${outcomes.length} requests, slowest ${slowest} ms`);
    expect(alive().map((p) => p.name)).toEqual([...procs.keys()]);
    // A 504 (TIMEOUT) or a client timeout would mean a request waited for a reply that could not come.
    expect(outcomes.filter((o) => o.status === 504 || o.status === 'timeout' || o.status === 'lost')).toEqual(
      [],
    );
    expect(faultyAnswers(outcomes)).toEqual([]);
    expect(await eventually(flowWorks, 30_000, 250)).toBe(true);
  });

  it('a SIGTERM of a service under load answers every request in flight and exits 0, well within its grace period', async () => {
    // chart-service (then started again), and last the gateway itself.
    for (const name of ['chart-service', 'gateway']) {
      traffic.phase = `sigterm-${name}`;
      let done = false;
      const load = traffic.drive(users, { workers: 4, until: () => done, maxOps: 1_000 });
      await sleep(1_000);
      const stopping = Date.now();
      const code = await procs.get(name)!.stop('SIGTERM');
      console.log(`[faults] ${name} drained and exited in ${Date.now() - stopping} ms`);
      if (name !== 'gateway') {
        await sleep(300);
        await start(name);
      }
      done = true;
      await load;
      const outcomes = traffic.of(`sigterm-${name}`);
      // Exit code 0: drained before SHUTDOWN_TIMEOUT_MS forced an exit (code 1).
      expect(code).toBe(0);
      // Answered or refused at connect (nothing listening): never a connection that died mid-request.
      expect(outcomes.filter((o) => o.status === 'lost' || o.status === 'timeout')).toEqual([]);
      expect(faultyAnswers(outcomes)).toEqual([]);
      expect(outcomes.length).toBeGreaterThan(0);
      if (name !== 'gateway') expect(await eventually(flowWorks, 20_000, 250)).toBe(true);
    }
  });
});
