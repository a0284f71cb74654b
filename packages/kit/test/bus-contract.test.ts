import { UserRegistered } from '@chartwright/contracts';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyOnce,
  consumeEvents,
  createLogger,
  type Delivery,
  encodeEvent,
  enqueueEvent,
  executeWithEvent,
  type JetStreamBus,
  type MessageBus,
  makeEvent,
  migrateToLatest,
  newId,
  OutboxRelay,
  on,
  openDatabase,
  type PublishOptions,
  pruneInbox,
  publishEvent,
  watchEvents,
} from '../src/index.js';
import {
  eventually,
  type TestBus,
  type TestDatabase,
  testBuses,
  testDatabases,
  uniqueName,
} from '../src/testing/index.js';

const logger = createLogger('test', 'silent');
const buses = await testBuses();
const databases = await testDatabases();

afterAll(async () => {
  for (const b of buses) await b.cleanup();
  for (const d of databases) await d.close();
});

/** The real bus, refusing to publish the events `refuse` picks; `published` lists the others. */
const refusing = (bus: MessageBus, refuse: (msgId: string) => boolean, published: string[] = []) =>
  Object.create(bus, {
    publish: {
      value: async (subject: string, data: Uint8Array, opts: PublishOptions) => {
        if (refuse(opts.msgId)) throw new Error('injected publish failure');
        published.push(opts.msgId);
        return bus.publish(subject, data, opts);
      },
    },
  }) as MessageBus;

/** Ids of the `user.registered` events a fresh durable consumer receives. */
async function watchRegistrations(bus: MessageBus) {
  const seen: string[] = [];
  const sub = await bus.consume(
    { stream: 'USERS', durable: uniqueName('c'), filterSubject: 'user.registered' },
    async (d) => {
      seen.push(JSON.parse(new TextDecoder().decode(d.data)).id);
      d.ack();
    },
  );
  return { seen, sub };
}

const registered = (email = 'a@example.com') =>
  makeEvent(
    UserRegistered,
    { userId: newId(), email, name: null, plan: 'free', role: 'user' },
    { source: 'test' },
  );

