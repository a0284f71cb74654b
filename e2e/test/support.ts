import { randomBytes } from 'node:crypto';
import { QuotaSetPlan } from '@chartwright/contracts';
import { callRpc, createLogger, type MessageBus, newId, openBus, publishEvent } from '@chartwright/kit';
import {
  chartGeneratedEvent,
  createTestDatabase,
  detectInfra,
  eventually,
  freePort,
  type ServiceProcess,
  startServiceProcess,
  uniqueName,
} from '@chartwright/kit/testing';
import { startS3rver } from '@chartwright/object-store/testing';
import pg from 'pg';
import { watchGateway } from './openapi-check.js';

export interface Stack {
  env: Record<string, string>;
  databaseUrl: string;
  /**
   * The port reserved for the gateway: `PUBLIC_URL` (the base of signed file links) points at it,
   * so start the gateway with `stack.start('gateway', {}, { port: stack.gatewayPort })`.
   */
  gatewayPort: number;
  /** The stack's s3rver and bucket (also in `env` as `S3_ENDPOINT` / `S3_BUCKET`). */
  s3: { endpoint: string; bucket: string };
  processes: ServiceProcess[];
  /** Spawns a service; `opts.port` defaults to a free port. */
  start(
    service: string,
    extraEnv?: Record<string, string>,
    opts?: { port?: number; nodeArgs?: string[]; timeoutMs?: number },
  ): Promise<ServiceProcess>;
  query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * A distributed stack for one test: its own database on the real PostgreSQL, its own stream
 * and subject prefix on the real NATS, its own Redis key prefix, its own s3rver and bucket.
 * Services are separate processes.
 */
export async function createStack(servers: { postgresUrl?: string; natsUrl?: string } = {}): Promise<Stack> {
  const infra = { ...(await detectInfra()), ...servers };
  if (!infra.postgresUrl || !infra.natsUrl) throw new Error('the distributed tests need PostgreSQL and NATS');
  const db = servers.postgresUrl ? await databaseOn(servers.postgresUrl) : await createTestDatabase();
  if (!db) throw new Error('no database');
  const prefix = uniqueName('E').toUpperCase();
  const s3rver = await startS3rver();
  const bucket = `cw-e2e-${randomBytes(6).toString('hex')}`;
  const gatewayPort = await freePort();
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    NATS_URL: infra.natsUrl,
    BUS_PREFIX: prefix,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: `${prefix}:`,
    RATE_LIMIT_AUTH_PER_MIN: '1000',
    DATABASE_POOL_MAX: '4',
    ...s3rver.env(bucket),
    SIGNING_SECRET: randomBytes(32).toString('hex'),
    PUBLIC_URL: `http://127.0.0.1:${gatewayPort}`,
  };
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  // A fault test restarts the server under it: an idle client's error must not end the run.
  pool.on('error', () => undefined);
  const processes: ServiceProcess[] = [];
  return {
    env,
    databaseUrl: db.url,
    gatewayPort,
    s3: { endpoint: s3rver.endpoint, bucket },
    processes,
    async start(service, extraEnv = {}, opts = {}) {
      // A port checked free can still be taken before the service binds it: try another.
      for (let attempt = 1; ; attempt++) {
        const port = opts.port ?? (await freePort());
        try {
          const p = await startServiceProcess(
            service,
            { ...env, ...extraEnv },
            { port, nodeArgs: opts.nodeArgs, timeoutMs: opts.timeoutMs },
          );
          processes.push(p);
          if (service === 'gateway') await watchGateway(p.url);
          return p;
        } catch (err) {
          if (opts.port || attempt >= 3 || !String((err as Error).message).includes('EADDRINUSE')) throw err;
        }
      }
    },
    async query(sql, params) {
      return (await pool.query(sql, params as unknown[])).rows;
    },
    async close() {
      await Promise.all(processes.map((p) => p.stop('SIGKILL')));
      await pool.end();
      await deleteStreams(infra.natsUrl!, prefix);
      await db.drop();
      await s3rver.close();
    },
  };
}

