import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '../src/bus/memory.js';
import type { Delivery } from '../src/bus/types.js';
import { eventually } from '../src/testing/index.js';

const dir = await mkdtemp(path.join(tmpdir(), 'cw-bus-state-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

const spec = { stream: 'USERS' as const, durable: 'quota-users', filterSubject: 'user.>' };
const publish = (bus: MemoryBus, id: string) =>
  bus.publish('user.registered', new TextEncoder().encode(id), { msgId: id });
const text = (d: Delivery) => new TextDecoder().decode(d.data);

describe('the in-process bus across a restart (embedded mode)', () => {
  it('keeps unsettled messages and consumer positions, lets settled ones go, and de-duplicates', async () => {
    const statePath = path.join(dir, 'bus-state.json');
    const first = new MemoryBus(undefined, undefined, statePath);
    const seen: string[] = [];
    let sub = await first.consume(spec, async (d) => {
      seen.push(text(d));
      // 'b' is in hand when the process stops; 'n' waits out a long nak delay.
      if (text(d) === 'n') d.nak(60_000);
      else if (text(d) !== 'b') d.ack();
    });
    // Another consumer of the stream, for other subjects: it holds nothing back.
    const plans = await first.consume(
      { stream: 'USERS', durable: 'plans', filterSubject: 'user.plan_changed' },
      async (d) => d.ack(),
    );
    for (const id of ['a', 'b', 'n']) await publish(first, id);
    await eventually(() => seen.length === 3);
    await sub.stop();
    await plans.stop();
    // Published while nobody consumed, as after a commit just before the stop.
    await publish(first, 'c');
    await first.close();

    const saved = JSON.parse(await readFile(statePath, 'utf8'));
    expect(
      saved.streams.USERS.messages.map((m: { data: string }) => Buffer.from(m.data, 'base64').toString()),
    ).toEqual(['b', 'n', 'c']);

    const second = new MemoryBus(undefined, undefined, statePath);
    const again: string[] = [];
    sub = await second.consume(spec, async (d) => {
      again.push(text(d));
      d.ack();
    });
    await eventually(() => again.length === 3);
    expect(again.sort()).toEqual(['b', 'c', 'n']);
    // A repeated id is still recognised after the restart.
    expect((await publish(second, 'a')).duplicate).toBe(true);
    await sub.stop();
    await second.close();
  });
});
