/**
 * A local stand-in for the Anthropic Messages API (POST /v1/messages), close enough to the real
 * one for the official SDK: the same JSON answers, error bodies, statuses and headers. Each call
 * is answered from a script: queued replies first, then chaos failures, then the default reply.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeReply =
  /** A `tool_use` answer for the tool the request forces (or its first tool) with this input. */
  | {
      kind: 'tool';
      input: unknown;
      delayMs?: number;
      usage?: { input_tokens: number; output_tokens: number };
    }
  /** A plain text answer without any tool call. */
  | { kind: 'text'; text: string; delayMs?: number }
  /** An error answer. `retryAfter` becomes the `retry-after` header (seconds, as the API sends it). */
  | { kind: 'error'; status: number; message?: string; retryAfter?: string; delayMs?: number }
  /** Accept the request and never answer. */
  | { kind: 'hang' };

export interface RecordedRequest {
  headers: IncomingHttpHeaders;
  body: any;
  reply: FakeReply;
}

export interface ChaosOptions {
  /** Probability in [0, 1] that a call fails. */
  failureRate: number;
  /** Statuses a failing call answers with, picked at random (default 429, 500, 529). */
  statuses?: number[];
  /** `retry-after` sent with every failure (default: '1' with 429 only, like the API). */
  retryAfter?: string;
  /** Random source in [0, 1), e.g. {@link seededRandom} for reproducible runs. */
  random?: () => number;
}

export interface FakeAnthropicOptions {
  /** When set, requests without this API key get 401 authentication_error. */
  apiKey?: string;
  /** Answer for calls with nothing queued (default: a 500 saying the script is empty). */
  defaultReply?: FakeReply;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/** Reproducible chaos runs use the same seeded source as the synthetic market data. */
export { seededRandom } from '@chartwright/market';

/** The API key a request carries: `x-api-key`, or `Authorization: Bearer` as newer SDKs send it. */
export function credentialOf(headers: IncomingHttpHeaders): string | undefined {
  const key = headers['x-api-key'];
  if (typeof key === 'string') return key;
  const match = /^Bearer (.+)$/.exec(headers.authorization ?? '');
  return match?.[1];
}

const id = (prefix: string) => `${prefix}_fake${randomBytes(9).toString('hex')}`;

export class FakeAnthropic {
  readonly requests: RecordedRequest[] = [];
  private readonly queue: FakeReply[] = [];
  private chaos: ChaosOptions | undefined;
  private readonly server: Server;
  private readonly timers = new Set<NodeJS.Timeout>();
  private port = 0;

  private constructor(private readonly options: FakeAnthropicOptions) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () =>
        this.handle(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(chunks), res),
      );
    });
  }

  static async start(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
    const fake = new FakeAnthropic(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** The SDK's `baseURL`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Scripts the next calls, in order. */
  enqueue(...replies: FakeReply[]): this {
    this.queue.push(...replies);
    return this;
  }

  setDefault(reply: FakeReply | undefined): this {
    this.options.defaultReply = reply;
    return this;
  }

  setChaos(chaos: ChaosOptions | undefined): this {
    this.chaos = chaos;
    return this;
  }

  reset(): void {
    this.queue.length = 0;
    this.requests.length = 0;
    this.chaos = undefined;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private nextReply(): FakeReply {
    const queued = this.queue.shift();
    if (queued) return queued;
    if (this.chaos) {
      const random = this.chaos.random ?? Math.random;
      if (random() < this.chaos.failureRate) {
        const statuses = this.chaos.statuses ?? [429, 500, 529];
        const status = statuses[Math.floor(random() * statuses.length)] ?? 500;
        return {
          kind: 'error',
          status,
          retryAfter: this.chaos.retryAfter ?? (status === 429 ? '1' : undefined),
        };
      }
    }
    return (
      this.options.defaultReply ?? {
        kind: 'error',
        status: 500,
        message: 'fake-anthropic: no reply scripted',
      }
    );
  }

  private handle(
    method: string,
    url: string,
    headers: IncomingHttpHeaders,
    raw: Buffer,
    res: ServerResponse,
  ) {
    if (method !== 'POST' || url.split('?')[0] !== '/v1/messages') {
      return this.sendError(res, 404, `${method} ${url} not found`);
    }
    if (!headers['anthropic-version']) {
      return this.sendError(res, 400, 'anthropic-version: header is required');
    }
    let body: any;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return this.sendError(res, 400, 'request body is not valid JSON');
    }
    if (
      typeof body?.model !== 'string' ||
      typeof body?.max_tokens !== 'number' ||
      !Array.isArray(body?.messages)
    ) {
      return this.sendError(res, 400, 'model, max_tokens and messages are required');
    }

    const authorised = this.options.apiKey === undefined || credentialOf(headers) === this.options.apiKey;
    const reply: FakeReply = authorised
      ? this.nextReply()
      : { kind: 'error', status: 401, message: 'invalid x-api-key' };
    this.requests.push({ headers, body, reply });
    if (reply.kind === 'hang') return;

    const send = () => {
      if (res.destroyed) return;
      if (reply.kind === 'error') {
        const extra: Record<string, string> =
          reply.retryAfter === undefined ? {} : { 'retry-after': reply.retryAfter };
        return this.sendError(
          res,
          reply.status,
          reply.message ?? ERROR_TYPES[reply.status] ?? 'error',
          extra,
        );
      }
      const toolName: string = body.tool_choice?.name ?? body.tools?.[0]?.name ?? 'tool';
      const content =
        reply.kind === 'tool'
          ? [{ type: 'tool_use', id: id('toolu'), name: toolName, input: reply.input }]
          : [{ type: 'text', text: reply.text, citations: null }];
      const usage =
        reply.kind === 'tool' && reply.usage ? reply.usage : { input_tokens: 1500, output_tokens: 400 };
      this.sendJson(res, 200, {
        id: id('msg'),
        type: 'message',
        role: 'assistant',
        model: body.model,
        content,
        stop_reason: reply.kind === 'tool' ? 'tool_use' : 'end_turn',
        stop_sequence: null,
        usage: {
          ...usage,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          service_tier: 'standard',
        },
      });
    };
    if (reply.delayMs) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        send();
      }, reply.delayMs);
      this.timers.add(timer);
    } else {
      send();
    }
  }

  private sendError(
    res: ServerResponse,
    status: number,
    message: string,
    headers: Record<string, string> = {},
  ) {
    this.sendJson(
      res,
      status,
      { type: 'error', error: { type: ERROR_TYPES[status] ?? 'api_error', message }, request_id: id('req') },
      headers,
    );
  }

  private sendJson(
    res: ServerResponse,
    status: number,
    payload: unknown,
    headers: Record<string, string> = {},
  ) {
    const json = JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(json),
      'request-id': id('req'),
      ...headers,
    });
    res.end(json);
  }
}
