import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { JetStreamBus } from '../bus/jetstream.js';
import { MemoryBus } from '../bus/memory.js';
import type { MessageBus } from '../bus/types.js';
import type { DatabaseTarget } from '../db/database.js';
import { openPGlite } from '../db/database.js';
import { createLogger } from '../logger.js';

/**
 * Test infrastructure. Integration suites run against real PostgreSQL and NATS JetStream, found
 * from `DATABASE_URL` / `NATS_URL` (defaulting to the local servers). Where neither answers,
 * suites fall back to PGlite and the in-process bus and say so; with `CI=true` a missing
 * server fails the run instead.
 */
export interface Infra {
  postgresUrl: string | null;
  natsUrl: string | null;
}

const DEFAULT_PG = 'postgres://postgres@127.0.0.1:5432/postgres';
const DEFAULT_NATS = 'nats://127.0.0.1:4222';

let cached: Promise<Infra> | undefined;

function reachable(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function hostPort(url: string, fallbackPort: number): [string, number] {
  const u = new URL(url.split(',')[0]!.trim());
  return [u.hostname, Number(u.port || fallbackPort)];
}

export function detectInfra(): Promise<Infra> {
  cached ??= (async () => {
    const pgUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? DEFAULT_PG;
    const natsUrl = process.env.NATS_URL ?? DEFAULT_NATS;
    const [pgOk, natsOk] = await Promise.all([
      reachable(...hostPort(pgUrl, 5432)),
      reachable(...hostPort(natsUrl, 4222)),
    ]);
    const infra: Infra = { postgresUrl: pgOk ? pgUrl : null, natsUrl: natsOk ? natsUrl : null };
    if (!pgOk || !natsOk) Object.assign(infra, await startContainers(!pgOk, !natsOk));
    const started = { pg: infra.postgresUrl !== null, nats: infra.natsUrl !== null };
    const missing = [
      !started.pg && `PostgreSQL (${pgUrl})`,
      !started.nats && `NATS JetStream (${natsUrl})`,
    ].filter(Boolean);
    if (missing.length) {
      const msg = `real infrastructure not reachable: ${missing.join(', ')}`;
      if (process.env.CI === 'true') throw new Error(`${msg}; CI requires it`);
      process.stderr.write(
        `\n[chartwright tests] ${msg}.\n  Suites marked [postgres] / [jetstream] run only against the embedded engines here.\n  Start the servers (or set DATABASE_URL / NATS_URL) to run them for real.\n\n`,
      );
    }
    return infra;
  })();
  return cached;
}

/**
 * Where no server answers but a container runtime exists, start throw-away containers with
 * testcontainers (removed by its reaper when the test process exits).
 */
async function startContainers(pg: boolean, nats: boolean): Promise<Partial<Infra>> {
  let tc: typeof import('testcontainers');
  try {
    tc = await import('testcontainers');
    await tc.getContainerRuntimeClient();
  } catch {
    return {};
  }
  const out: Partial<Infra> = {};
  if (pg) {
    const c = await new tc.GenericContainer('postgres:16-alpine')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts(5432)
      .withWaitStrategy(tc.Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    out.postgresUrl = `postgres://postgres@${c.getHost()}:${c.getMappedPort(5432)}/postgres`;
  }
  if (nats) {
    const c = await new tc.GenericContainer('nats:2.10-alpine')
      .withCommand(['-js'])
      .withExposedPorts(4222)
      .withWaitStrategy(tc.Wait.forLogMessage(/Server is ready/))
      .start();
    out.natsUrl = `nats://${c.getHost()}:${c.getMappedPort(4222)}`;
  }
  return out;
}

export const uniqueName = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`;

/** A database target per engine for a test: a fresh schema name is up to the caller. */
export interface TestDatabase {
  name: 'postgres' | 'pglite';
  target: DatabaseTarget;
  /** Connection string, for the real server only. */
  url?: string;
  /** Drops what the test created. */
  dropSchema(schema: string): Promise<void>;
  close(): Promise<void>;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates a fresh, empty database on the test server and returns its URL (dropped by `drop`). */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> } | null> {
  const infra = await detectInfra();
  if (!infra.postgresUrl) return null;
  const admin = infra.postgresUrl;
  const name = uniqueName('cw_test');
  await withClient(admin, (c) => c.query(`create database "${name}"`));
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: () =>
      withClient(admin, (c) => c.query(`drop database if exists "${name}" with (force)`)).then(
        () => undefined,
      ),
  };
}

export async function testDatabases(): Promise<TestDatabase[]> {
  const infra = await detectInfra();
  const out: TestDatabase[] = [];
  if (infra.postgresUrl) {
    // A fresh database per suite: services use fixed schema names, so databases isolate runs.
    const admin = infra.postgresUrl;
    const name = uniqueName('cw_test');
    await withClient(admin, (c) => c.query(`create database "${name}"`));
    const u = new URL(admin);
    u.pathname = `/${name}`;
    const url = u.toString();
    out.push({
      name: 'postgres',
      target: { kind: 'postgres', url, poolMax: 10 },
      url,
      async dropSchema(schema) {
        await withClient(url, (c) => c.query(`drop schema if exists "${schema}" cascade`));
      },
      async close() {
        await withClient(admin, (c) => c.query(`drop database if exists "${name}" with (force)`));
      },
    });
  }
  const pglite = await openPGlite();
  out.push({
    name: 'pglite',
    target: { kind: 'pglite', pglite },
    async dropSchema() {},
    close: () => pglite.close(),
  });
  return out;
}

export interface TestBus {
  name: 'jetstream' | 'memory';
  bus: MessageBus;
  /** Opens another connection to the same bus (a second process, as far as the bus knows). */
  reconnect(): Promise<MessageBus>;
  cleanup(): Promise<void>;
}

/** Both adapters where NATS answers; each JetStream bus gets its own stream names. */
export async function testBuses(): Promise<TestBus[]> {
  const infra = await detectInfra();
  const logger = createLogger('test', 'silent');
  const memory = new MemoryBus(logger);
  const out: TestBus[] = [
    { name: 'memory', bus: memory, reconnect: async () => memory, cleanup: () => memory.close() },
  ];
  if (infra.natsUrl) {
    const prefix = uniqueName('T').toUpperCase();
    const servers = infra.natsUrl;
    const open = () => JetStreamBus.connect({ servers, name: prefix, logger, streamPrefix: `${prefix}_` });
    const js = await open();
    await js.ensureStreams();
    const extra: JetStreamBus[] = [];
    out.unshift({
      name: 'jetstream',
      bus: js,
      reconnect: async () => {
        const b = await open();
        extra.push(b);
        return b;
      },
      async cleanup() {
        await js.deleteStreams();
        for (const b of extra) await b.close();
        await js.close();
      },
    });
  }
  return out;
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(
  fn: () => Promise<T> | T,
  timeoutMs = 10_000,
  stepMs = 25,
): Promise<Exclude<T, null | undefined | false | 0 | ''>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as Exclude<T, null | undefined | false | 0 | ''>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
export * from './fixtures.js';
export * from './openapi-check.js';
export * from './processes.js';
export * from './servers.js';

/**
 * The engines a suite runs on, cleaned up by the suite's `afterAll`: `pairs` puts the real
 * PostgreSQL with JetStream and PGlite with the in-process bus (where the real ones are missing,
 * only the embedded pair), labelled for `describe.each`.
 */
export async function testEngines(afterAll: (fn: () => Promise<void>) => void) {
  const buses = await testBuses();
  const databases = await testDatabases();
  afterAll(async () => {
    for (const b of buses) await b.cleanup();
    for (const d of databases) await d.close();
  });
  const pairs = databases.map((db, i) => {
    const bus = buses[Math.min(i, buses.length - 1)]!;
    return [`${db.name}+${bus.name}`, db, bus] as const;
  });
  return { buses, databases, pairs };
}
