import { MultiTimeframeGet, type MultiTimeframeRun } from '@chartwright/contracts';
import { createLogger, handle, MemoryBus, newId, ServiceError, type Subscription } from '@chartwright/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MultiTimeframeWatch } from '../src/multi-timeframe-watch.js';

const logger = createLogger('test', 'silent');
/** A wait that only an event, a gap or a drain can end within the test's time: no timing assertions. */
const LONGER_THAN_THE_TEST = 120_000;

describe('MultiTimeframeWatch', { timeout: 5_000 }, () => {
  const bus = new MemoryBus(logger);
  const userId = newId();
  const runs = new Map<string, MultiTimeframeRun>();
  let reads = 0;
  let sub: Subscription;
  const run = (status: MultiTimeframeRun['status']): MultiTimeframeRun => ({
    id: newId(),
    symbol: 'BINANCE:BTCUSDT',
    status,
    createdAt: new Date().toISOString(),
    completedAt: null,
    items: [],
    confluence: null,
  });
  const settle = (id: string) => runs.set(id, { ...runs.get(id)!, status: 'completed' });

  beforeAll(async () => {
    sub = await handle(MultiTimeframeGet, async (req) => {
      reads++;
      const r = runs.get(req.runId);
      if (!r || req.userId !== userId) throw new ServiceError('NOT_FOUND', 'no');
      return r;
    }).serve(bus, 'analysis-service', logger);
  });
  afterAll(async () => {
    await sub.stop();
    await bus.close();
  });

  it('answers at once when its event comes, reading the run once more', async () => {
    const watch = new MultiTimeframeWatch(bus);
    const r = run('running');
    runs.set(r.id, r);
    reads = 0;
    const outcome = watch.outcome(userId, r.id, LONGER_THAN_THE_TEST);
    await new Promise((resolve) => setTimeout(resolve, 50));
    settle(r.id);
    watch.completed(r.id);
    expect((await outcome).status).toBe('completed');
    expect(reads).toBe(2);
  });

  it('reads again after a gap in the events, and keeps waiting while the run is still going', async () => {
    const watch = new MultiTimeframeWatch(bus);
    const r = run('running');
    runs.set(r.id, r);
    const outcome = watch.outcome(userId, r.id, LONGER_THAN_THE_TEST);
    await new Promise((resolve) => setTimeout(resolve, 50));
    watch.catchUp(); // still running: the wait goes on
    await new Promise((resolve) => setTimeout(resolve, 50));
    settle(r.id);
    watch.catchUp(); // the completion event was missed
    expect((await outcome).status).toBe('completed');
  });

  it('answers the run as it stands when the time or a drain runs out; NOT_FOUND for another user', async () => {
    const watch = new MultiTimeframeWatch(bus);
    const r = run('running');
    runs.set(r.id, r);
    expect((await watch.outcome(userId, r.id, 100)).status).toBe('running');
    const drain = new AbortController();
    const drained = watch.outcome(userId, r.id, LONGER_THAN_THE_TEST, drain.signal);
    drain.abort();
    expect((await drained).status).toBe('running');
    await expect(watch.outcome(newId(), r.id, 100)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('answers at once for a run settled just before the wait started', async () => {
    const watch = new MultiTimeframeWatch(bus);
    const r = run('completed');
    runs.set(r.id, r);
    watch.completed(r.id);
    expect((await watch.outcome(userId, r.id, LONGER_THAN_THE_TEST)).status).toBe('completed');
  });
});
