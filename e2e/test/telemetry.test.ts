import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually, parsePrometheusText, type Scrape } from '@chartwright/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAnthropic } from '../../services/analysis-service/test/support/fake-anthropic.js';
import { api, createStack, type Stack, TOOL_INPUT } from './support.js';

/** One span as OTLP/JSON carries it, with the service that sent it. */
interface Span {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}
const KIND = { SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 };

/**
 * The test's span exporter: an OTLP/HTTP (JSON) receiver every service process exports to, so
 * the spans of separate processes end up in one list.
 */
class SpanReceiver {
  readonly spans: Span[] = [];
  private constructor(private readonly server: Server) {}
  static async start(): Promise<SpanReceiver> {
    const server = createServer();
    const receiver = new SpanReceiver(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/v1/traces') receiver.add(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }
  get url() {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  private add(body: any) {
    for (const rs of body.resourceSpans ?? []) {
      const service = rs.resource.attributes.find((a: any) => a.key === 'service.name')?.value.stringValue;
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? [])
          this.spans.push({
            service,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? '',
            name: s.name,
            kind: s.kind,
            attributes: Object.fromEntries(
              (s.attributes ?? []).map((a: any) => [a.key, Object.values(a.value)[0]]),
            ),
          });
    }
  }
  close() {
    this.server.closeAllConnections();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The trace of the gateway's HTTP server span for `method route`, with its root. */
function traceOf(spans: Span[], method: string, path: RegExp) {
  const root = spans.find(
    (s) =>
      s.service === 'gateway' &&
      s.kind === KIND.SERVER &&
      s.parentSpanId === '' &&
      s.attributes['http.request.method'] === method &&
      path.test(String(s.attributes['url.path'] ?? s.attributes['http.target'] ?? '')),
  );
  if (!root) return undefined;
  return { root, spans: spans.filter((s) => s.traceId === root.traceId) };
}

/** Whether every span's parent has arrived (spans are exported as they end, parents last). */
const complete = (spans: Span[]) => {
  const ids = new Set(spans.map((s) => s.spanId));
  return spans.every((s) => s.parentSpanId === '' || ids.has(s.parentSpanId));
};

/** Every span of the trace reaches the root by its parents: one tree. */
function assertTree(spans: Span[], root: Span) {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  expect(root.parentSpanId).toBe('');
  for (const s of spans) {
    let at: Span | undefined = s;
    for (let i = 0; at && at !== root && i < 100; i++) at = byId.get(at.parentSpanId);
    expect(at, `${s.service} ${s.name} is under the gateway's request`).toBe(root);
  }
}

const SERVICES = [
  'quota-service',
  'storage-service',
  'chart-service',
  'analysis-service',
  'notification-service',
  'gateway',
];

/** The metric names the dashboard's and the alert rules' queries use. */
function referencedMetrics(): Set<string> {
  const root = new URL('../../k8s/monitoring/', import.meta.url);
  const text =
    readFileSync(new URL('alerts.yaml', root), 'utf8') +
    readFileSync(new URL('grafana-dashboard.json', root), 'utf8');
  return new Set(text.match(/\b(?:chartwright|http|nodejs|v8js)_[a-z0-9_]+/g) ?? []);
}

describe('traces and metrics of separate processes [postgres] [jetstream] [s3rver]', () => {
  let stack: Stack;
  let receiver: SpanReceiver;
  let fake: FakeAnthropic;
  const urls: Record<string, string> = {};
  beforeAll(async () => {
    receiver = await SpanReceiver.start();
    fake = await FakeAnthropic.start({ apiKey: 'sk-e2e' });
    fake.setDefault({ kind: 'tool', input: TOOL_INPUT, delayMs: 20 });
    stack = await createStack();
    const otel = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    const extra: Record<string, Record<string, string>> = {
      'analysis-service': {
        ANTHROPIC_API_KEY: 'sk-e2e',
        ANTHROPIC_BASE_URL: fake.url,
        ANTHROPIC_MAX_RETRIES: '0',
        ANTHROPIC_INPUT_USD_PER_MTOK: '3',
        ANTHROPIC_OUTPUT_USD_PER_MTOK: '15',
      },
    };
    const procs = await Promise.all(
      SERVICES.map((s) =>
        stack.start(
          s,
          { ...otel, ...extra[s] },
          s === 'gateway' ? { port: stack.gatewayPort, timeoutMs: 180_000 } : { timeoutMs: 180_000 },
        ),
      ),
    );
    for (const p of procs) urls[p.name] = p.url;
  }, 240_000);
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
    await fake?.close();
  });

  it('one trace per request, from the gateway through NATS to each service, its database and HTTP calls; /metrics of each', async () => {
    const gateway = urls.gateway!;
    const signup = await api(gateway, 'POST', '/v1/auth/signup', {
      body: { email: 'traces@example.com', password: 'long enough pw' },
    });
    expect(signup.status).toBe(201);
    const token = signup.body.data.token as string;
    await eventually(
      async () =>
        (await stack.query(`select 1 from quota.inbox where consumer = 'quota-users'`)).length === 1,
    );

    const generated = await api(gateway, 'POST', '/v1/charts/generate', {
      token,
      body: { symbol: 'BINANCE:BTCUSDT', interval: '4h', range: '7D' },
    });
    expect(generated.status, JSON.stringify(generated.body)).toBe(201);
    const chartId = generated.body.data.chartId as string;
    const analyzed = await api(gateway, 'POST', `/v1/charts/${chartId}/analyze`, { token, body: {} });
    expect(analyzed.status, JSON.stringify(analyzed.body)).toBe(200);

    // generate: gateway → chart-service (request/reply) → quota-service (reservation), the
    // chart.generated event → storage-service and quota-service consumers.
    const gen = await eventually(() => {
      const t = traceOf(receiver.spans, 'POST', /^\/v1\/charts\/generate$/);
      const services = new Set(t?.spans.map((s) => s.service));
      return t && services.size >= 4 && t.spans.some((s) => s.kind === KIND.CONSUMER) && complete(t.spans)
        ? t
        : undefined;
    }, 20_000);
    assertTree(gen.spans, gen.root);
    expect([...new Set(gen.spans.map((s) => s.service))]).toEqual(
      expect.arrayContaining(['gateway', 'chart-service', 'quota-service', 'storage-service']),
    );
    expect(
      gen.spans.some(
        (s) => s.attributes['db.system.name'] === 'postgresql' || s.attributes['db.system'] === 'postgresql',
      ),
    ).toBe(true);
    const sends = gen.spans.filter((s) => s.kind === KIND.PRODUCER);
    expect(sends.map((s) => s.attributes['messaging.destination.name'])).toContain('chart.generated');
    const consumed = gen.spans.find(
      (s) => s.kind === KIND.CONSUMER && s.attributes['messaging.destination.name'] !== undefined,
    )!;
    expect(consumed.attributes['messaging.system']).toBe('nats');
    expect(consumed.attributes['messaging.message.id']).toBeTruthy();
    // Fastify's request span and a Redis call (the gateway's rate limit) are there too.
    expect(gen.spans.some((s) => s.name.startsWith('request') || s.attributes['http.route'])).toBe(true);

    // analyze: gateway → analysis-service (request/reply and its worker) → quota-service, the
    // image from S3 (AWS SDK) and the model over HTTP.
    const ana = await eventually(() => {
      const t = traceOf(receiver.spans, 'POST', /^\/v1\/charts\/[^/]+\/analyze$/);
      const services = new Set(t?.spans.map((s) => s.service));
      return t && services.has('analysis-service') && services.size >= 3 && complete(t.spans) ? t : undefined;
    }, 20_000);
    assertTree(ana.spans, ana.root);
    const anaServices = new Set(ana.spans.map((s) => s.service));
    expect([...anaServices]).toEqual(
      expect.arrayContaining(['gateway', 'analysis-service', 'quota-service']),
    );
    expect(ana.spans.some((s) => s.kind === KIND.PRODUCER)).toBe(true);
    expect(ana.spans.some((s) => s.kind === KIND.CONSUMER && s.service === 'analysis-service')).toBe(true);
    // The model call: an outgoing HTTP client span to the (fake) Anthropic API.
    expect(
      ana.spans.some(
        (s) => s.kind === KIND.CLIENT && String(s.attributes['url.full'] ?? '').startsWith(fake.url),
      ),
    ).toBe(true);

    // Metrics: every service's /metrics parses and has its part.
    const scrape = async (service: string): Promise<Scrape> => {
      const res = await fetch(`${urls[service]}/metrics`);
      expect(res.status).toBe(200);
      return parsePrometheusText(await res.text());
    };
    const exported = new Set<string>();
    for (const service of SERVICES) {
      const s = await scrape(service);
      for (const [name, samples] of s.samples) {
        exported.add(name);
        // Label names (`chartwright_outbox`) are matched by the same pattern: known too.
        for (const x of samples) for (const label of Object.keys(x.labels)) exported.add(label);
      }
      expect(s.get('nodejs_eventloop_delay_p99_seconds'), service).toHaveLength(1);
      expect(s.sum('v8js_memory_heap_used_bytes'), service).toBeGreaterThan(0);
      expect(s.sum('v8js_gc_duration_seconds_count'), service).toBeGreaterThan(0);
      expect(s.samples.has('http_server_request_duration_seconds_count'), service).toBe(true);
      expect(s.samples.has('chartwright_outbox_backlog'), service).toBe(true);
      expect(s.get('chartwright_outbox_oldest_age_seconds').every((x) => x.value >= 0 && x.value < 60)).toBe(
        true,
      );
    }
    const gw = await eventually(async () => {
      const s = await scrape('gateway');
      return s.sum('chartwright_rpc_client_duration_seconds_count', { rpc_method: 'svc.chart.generate' }) >= 1
        ? s
        : undefined;
    });
    expect(
      gw.sum('http_server_request_duration_seconds_count', {
        http_route: '/v1/charts/generate',
        http_request_method: 'POST',
        http_response_status_code: '201',
      }),
    ).toBe(1);
    expect(gw.get('chartwright_rpc_client_duration_seconds_count', { outcome: 'ok' }).length).toBeGreaterThan(
      0,
    );
    const chart = await scrape('chart-service');
    expect(chart.sum('chartwright_chart_render_duration_seconds_count', { renderer: 'builtin' })).toBe(1);
    expect(chart.sum('chartwright_chart_render_duration_seconds_sum')).toBeGreaterThan(0);
    const analysis = await scrape('analysis-service');
    const model = analysis.get('chartwright_model_tokens_total')[0]?.labels.model;
    expect(model).toBeTruthy();
    expect(
      analysis.sum('chartwright_analysis_duration_seconds_count', { model: model!, outcome: 'completed' }),
    ).toBe(1);
    expect(analysis.sum('chartwright_model_tokens_total')).toBeGreaterThan(0);
    expect(analysis.sum('chartwright_model_cost_usd_total')).toBeGreaterThan(0);
    expect(analysis.sum('chartwright_model_requests_total', { outcome: 'ok' })).toBe(1);
    const quota = await eventually(async () => {
      const s = await scrape('quota-service');
      return s.sum('chartwright_quota_reservations_total', { outcome: 'committed' }) >= 2 ? s : undefined;
    });
    expect(quota.sum('chartwright_quota_reservations_total', { outcome: 'granted' })).toBe(2);
    // Consumers report their lag, redeliveries and dead letters (none here).
    const storage = await scrape('storage-service');
    expect(storage.get('chartwright_consumer_pending').length).toBeGreaterThan(0);
    expect(storage.sum('chartwright_consumer_pending')).toBe(0);
    expect(storage.sum('chartwright_consumer_process_duration_seconds_count')).toBeGreaterThan(0);
    expect(storage.sum('chartwright_consumer_dead_letters_total')).toBe(0);

    // The dashboard and the alerts query only what the services export.
    const referenced = referencedMetrics();
    expect(referenced.size).toBeGreaterThan(10);
    expect([...referenced].filter((m) => !exported.has(m))).toEqual([]);
  });
});
