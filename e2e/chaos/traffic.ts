import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';

/**
 * Bounded API load for fault tests and `pnpm chaos`: users sign up, generate charts and ask for
 * analyses, and every answer is recorded. Each request uses a connection of its own, so a server
 * closing its idle keep-alive connections during a drain is never mistaken for a lost request:
 * `refused` means the request never reached a server (nobody listening), `lost` means a
 * connection that carried a request died without an answer.
 */
export interface Outcome {
  op: string;
  /** HTTP status, or how the request ended without one. */
  status: number | 'refused' | 'lost' | 'timeout';
  code?: string;
  /** The error message of a 5xx, to tell what went wrong. */
  message?: string;
  retryAfter?: string;
  /** The body was not the documented envelope. */
  offEnvelope?: boolean;
  ms: number;
  at: number;
  /** The fault phase it ran in (set by the driver). */
  phase: string;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export interface User {
  email: string;
  token: string;
}

/** Longer than any of the gateway's own timeouts (60 s for a chart), so it answers first. */
const CLIENT_TIMEOUT_MS = 75_000;

export class Traffic {
  readonly outcomes: Outcome[] = [];
  /** Every chart answered 201, with its owner. */
  readonly charts = new Map<string, User>();
  /** Every analysis accepted (200 or 202), with its owner. */
  readonly analyses = new Map<string, User>();
  /** Idempotency keys sent, and whether an answer came back. */
  readonly keys = new Map<string, { user: User; answered: boolean }>();
  phase = 'warm-up';

  constructor(private readonly base: () => string) {}

  /** One request; never throws. */
  async call(
    op: string,
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer | undefined> {
    const started = Date.now();
    const phase = this.phase;
    let settled = false;
    const record = (o: Omit<Outcome, 'op' | 'ms' | 'at' | 'phase'>) => {
      const first = !settled;
      if (first) this.outcomes.push({ op, ms: Date.now() - started, at: started, phase, ...o });
      settled = true;
      return first;
    };
    const url = new URL(path, this.base());
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    return new Promise((resolve) => {
      let sent = false;
      const req = http.request(
        url,
        {
          method,
          agent: false,
          headers: {
            connection: 'close',
            ...(payload ? { 'content-type': 'application/json' } : {}),
            ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
            ...opts.headers,
          },
          timeout: CLIENT_TIMEOUT_MS,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => {
            let body: any = text;
            try {
              body = JSON.parse(text);
            } catch {
              // not JSON
            }
            const status = res.statusCode ?? 0;
            const offEnvelope =
              !body || typeof body !== 'object' || typeof body.success !== 'boolean'
                ? (res.headers['content-type'] ?? '').includes('json')
                : false;
            const first = record({
              status,
              code: body?.error?.code ?? (body?.success === false ? undefined : body?.error),
              message: status >= 500 ? String(body?.error?.message ?? text).slice(0, 200) : undefined,
              retryAfter: res.headers['retry-after'] as string | undefined,
              offEnvelope,
            });
            if (first) resolve({ status, headers: res.headers, body });
          });
          res.on('error', () => {
            if (record({ status: 'lost' })) resolve(undefined);
          });
        },
      );
      req.on('socket', (s) => s.on('connect', () => (sent = true)));
      req.on('timeout', () => {
        if (record({ status: 'timeout' })) resolve(undefined);
        req.destroy();
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (record({ status: !sent && err.code === 'ECONNREFUSED' ? 'refused' : 'lost' })) resolve(undefined);
      });
      req.end(payload);
    });
  }

  async signup(): Promise<User | undefined> {
    const email = `u-${randomBytes(6).toString('hex')}@example.com`;
    const res = await this.call('signup', 'POST', '/v1/auth/signup', {
      body: { email, password: 'a long enough password' },
    });
    return res?.status === 201 ? { email, token: res.body.data.token } : undefined;
  }

  /** A webhook endpoint for `events`, so notification-service's deliveries are under fault too. */
  async subscribe(user: User, url: string, events: string[]): Promise<boolean> {
    const res = await this.call('webhook', 'POST', '/v1/webhooks', {
      token: user.token,
      body: { url, events },
    });
    return res?.status === 201;
  }

  /** A chart, with an idempotency key that a retry could reuse. */
  async generate(user: User): Promise<string | undefined> {
    const key = randomUUID();
    this.keys.set(key, { user, answered: false });
    const res = await this.call('generate', 'POST', '/v1/charts/generate', {
      token: user.token,
      body: { symbol: 'BINANCE:BTCUSDT', interval: '4h' },
      headers: { 'idempotency-key': key },
    });
    if (res) this.keys.get(key)!.answered = true;
    if (res?.status !== 201) return undefined;
    const id = res.body.data.chartId as string;
    this.charts.set(id, user);
    return id;
  }

  /** Queues an analysis without waiting for it. */
  async analyze(user: User, chartId: string): Promise<string | undefined> {
    const res = await this.call('analyze', 'POST', `/v1/charts/${chartId}/analyze?wait=0`, {
      token: user.token,
      body: {},
    });
    if (res?.status !== 200 && res?.status !== 202) return undefined;
    const id = res.body.data.analysisId as string;
    this.analyses.set(id, user);
    return id;
  }

  /** Reads (a list and a quota): the cheap requests most clients make. */
  async read(user: User): Promise<void> {
    await this.call('list', 'GET', '/v1/charts?limit=5', { token: user.token });
    await this.call('quota', 'GET', '/v1/user/quota', { token: user.token });
  }

  /**
   * `workers` loops of (generate, analyze, read) over `users` until `until()` or `maxOps`
   * operations in all. A failed signup or chart just moves on.
   */
  async drive(
    users: User[],
    opts: { workers: number; until: () => boolean; maxOps: number },
  ): Promise<number> {
    let ops = 0;
    const loop = async (w: number) => {
      for (let i = w; !opts.until() && ops < opts.maxOps; i += opts.workers) {
        const user = users[i % users.length]!;
        ops++;
        const chartId = await this.generate(user);
        if (chartId && i % 2 === 0) await this.analyze(user, chartId);
        else await this.read(user);
        // A client that was told to come back later waits a moment.
        if (!chartId) await new Promise((r) => setTimeout(r, 200));
      }
    };
    await Promise.all(Array.from({ length: opts.workers }, (_, w) => loop(w)));
    return ops;
  }

  /** Outcomes of `phase` (or all), for assertions and the report. */
  of(phase?: string): Outcome[] {
    return phase ? this.outcomes.filter((o) => o.phase === phase) : this.outcomes;
  }
}

/** Counts that must be 0 for any phase: 500s, 503 without Retry-After, answers off the envelope. */
export function answerFaults(outcomes: Outcome[]) {
  const num = (o: Outcome) => (typeof o.status === 'number' ? o.status : 0);
  return {
    'answers 500 (INTERNAL)': outcomes.filter((o) => num(o) === 500).length,
    'answers 5xx other than 503': outcomes.filter((o) => num(o) > 500 && num(o) !== 503).length,
    '503 without Retry-After': outcomes.filter((o) => num(o) === 503 && !o.retryAfter).length,
    'answers off the error envelope': outcomes.filter((o) => o.offEnvelope).length,
  };
}

/** The outcomes `answerFaults` counts, each once, to show what went wrong. */
export function faultyAnswers(outcomes: Outcome[]): Outcome[] {
  return outcomes.filter(
    (o) =>
      o.offEnvelope ||
      (typeof o.status === 'number' && o.status >= 500 && (o.status !== 503 || !o.retryAfter)),
  );
}
