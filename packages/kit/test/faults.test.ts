import { defineRpc, UserRegistered } from '@chartwright/contracts';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  BusError,
  callRpc,
  consumeEvents,
  createLogger,
  type Database,
  encodeEvent,
  isDatabaseUnavailable,
  JetStreamBus,
  MemoryBus,
  type MessageBus,
  makeEvent,
  newId,
  on,
  openDatabase,
  ServiceError,
  serveRpc,
} from '../src/index.js';
import {
  createTestDatabase,
  eventually,
  type PrivateNats,
  type PrivatePostgres,
  startPrivateNats,
  startPrivatePostgres,
  testBuses,
  uniqueName,
} from '../src/testing/index.js';

const logger = createLogger('test', 'silent');
const Echo = defineRpc('svc.faults.echo', z.object({ n: z.number() }), z.object({ n: z.number() }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const tdb = await createTestDatabase();
const dbName = tdb ? new URL(tdb.url).pathname.slice(1) : '';

/** Ends this test database's sessions (never another's) that match `state`, from a separate connection. */
async function terminate(state: 'idle in transaction' | 'active' | 'any'): Promise<number> {
  const admin = new pg.Client({ connectionString: tdb!.url });
  await admin.connect();
  try {
    const r = await admin.query(
      `select pg_terminate_backend(pid) as ok from pg_stat_activity
        where datname = $1 and pid <> pg_backend_pid() and ($2 = 'any' or state = $2)`,
      [dbName, state],
    );
    return r.rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

describe.runIf(tdb)('a PostgreSQL session ended under a service [postgres]', () => {
  let database: Database<{ t: { id: number } }>;
  beforeAll(async () => {
    database = openDatabase({ kind: 'postgres', url: tdb!.url, poolMax: 4 }, 'faults');
    await sql`create schema faults`.execute(database.db);
    await sql`create table faults.t (id int primary key)`.execute(database.db);
  });
  afterAll(async () => {
    await database?.destroy();
    await tdb?.drop();
  });

  it('inside a transaction (idle, between statements) fails that unit of work, not the process, and the pool recovers', async () => {
    let caught: unknown;
    await database.db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('t').values({ id: 1 }).execute();
        // The checked-out client is idle in its transaction when the server ends the session:
        // node-postgres emits 'error' on it, which without a listener exits the process.
        expect(await eventually(() => terminate('idle in transaction'))).toBe(1);
        await sleep(200);
        await trx.insertInto('t').values({ id: 2 }).execute();
      })
      .catch((err) => {
        caught = err;
      });
    expect(caught).toBeDefined();
    expect(isDatabaseUnavailable(caught)).toBe(true);
    // Nothing of the failed unit was committed, and the next unit works.
    await database.db.insertInto('t').values({ id: 3 }).execute();
    expect(await database.db.selectFrom('t').select('id').orderBy('id').execute()).toEqual([{ id: 3 }]);
  });

  it('during a statement, several times over under light load: every unit ends (done or failed cleanly) and the rest keep working', async () => {
    let n = 100;
    let stop = false;
    const outcomes = { ok: 0, unavailable: 0, other: 0 };
    const worker = async () => {
      while (!stop) {
        const id = n++;
        try {
          await database.db.transaction().execute(async (trx) => {
            await trx.insertInto('t').values({ id }).execute();
            await sql`select pg_sleep(0.02)`.execute(trx);
          });
          outcomes.ok++;
        } catch (err) {
          if (isDatabaseUnavailable(err)) outcomes.unavailable++;
          else outcomes.other++;
        }
      }
    };
    const workers = [worker(), worker(), worker()];
    let terminated = 0;
    for (let i = 0; i < 6; i++) {
      await sleep(150);
      terminated += await terminate('any');
    }
    stop = true;
    await Promise.all(workers);
    expect(terminated).toBeGreaterThanOrEqual(6);
    expect(outcomes.other).toBe(0);
    expect(outcomes.unavailable).toBeGreaterThan(0);
    expect(outcomes.ok).toBeGreaterThan(0);
    await database.db.insertInto('t').values({ id: n++ }).execute();
    await database.ping();
  });

  it('is answered over request/reply as 503 SERVICE_UNAVAILABLE with a retry hint, not INTERNAL', async () => {
    const bus = new MemoryBus(logger);
    const sub = await serveRpc(bus, Echo, 'q', logger, async (req) => {
      await database.db.transaction().execute(async (trx) => {
        await trx.selectFrom('t').select('id').execute();
        await terminate('idle in transaction');
        await sleep(100);
        await trx.selectFrom('t').select('id').execute();
      });
      return req;
    });
    const err = await callRpc(bus, Echo, { n: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE', details: { retryAfterSeconds: 2 } });
    await sub.stop();
    await bus.close();
  });
});

describe('a consumer whose database is away', () => {
  it('retries the event in place without spending its tries, and applies it once the database answers', async () => {
    const bus = new MemoryBus(logger);
    let calls = 0;
    const deliveries: number[] = [];
    const done = new Promise<void>((resolve) => {
      void consumeEvents(
        bus,
        { stream: 'USERS', durable: 'faults', filterSubject: 'user.>' },
        [
          on(UserRegistered, async (_e, d) => {
            deliveries.push(d.deliveryCount);
            if (++calls < 3)
              throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
            resolve();
          }),
        ],
        logger,
      );
    });
    const e = makeEvent(
      UserRegistered,
      { userId: newId(), email: 'a@example.com', name: null, plan: 'free', role: 'user' },
      { source: 'test' },
    );
    await bus.publish(e.type, encodeEvent(e), { msgId: e.id });
    await done;
    expect(deliveries).toEqual([1, 1, 1]);
    await bus.close();
  });
});

describe('PostgreSQL restarted under a pool [postgres]', () => {
  let server: PrivatePostgres;
  beforeAll(async () => {
    server = await startPrivatePostgres();
  }, 60_000);
  afterAll(async () => server?.destroy());

  it('fails units of work as unavailable while it is down and serves again by itself once it is back', async () => {
    const database = openDatabase({ kind: 'postgres', url: server.url, poolMax: 3 }, 'public');
    try {
      await database.ping();
      await server.stop('fast');
      const down = await database.ping().catch((e) => e);
      expect(isDatabaseUnavailable(down)).toBe(true);
      await server.start();
      await eventually(() => database.ping().then(() => true), 10_000, 100);
    } finally {
      await database.destroy();
    }
  }, 60_000);
});

const buses = await testBuses();
const jetstream = buses.find((b) => b.name === 'jetstream');
afterAll(async () => {
  for (const b of buses) await b.cleanup();
});

type Pair = { bus: MessageBus; other?: MessageBus };
const servers: [string, () => Promise<Pair>][] = [['memory', async () => ({ bus: new MemoryBus(logger) })]];
if (jetstream)
  servers.push(['jetstream', async () => ({ bus: jetstream.bus, other: await jetstream.reconnect() })]);

describe.each(servers)('a request/reply server stopped while requests run [%s]', (_name, open) => {
  it('lets the running handlers answer before its stop resolves, and tells waiting ones to finish', async () => {
    const { bus, other } = await open();
    // The server on its own connection, as a separate process would have it.
    const server = other ?? bus;
    let started = 0;
    let aborted = 0;
    const sub = await serveRpc(server, Echo, uniqueName('q'), logger, async (req, _h, signal) => {
      started++;
      await sleep(300);
      // A long wait (a result the caller waits for) ends when the server stops.
      if (req.n === 0) {
        if (!signal.aborted)
          await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
        aborted++;
      }
      return req;
    });
    const calls = [0, 1, 2, 3, 4].map((n) => callRpc(bus, Echo, { n }, { timeoutMs: 10_000 }));
    await eventually(() => started === 5);
    await sub.stop();
    // What a host does next: close the connection. Replies sent before it are delivered.
    if (other) await other.close();
    expect(await Promise.all(calls)).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
    expect(aborted).toBe(1);
  }, 20_000);
});

describe('request/reply across a NATS restart [jetstream]', () => {
  let nats: PrivateNats;
  beforeAll(async () => {
    nats = await startPrivateNats();
  }, 30_000);
  afterAll(async () => nats?.destroy());

  it('fails requests in flight at the disconnect at once, fails new ones at once while it is down, and serves after it is back', async () => {
    const connect = () => JetStreamBus.connect({ servers: nats.url, name: 'faults', logger });
    const server = await connect();
    const client = await connect();
    try {
      let answered = 0;
      const sub = await serveRpc(server, Echo, 'q', logger, async (req) => {
        if (req.n === 0) await sleep(60_000);
        answered++;
        return req;
      });
      expect(await callRpc(client, Echo, { n: 1 })).toEqual({ n: 1 });
      // Waits far longer than this test may run: only a fast failure ends it in time.
      const inFlight = callRpc(client, Echo, { n: 0 }, { timeoutMs: 120_000 }).catch((e) => e);
      await sleep(200);
      await nats.kill();
      const err = await inFlight;
      expect(err).toBeInstanceOf(ServiceError);
      expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE', details: { retryAfterSeconds: 2 } });
      const whileDown = await client.request(Echo.subject, { n: 2 }, { timeoutMs: 120_000 }).catch((e) => e);
      expect(whileDown).toBeInstanceOf(BusError);
      expect((whileDown as BusError).code).toBe('DISCONNECTED');

      await nats.start();
      expect(
        await eventually(() => callRpc(client, Echo, { n: 3 }, { timeoutMs: 2_000 }), 20_000, 200),
      ).toEqual({ n: 3 });
      expect(answered).toBe(2);
      void sub;
    } finally {
      await client.close().catch(() => undefined);
      await server.close().catch(() => undefined);
    }
  }, 60_000);
});
