import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CHART_IMG_DRAWINGS, CHART_IMG_STUDIES } from '../../src/chart-img/names.js';
import { CHART_IMG_PLANS, type ChartImgPlan } from '../../src/chart-img/plans.js';

const INTERVALS = new Set('1m 2m 3m 5m 15m 30m 45m 1h 2h 3h 4h 6h 8h 12h 1D 2D 3D 1W 1M 3M 6M 1Y'.split(' '));

export interface FakeChartImg {
  url: string;
  /** Bodies of the requests that reached the server. */
  requests: { path: string; apiKey: string | undefined; body: any; at: number }[];
  /** The next answers, instead of the normal behaviour: `[status, body, headers?]`. */
  script: [number, unknown, Record<string, string>?][];
  /** Milliseconds to wait before answering. */
  delayMs: number;
  close(): Promise<void>;
}

/**
 * A local stand-in for api.chart-img.com's v2 advanced-chart storage endpoint, answering as its
 * documentation describes: `x-api-key` checked (401), the plan's size and parameter limits (403),
 * its rate limit per second with burst (429 `Too Many Requests`) and per day (429 `Limit Exceeded`), unknown symbols, intervals and study names (422).
 */
export async function startFakeChartImg(
  opts: { apiKey?: string; plan?: ChartImgPlan; symbols?: string[]; perDay?: number } = {},
): Promise<FakeChartImg> {
  const apiKey = opts.apiKey ?? 'test-key';
  const plan = CHART_IMG_PLANS[opts.plan ?? 'PRO'];
  const symbols = new Set(opts.symbols ?? ['BINANCE:BTCUSDT', 'BINANCE:ETHUSDT']);
  let tokens = plan.burst;
  let today = 0;
  let last = Date.now();

  const state: Omit<FakeChartImg, 'url' | 'close'> = { requests: [], script: [], delayMs: 0 };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    let body: any;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      body = undefined;
    }
    state.requests.push({
      path: req.url ?? '',
      apiKey: req.headers['x-api-key'] as string | undefined,
      body,
      at: Date.now(),
    });
    if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
    const scripted = state.script.shift();
    if (scripted) return send(scripted[0], scripted[1], scripted[2]);

    if (req.method !== 'POST' || req.url !== '/v2/tradingview/advanced-chart/storage')
      return send(404, { message: 'Not Found' });
    if (req.headers['x-api-key'] !== apiKey) return send(401, { message: 'Invalid Request' });
    if (++today > (opts.perDay ?? plan.perDay)) return send(429, { message: 'Limit Exceeded' });
    const now = Date.now();
    tokens = Math.min(plan.burst, tokens + ((now - last) / 1000) * plan.perSecond);
    last = now;
    if (tokens < 1) return send(429, { message: 'Too Many Requests' });
    tokens -= 1;
    if (body === undefined) return send(400, { message: 'Bad Request' });

    const width = body.width ?? 800;
    const height = body.height ?? 600;
    if (width > plan.maxWidth || height > plan.maxHeight)
      return send(403, { message: `Exceed Max Usage Resolution Limit (${plan.maxWidth}x${plan.maxHeight})` });
    const params = (body.studies?.length ?? 0) + (body.drawings?.length ?? 0);
    if (params > plan.maxParameters)
      return send(403, { message: `Exceed Max Usage Parameter Limit (${plan.maxParameters})` });
    const issues: { value: unknown; msg: string; param: string; location: string }[] = [];
    (body.studies ?? []).forEach((s: { name: string }, i: number) => {
      if (!CHART_IMG_STUDIES.includes(s.name))
        issues.push({ value: s.name, msg: 'Invalid value', param: `studies[${i}].name`, location: 'body' });
    });
    (body.drawings ?? []).forEach((d: { name: string }, i: number) => {
      if (!CHART_IMG_DRAWINGS.includes(d.name))
        issues.push({ value: d.name, msg: 'Invalid value', param: `drawings[${i}].name`, location: 'body' });
    });
    if (issues.length) return send(422, issues);
    if (!INTERVALS.has(body.interval)) return send(422, { message: 'Invalid Interval' });
    if (!symbols.has(body.symbol)) return send(422, { message: 'Invalid Symbol' });

    const id = randomBytes(8).toString('hex');
    const expire = new Date(now + plan.storageDays * 86_400_000).toISOString();
    return send(200, {
      url: `https://r2.chart-img.com/20260110/tradingview/advanced-chart/${id}.png`,
      etag: `"${id}"`,
      expire,
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}
