import { UserRegistered } from '@chartwright/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import {
  consumeEvents,
  createHttpApp,
  createLogger,
  MemoryBus,
  makeEvent,
  newId,
  on,
  PermanentError,
  prometheusText,
  publishEvent,
  registerMetricsRoute,
} from '../src/index.js';
import { eventually, parsePrometheusText, uniqueName } from '../src/testing/index.js';

const logger = createLogger('test', 'silent');

describe('GET /metrics', () => {
  const app = createHttpApp();
  const bus = new MemoryBus(logger);
  afterAll(async () => {
    await app.close();
    await bus.close();
  });

  it('serves Prometheus text: HTTP duration by route and status, consumer counters, runtime', async () => {
    app.get('/things/:id', async (req, reply) =>
      (req.params as { id: string }).id === 'bad' ? reply.code(400).send({}) : { ok: true },
    );
    registerMetricsRoute(app);
    await app.ready();
    await app.inject({ method: 'GET', url: '/things/1' });
    await app.inject({ method: 'GET', url: '/things/2' });
    await app.inject({ method: 'GET', url: '/things/bad' });
    await app.inject({ method: 'GET', url: '/nowhere' });

    const durable = uniqueName('metrics');
    const sub = await consumeEvents(
      bus,
      { stream: 'USERS', durable, filterSubject: 'user.registered', backoffMs: [10] },
      [
        on(UserRegistered, async (e) => {
          if (e.data.name === 'poison') throw new PermanentError('never');
          if (e.data.name === 'flaky' && !flaked) {
            flaked = true;
            throw new Error('once');
          }
        }),
      ],
      logger,
    );
    let flaked = false;
    const user = (name: string) =>
      makeEvent(
        UserRegistered,
        { userId: newId(), email: `${name}@example.com`, name, plan: 'free', role: 'user' },
        { source: 'test' },
      );
    for (const name of ['ok', 'poison', 'flaky']) await publishEvent(bus, user(name));

    const scrape = await eventually(async () => {
      const s = parsePrometheusText(await prometheusText());
      const c = { messaging_consumer_group_name: durable };
      return s.sum('chartwright_consumer_dead_letters_total', c) === 1 &&
        s.sum('chartwright_consumer_redeliveries_total', c) === 1
        ? s
        : undefined;
    });
    await sub.stop();

    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const http = parsePrometheusText(res.body);
    expect(http.types.get('http_server_request_duration_seconds')).toBe('histogram');
    const route = { http_route: '/things/:id', http_request_method: 'GET' };
    expect(
      http.sum('http_server_request_duration_seconds_count', { ...route, http_response_status_code: '200' }),
    ).toBe(2);
    expect(
      http.sum('http_server_request_duration_seconds_count', { ...route, http_response_status_code: '400' }),
    ).toBe(1);
    // An unmatched path is one series without a route, not one per path.
    const unmatched = http
      .get('http_server_request_duration_seconds_count', { http_response_status_code: '404' })
      .filter((s) => s.labels.http_route === undefined);
    expect(unmatched.map((s) => s.value)).toEqual([1]);
    expect(http.sum('http_server_request_duration_seconds_sum', route)).toBeGreaterThan(0);

    const c = { messaging_consumer_group_name: durable };
    expect(scrape.sum('chartwright_consumer_process_duration_seconds_count', { ...c, outcome: 'ok' })).toBe(
      2,
    );
    // Pending: reported while the consumer runs, 0 once everything is settled.
    expect(scrape.get('chartwright_consumer_pending', c).map((s) => s.value)).toEqual([0]);
    // Node runtime.
    expect(scrape.get('nodejs_eventloop_delay_p99_seconds')).toHaveLength(1);
    expect(scrape.sum('v8js_memory_heap_used_bytes')).toBeGreaterThan(1_000_000);
  });

  it('refuses lines that are not Prometheus text', () => {
    expect(() => parsePrometheusText('metric{a="1" 2')).toThrow(/not a Prometheus sample/);
    expect(() => parsePrometheusText('metric one')).toThrow(/bad sample value/);
    expect(parsePrometheusText('# TYPE x counter\nx_total{a="b",c="d\\"e"} 3\n').get('x_total')).toEqual([
      { labels: { a: 'b', c: 'd"e' }, value: 3 },
    ]);
  });
});