describe.each(buses.map((b) => [b.name, b] as const))('bus contract [%s]', (_name, tb: TestBus) => {
  const bus = tb.bus;
  /** What consumer `durable` dead-letters from USERS. */
  const watchDeadLetters = async (durable: string) => {
    const dead: Delivery[] = [];
    const sub = await bus.consume(
      { stream: 'DLQ', durable: uniqueName('dlq'), filterSubject: `dlq.USERS.${durable}` },
      async (d) => {
        dead.push(d);
        d.ack();
      },
    );
    return { dead, sub };
  };

  it('publishes and consumes with explicit ack, once', async () => {
    const durable = uniqueName('c');
    const got: string[] = [];
    const sub = await bus.consume(
      { stream: 'USERS', durable, filterSubject: 'user.registered' },
      async (d) => {
        got.push(JSON.parse(new TextDecoder().decode(d.data)).id);
        d.ack();
      },
    );
    const e = registered();
    await publishEvent(bus, e);
    await eventually(() => got.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual([e.id]);
    await sub.stop();
  });

  it('shares a durable between subscribers like replicas; one stopping leaves the other consuming', async () => {
    const durable = uniqueName('c');
    const spec = { stream: 'USERS' as const, durable, filterSubject: 'user.registered' };
    const got: Record<'a' | 'b', string[]> = { a: [], b: [] };
    const subscriber = (name: 'a' | 'b') =>
      bus.consume({ ...spec, concurrency: 2 }, async (d) => {
        got[name].push(JSON.parse(new TextDecoder().decode(d.data)).id);
        await new Promise((r) => setTimeout(r, 5));
        d.ack();
      });
    const [a, b] = await Promise.all([subscriber('a'), subscriber('b')]);
    const first = Array.from({ length: 8 }, () => registered());
    for (const e of first) await publishEvent(bus, e);
    const all = () => [...got.a, ...got.b];
    await eventually(() => first.every((e) => all().includes(e.id)));
    await a.stop();
    const later = Array.from({ length: 3 }, () => registered());
    for (const e of later) await publishEvent(bus, e);
    await eventually(() => later.every((e) => got.b.includes(e.id)));
    await new Promise((r) => setTimeout(r, 200));
    // Each message to exactly one of them (the stream also holds other tests' events).
    const ours = new Set([...first, ...later].map((e) => e.id));
    expect(
      all()
        .filter((id) => ours.has(id))
        .sort(),
    ).toEqual([...ours].sort());
    await b.stop();
  });

  it('hands a busy subscriber no message it has no slot for (it would outlive its ack wait waiting)', async () => {
    const durable = uniqueName('c');
    const spec = { stream: 'USERS' as const, durable, filterSubject: 'user.registered' };
    const sent = Array.from({ length: 3 }, () => registered());
    const ours = new Set(sent.map((e) => e.id));
    const deliveries: number[] = [];
    // Ack every older event at once, so only ours take time.
    const sub = await bus.consume(
      { ...spec, concurrency: 1, ackWaitMs: 1_000, longJobs: true },
      async (d) => {
        if (!ours.has(JSON.parse(new TextDecoder().decode(d.data)).id)) return d.ack();
        deliveries.push(d.deliveryCount);
        // A long job that says it is alive, as analysis jobs do.
        const alive = setInterval(() => d.working(), 300);
        await new Promise((r) => setTimeout(r, 1_300));
        clearInterval(alive);
        d.ack();
      },
    );
    for (const e of sent) await publishEvent(bus, e);
    await eventually(() => deliveries.length >= 3, 15_000);
    await new Promise((r) => setTimeout(r, 500));
    await sub.stop();
    expect(deliveries).toEqual([1, 1, 1]);
  }, 30_000);

  it('redelivers after nak, counting deliveries', async () => {
    const durable = uniqueName('c');
    const counts: number[] = [];
    const e = registered();
    const sub = await bus.consume(
      { stream: 'USERS', durable, filterSubject: 'user.registered' },
      async (d) => {
        if (JSON.parse(new TextDecoder().decode(d.data)).id !== e.id) return d.ack();
        counts.push(d.deliveryCount);
        if (d.deliveryCount === 1) d.nak(50);
        else d.ack();
      },
    );
    await publishEvent(bus, e);
    await eventually(() => counts.length === 2);
    expect(counts).toEqual([1, 2]);
    await sub.stop();
  });

  it('drops a repeated event id (Nats-Msg-Id de-duplication)', async () => {
    const e = registered();
    const first = await bus.publish(e.type, encodeEvent(e), { msgId: e.id });
    const second = await bus.publish(e.type, encodeEvent(e), { msgId: e.id });
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    const durable = uniqueName('c');
    const seen: string[] = [];
    const sub = await bus.consume(
      { stream: 'USERS', durable, filterSubject: 'user.registered' },
      async (d) => {
        seen.push(JSON.parse(new TextDecoder().decode(d.data)).id);
        d.ack();
      },
    );
    await eventually(() => seen.includes(e.id));
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.filter((id) => id === e.id)).toHaveLength(1);
    await sub.stop();
  });

  it('resumes a durable consumer where it left off', async () => {
    const durable = uniqueName('c');
    const seen: string[] = [];
    const handler = async (d: Delivery) => {
      seen.push(JSON.parse(new TextDecoder().decode(d.data)).id);
      d.ack();
    };
    const spec = { stream: 'USERS' as const, durable, filterSubject: 'user.plan_changed' };
    let sub = await bus.consume(spec, handler);
    await sub.stop();
    const id = newId();
    await bus.publish('user.plan_changed', new TextEncoder().encode(JSON.stringify({ id })), { msgId: id });
    sub = await bus.consume(spec, handler);
    await eventually(() => seen.includes(id));
    await sub.stop();
  });

  it('dead-letters a malformed message without blocking the next one', async () => {
    const durable = uniqueName('c');
    const handled: string[] = [];
    const good = registered();
    const invalidId = newId();
    const sub = await consumeEvents(
      bus,
      { stream: 'USERS', durable, filterSubject: 'user.registered' },
      [
        on(UserRegistered, async (e) => {
          if (e.id === good.id || e.id === invalidId) handled.push(e.id);
        }),
      ],
      logger,
    );
    const garbageId = newId();
    await bus.publish('user.registered', new TextEncoder().encode('{not json'), { msgId: garbageId });
    const invalid = { ...registered(), id: invalidId, data: { userId: 'nope' } };
    await bus.publish('user.registered', encodeEvent(invalid as never), { msgId: invalid.id });
    await publishEvent(bus, good);
    await eventually(() => handled.includes(good.id));
    expect(handled).toEqual([good.id]);

    const { dead, sub: dlq } = await watchDeadLetters(durable);
    await eventually(() => dead.length === 2);
    expect(dead.map((d) => d.headers['Dlq-Reason'])).toEqual([
      'not a valid event envelope',
      expect.stringContaining('invalid user.registered'),
    ]);
    await dlq.stop();
    await sub.stop();
  });

  it('retries a failing handler with backoff, then dead-letters it', async () => {
    const durable = uniqueName('c');
    const attempts: number[] = [];
    const e = registered();
    const sub = await consumeEvents(
      bus,
      { stream: 'USERS', durable, filterSubject: 'user.registered', maxDeliver: 3, backoffMs: [20, 40] },
      [
        on(UserRegistered, async (event, d) => {
          if (event.id !== e.id) return;
          attempts.push(d.deliveryCount);
          throw new Error('boom');
        }),
      ],
      logger,
    );
    await publishEvent(bus, e);
    const { dead, sub: dlq } = await watchDeadLetters(durable);
    await eventually(() =>
      dead.some(
        (d) => d.headers['Ce-Type'] === 'user.registered' && d.headers['Dlq-Reason']?.startsWith('failed'),
      ),
    );
    expect(attempts).toEqual([1, 2, 3]);
    expect(dead.find((d) => d.headers['Dlq-Reason']?.startsWith('failed'))!.headers['Dlq-Reason']).toContain(
      'failed 3 times',
    );
    await dlq.stop();
    await sub.stop();
  });

  it('dead-letters a message whose last try died unsettled, instead of dropping it', async () => {
    const durable = uniqueName('c');
    const e = registered();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const attempts: number[] = [];
    const sub = await consumeEvents(
      bus,
      {
        stream: 'USERS',
        durable,
        filterSubject: 'user.registered',
        maxDeliver: 2,
        ackWaitMs: 400,
        concurrency: 4,
      },
      [
        // Every try hangs, as a crashed worker would: its ack wait runs out.
        on(UserRegistered, async (event) => {
          if (event.id !== e.id) return;
          attempts.push(attempts.length + 1);
          await released;
        }),
      ],
      logger,
    );
    const { dead, sub: dlq } = await watchDeadLetters(durable);
    try {
      await publishEvent(bus, e);
      // The dead letters include other tests' malformed messages.
      const ours = (d: Delivery) => new TextDecoder().decode(d.data).includes(e.id);
      await eventually(() => dead.some(ours), 10_000);
      expect(attempts).toEqual([1, 2]);
      expect(dead.find(ours)!.headers['Dlq-Reason']).toContain('last of 2 tries');
    } finally {
      release();
      await dlq.stop();
      await sub.stop();
    }
  });

  it('watch: every watcher sees every new message of its filter, none from before', async () => {
    const before = registered('before@example.com');
    await publishEvent(bus, before);
    const a: string[] = [];
    const b: string[] = [];
    const idOf = (data: Uint8Array) => JSON.parse(new TextDecoder().decode(data)).id as string;
    const wa = await bus.watch({ stream: 'USERS', filterSubject: 'user.registered' }, (m) => {
      a.push(idOf(m.data));
    });
    const wb = await bus.watch({ stream: 'USERS', filterSubject: 'user.*' }, (m) => {
      b.push(idOf(m.data));
    });
    // A durable on the same stream is not disturbed, and does not take the watchers' messages.
    const { seen, sub } = await watchRegistrations(bus);
    try {
      const events = [registered('w1@example.com'), registered('w2@example.com')];
      for (const e of events) await publishEvent(bus, e);
      const ids = events.map((e) => e.id);
      await eventually(() => ids.every((id) => a.includes(id) && b.includes(id) && seen.includes(id)));
      expect(a).not.toContain(before.id);
      expect(b).not.toContain(before.id);
      expect(a.filter((id) => ids.includes(id))).toEqual(ids);
      await wa.stop();
      await wb.stop();
      const after = registered('after@example.com');
      await publishEvent(bus, after);
      await eventually(() => seen.includes(after.id));
      expect(a).not.toContain(after.id);
      expect(b).not.toContain(after.id);
    } finally {
      await wa.stop();
      await wb.stop();
      await sub.stop();
    }
  });

  it('watchEvents hands typed events to their handler and skips invalid ones', async () => {
    const got: string[] = [];
    const sub = await watchEvents(
      bus,
      { stream: 'USERS', filterSubject: 'user.registered' },
      [
        on(UserRegistered, (e) => {
          got.push(e.data.email);
        }),
      ],
      logger,
    );
    try {
      const invalid = { ...registered(), data: { userId: 'nope' } };
      await bus.publish('user.registered', encodeEvent(invalid as never), { msgId: invalid.id });
      const good = registered('typed@example.com');
      await publishEvent(bus, good);
      await eventually(() => got.includes('typed@example.com'));
      expect(got).toEqual(['typed@example.com']);
    } finally {
      await sub.stop();
    }
  });

  it('serves request/reply in a queue group shared by replicas', async () => {
    const subject = `svc.${uniqueName('t')}.echo`;
    const served = { a: 0, b: 0 };
    const other = await tb.reconnect();
    const s1 = await bus.serve(subject, 'echo', async (p) => {
      served.a++;
      return { echo: p };
    });
    const s2 = await other.serve(subject, 'echo', async (p) => {
      served.b++;
      return { echo: p };
    });
    if (tb.name === 'jetstream') await new Promise((r) => setTimeout(r, 100));
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => bus.request(subject, { i })));
    expect(replies).toEqual(Array.from({ length: 40 }, (_, i) => ({ echo: { i } })));
    expect(served.a + served.b).toBe(40);
    expect(served.a).toBeGreaterThan(0);
    expect(served.b).toBeGreaterThan(0);
    await s1.stop();
    await s2.stop();
    await expect(bus.request(`svc.${uniqueName('none')}.x`, {}, { timeoutMs: 500 })).rejects.toMatchObject({
      code: 'NO_RESPONDERS',
    });
  });

  it('watch: watchers on other connections each see every new message too, beside a durable', async () => {
    const before = registered('before@example.com');
    await publishEvent(bus, before);
    const other = await tb.reconnect();
    const seenA: string[] = [];
    const seenB: string[] = [];
    const typed: string[] = [];
    const a = await bus.watch({ stream: 'USERS', filterSubject: 'user.registered' }, (m) => {
      seenA.push(JSON.parse(new TextDecoder().decode(m.data)).id);
    });
    const b = await other.watch({ stream: 'USERS', filterSubject: 'user.>' }, (m) => {
      seenB.push(JSON.parse(new TextDecoder().decode(m.data)).id);
    });
    const c = await watchEvents(
      bus,
      { stream: 'USERS', filterSubject: 'user.>' },
      [on(UserRegistered, (e) => void typed.push(e.data.email))],
      logger,
    );
    // A durable sharing the stream does not take broadcasts away from watchers.
    const { seen: durable, sub } = await watchRegistrations(bus);
    const events = [registered('x1@example.com'), registered('x2@example.com')];
    for (const e of events) await publishEvent(bus, e);
    const ids = events.map((e) => e.id);
    await eventually(() => seenA.length >= 2 && seenB.length >= 2 && typed.length >= 2);
    expect(seenA).toEqual(ids);
    expect(seenB).toEqual(ids);
    expect(typed).toEqual(['x1@example.com', 'x2@example.com']);
    await eventually(() => durable.length >= 3);
    await Promise.all([a.stop(), b.stop(), c.stop(), sub.stop()]);
    await publishEvent(bus, registered('after@example.com'));
    await new Promise((r) => setTimeout(r, 200));
    expect(seenA).toEqual(ids);
  });

  describe.each(databases.map((d) => [d.name, d] as const))('with %s', (_db, tdb: TestDatabase) => {
    const schema = uniqueName('kit_test');
    const database = openDatabase<any>(tdb.target, schema);
    beforeAll(async () => {
      await migrateToLatest(database.db, schema, {
        '2026-11-27T00-00-00-effects': {
          async up(db) {
            await db.schema
              .createTable('effects')
              .addColumn('event_id', 'uuid', (c) => c.notNull())
              .execute();
          },
        },
      });
    });
    afterAll(async () => {
      await database.destroy();
      await tdb.dropSchema(schema);
    });

    it('keeps an outbox event written before a crash and publishes it after restart', async () => {
      const e = registered('outbox@example.com');
      // The "crashed" process: state change and event committed, never published.
      await database.db.transaction().execute(async (trx) => {
        await trx.insertInto('effects').values({ event_id: e.id }).execute();
        await enqueueEvent(trx, e);
      });
      const { seen, sub } = await watchRegistrations(bus);
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).not.toContain(e.id);
      // The restarted process: its relay finds the row.
      const relay = new OutboxRelay(database.db, bus, logger);
      expect(await relay.drain()).toBeGreaterThanOrEqual(1);
      await eventually(() => seen.includes(e.id));
      const left = await database.db
        .selectFrom('outbox')
        .select(sql<number>`count(*)::int`.as('n'))
        .executeTakeFirst();
      expect(left?.n).toBe(0);
      await sub.stop();
    });

    it('keeps an event whose publish failed, records why, and sends only it on the next pass', async () => {
      const events = [
        registered('r1@example.com'),
        registered('r2@example.com'),
        registered('r3@example.com'),
      ];
      await database.db.transaction().execute(async (trx) => {
        for (const e of events) await enqueueEvent(trx, e);
      });
      const failing = events[1]!.id;
      const published: string[] = [];
      let broken = true;
      const flaky = refusing(bus, (id) => broken && id === failing, published);
      const relay = new OutboxRelay(database.db, flaky, logger);
      await expect(relay.drain()).rejects.toThrow(/1 outbox event/);
      expect(published.sort()).toEqual([events[0]!.id, events[2]!.id].sort());
      const left = await database.db.selectFrom('outbox').select(['id', 'attempts', 'last_error']).execute();
      expect(left).toEqual([{ id: failing, attempts: 1, last_error: 'injected publish failure' }]);

      broken = false;
      published.length = 0;
      expect(await relay.drain()).toBe(1);
      expect(published).toEqual([failing]);
      expect(await database.db.selectFrom('outbox').selectAll().execute()).toEqual([]);
    });

    it('does not let events that keep failing hold up the ones behind them', async () => {
      const stuck = [registered('s1@example.com'), registered('s2@example.com')];
      const fresh = [registered('f1@example.com'), registered('f2@example.com')];
      await database.db.transaction().execute(async (trx) => {
        for (const e of [...stuck, ...fresh]) await enqueueEvent(trx, e);
      });
      const refused = new Set(stuck.map((e) => e.id));
      const published: string[] = [];
      // Batches of two: the first pass takes the two that fail.
      const relay = new OutboxRelay(
        database.db,
        refusing(bus, (id) => refused.has(id), published),
        logger,
        {
          batchSize: 2,
        },
      );
      await expect(relay.drain()).rejects.toThrow(/2 outbox event/);
      expect(published).toEqual([]);
      // The next pass takes the fresh ones first (the stuck ones fail again after them).
      await expect(relay.drain()).rejects.toThrow(/2 outbox event/);
      expect(published.sort()).toEqual(fresh.map((e) => e.id).sort());
      await database.db.deleteFrom('outbox').execute();
    });

    it('publishes committed events at once with send, leaving the outbox empty, or keeps them on failure', async () => {
      const ok = registered('send-ok@example.com');
      const bad = registered('send-bad@example.com');
      await database.db.transaction().execute(async (trx) => {
        await enqueueEvent(trx, ok);
        await enqueueEvent(trx, bad);
      });
      const { seen, sub } = await watchRegistrations(bus);
      const flaky = refusing(bus, (id) => id === bad.id);
      // Not started: no pass runs, so whatever is published here is send's doing.
      await new OutboxRelay(database.db, flaky, logger).send([ok, bad]);
      await eventually(() => seen.includes(ok.id));
      const left = await database.db.selectFrom('outbox').select('id').execute();
      expect(left.map((r) => r.id)).toEqual([bad.id]);
      expect(seen).not.toContain(bad.id);
      // The next pass over a working bus sends the one left.
      expect(await new OutboxRelay(database.db, bus, logger).drain()).toBe(1);
      await eventually(() => seen.includes(bad.id));
      await sub.stop();
    });

    it('writes a statement and its event in one statement, and no event when nothing changed', async () => {
      const e = registered('cte@example.com');
      const written = await executeWithEvent(
        database.db,
        (qc) => qc.insertInto('effects').values({ event_id: e.id }).returning('event_id'),
        e,
      );
      expect(written).toBe(true);
      const none = registered('cte-none@example.com');
      const nothing = await executeWithEvent(
        database.db,
        (qc) =>
          qc
            .updateTable('effects')
            .set({ event_id: none.id })
            .where('event_id', '=', newId())
            .returning('event_id'),
        none,
      );
      expect(nothing).toBe(false);
      const queued = await database.db.selectFrom('outbox').select(['id', 'subject', 'payload']).execute();
      expect(queued.map((r) => r.id)).toEqual([e.id]);
      expect(queued[0]!.subject).toBe('user.registered');
      expect(queued[0]!.payload).toMatchObject({ id: e.id, data: { email: 'cte@example.com' } });

      // A failing statement leaves no event behind.
      const dup = registered('cte-dup@example.com');
      await expect(
        executeWithEvent(
          database.db,
          (qc) =>
            qc
              .insertInto('effects')
              .values({ event_id: null as never })
              .returning('event_id'),
          dup,
        ),
      ).rejects.toThrow();
      expect(await database.db.selectFrom('outbox').select('id').execute()).toHaveLength(1);
      expect(await new OutboxRelay(database.db, bus, logger).drain()).toBe(1);
    });

    it('applies a redelivered event once (inbox)', async () => {
      const e = registered('inbox@example.com');
      const durable = uniqueName('c');
      let deliveries = 0;
      const sub = await consumeEvents(
        bus,
        { stream: 'USERS', durable, filterSubject: 'user.registered' },
        [
          on(UserRegistered, async (event) => {
            if (event.id !== e.id) return;
            deliveries++;
            await applyOnce(database.db, durable, event.id, async (trx) => {
              await trx.insertInto('effects').values({ event_id: event.id }).execute();
            });
          }),
        ],
        logger,
      );
      await publishEvent(bus, e);
      // The same event again under another message id: past the de-dup window, as it were.
      await bus.publish(e.type, encodeEvent(e), { msgId: newId() });
      await eventually(() => deliveries === 2);
      const rows = await database.db.selectFrom('effects').selectAll().where('event_id', '=', e.id).execute();
      expect(rows).toHaveLength(1);
      await sub.stop();
    });

    it('forgets inbox entries old enough that their events cannot come again', async () => {
      const consumer = uniqueName('prune');
      const old = [newId(), newId(), newId()];
      const recent = newId();
      const day = 86_400_000;
      await database.db
        .insertInto('inbox')
        .values([
          ...old.map((event_id) => ({ consumer, event_id, processed_at: new Date(Date.now() - 9 * day) })),
          { consumer, event_id: recent, processed_at: new Date(Date.now() - day) },
        ])
        .execute();
      expect(await pruneInbox(database.db, 8 * day, 2)).toBeGreaterThanOrEqual(3);
      const left = await database.db
        .selectFrom('inbox')
        .select('event_id')
        .where('consumer', '=', consumer)
        .execute();
      expect(left.map((r) => r.event_id)).toEqual([recent]);
    });
  });
});

describe.runIf(buses.some((b) => b.name === 'jetstream'))('watch across a reconnect [jetstream]', () => {
  it('reports the gap, then goes on delivering', async () => {
    const tb = buses.find((b) => b.name === 'jetstream')!;
    const bus = (await tb.reconnect()) as JetStreamBus;
    const got: string[] = [];
    let gaps = 0;
    const sub = await bus.watch(
      { stream: 'USERS', filterSubject: 'user.registered', onGap: () => gaps++ },
      (m) => {
        got.push(JSON.parse(new TextDecoder().decode(m.data)).id);
      },
    );
    try {
      await bus.reconnect();
      await eventually(() => gaps > 0);
      const e = registered('gap@example.com');
      await publishEvent(tb.bus, e);
      await eventually(() => got.includes(e.id));
    } finally {
      await sub.stop();
    }
  });
});