/** A fresh database on the server at `adminUrl` (a private cluster of a fault test). */
async function databaseOn(adminUrl: string) {
  const name = uniqueName('cw_test');
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`create database "${name}"`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => admin(`drop database if exists "${name}" with (force)`) };
}

async function deleteStreams(natsUrl: string, prefix: string) {
  const { JetStreamBus } = await import('@chartwright/kit');
  const { createLogger } = await import('@chartwright/kit');
  const bus = await JetStreamBus.connect({
    servers: natsUrl,
    name: 'cleanup',
    logger: createLogger('t', 'silent'),
    streamPrefix: `${prefix}_`,
  });
  await bus.deleteStreams();
  await bus.close();
}

export async function api(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...opts.headers,
    },
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, body: json };
}

/** Test-side access to a stack: its bus (to publish chart events) and its S3 bucket. */
/** A small PNG stand-in for a chart image. */
export const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  randomBytes(1024),
]);

export class StackClient {
  private constructor(
    readonly stack: Stack,
    readonly bus: MessageBus,
  ) {}

  static async open(stack: Stack) {
    const bus = await openBus({
      natsUrl: stack.env.NATS_URL,
      name: 'e2e-analyses',
      logger: createLogger('e2e', 'silent'),
      prefix: stack.env.BUS_PREFIX,
    });
    // s3rver takes unsigned requests; make sure the bucket exists whoever starts first.
    await fetch(`${stack.s3.endpoint}/${stack.s3.bucket}`, { method: 'PUT' });
    return new StackClient(stack, bus);
  }

  /** Stores a PNG under the chart's key and announces it as chart-service would. */
  async chart(userId: string): Promise<string> {
    const chartId = newId();
    const objectKey = `users/${userId}/charts/${chartId}.png`;
    const put = await fetch(`${this.stack.s3.endpoint}/${this.stack.s3.bucket}/${objectKey}`, {
      method: 'PUT',
      headers: { 'content-type': 'image/png' },
      body: PNG,
    });
    if (!put.ok) throw new Error(`s3 put failed: ${put.status}`);
    await publishEvent(
      this.bus,
      chartGeneratedEvent({
        chartId,
        userId,
        objectKey,
        size: PNG.length,
        symbol: 'BINANCE:BTCUSDT',
        interval: '4h',
        range: '3M',
        source: 'e2e',
      }),
    );
    // As after a real generation: analysis-service has learnt the chart from its event.
    await eventually(
      async () =>
        (await this.stack.query(`select 1 from analysis.known_charts where chart_id = $1`, [chartId])).length,
    );
    return chartId;
  }

  async user(email: string, plan: 'free' | 'pro' | 'enterprise' = 'free') {
    const gateway = this.stack.processes.find((p) => p.name === 'gateway')!;
    const applied = async () =>
      (await this.stack.query(`select 1 from quota.inbox where consumer = 'quota-users'`)).length;
    const before = await applied();
    const res = await api(gateway.url, 'POST', '/v1/auth/signup', {
      body: { email, password: 'long enough pw' },
    });
    if (res.status !== 201) throw new Error(`signup: ${res.status}`);
    const userId = res.body.data.user.id as string;
    // Let quota-service apply user.registered first, so the plan set below is not overwritten.
    await eventually(async () => (await applied()) > before);
    if (plan !== 'free') await callRpc(this.bus, QuotaSetPlan, { userId, plan });
    return { userId, token: res.body.data.token as string, url: gateway.url };
  }

  close() {
    return this.bus.close();
  }
}

export async function sse(url: string, token: string): Promise<string[]> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]!);
}

/** A valid answer of the fake model (its `submit_analysis` tool input). */
export const TOOL_INPUT = {
  trend: 'neutral',
  signals: ['RSI(14) 51 flat'],
  recommendation: 'NEUTRAL',
  entryPrice: null,
  stopLoss: null,
  takeProfit: null,
  confidence: 4,
  analysisText: 'No edge.',
  keyLevels: { support: [], resistance: [] },
};
