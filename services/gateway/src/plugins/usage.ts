import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** What the request produced, for the usage ledger; set by the routes that produce it. */
    usage?: { chartsGenerated?: number; analysesPerformed?: number; tokensUsed?: number };
  }
}

interface Batch {
  userId: string;
  endpoint: string;
  method: string;
  statusCode: number;
  count: number;
  durationMsSum: number;
  durationMsMax: number;
  chartsGenerated: number;
  analysesPerformed: number;
  tokensUsed: number;
  from: number;
  to: number;
}

/** Batches kept in memory while the outbox cannot be written (the database is down), at most. */
const MAX_PENDING_BATCHES = 100_000;

/**
 * The usage ledger's input: requests are added up per user, endpoint, method, status and UTC day,
 * and every `flushMs` each sum becomes one `usage.batch_recorded` event, written to the outbox in
 * one statement and then published. So a request costs a map update, not a publish; the ledger
 * stays exact (the counts add up to the requests served), also across a SIGTERM (`close` flushes
 * after the server stopped answering) and a crash after a flush (the outbox has it).
 */
export class UsageBatcher {
  private pending = new Map<string, Batch>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: GatewayContext,
    flushMs: number,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  record(
    r: Omit<Batch, 'count' | 'durationMsSum' | 'durationMsMax' | 'from' | 'to'> & {
      durationMs: number;
      at: number;
    },
  ): void {
    const day = Math.floor(r.at / 86_400_000);
    const key = `${r.userId}\n${r.endpoint}\n${r.method}\n${r.statusCode}\n${day}`;
    const b = this.pending.get(key);
    if (!b) {
      this.pending.set(key, {
        userId: r.userId,
        endpoint: r.endpoint,
        method: r.method,
        statusCode: r.statusCode,
        count: 1,
        durationMsSum: r.durationMs,
        durationMsMax: r.durationMs,
        chartsGenerated: r.chartsGenerated,
        analysesPerformed: r.analysesPerformed,
        tokensUsed: r.tokensUsed,
        from: r.at,
        to: r.at,
      });
      return;
    }
    b.count++;
    b.durationMsSum += r.durationMs;
    if (r.durationMs > b.durationMsMax) b.durationMsMax = r.durationMs;
    b.chartsGenerated += r.chartsGenerated;
    b.analysesPerformed += r.analysesPerformed;
    b.tokensUsed += r.tokensUsed;
    if (r.at > b.to) b.to = r.at;
  }

  /** Writes what was added up so far (flushes run one after another). Never throws. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writeOut());
    return this.flushing;
  }

  private async writeOut(): Promise<void> {
    if (this.pending.size === 0) return;
    const batches = this.pending;
    this.pending = new Map();
    const events = [...batches.values()].map((b) =>
      this.ctx.events.usageBatchRecorded({
        userId: b.userId,
        endpoint: b.endpoint,
        method: b.method,
        statusCode: b.statusCode,
        count: b.count,
        durationMsSum: b.durationMsSum,
        durationMsMax: b.durationMsMax,
        chartsGenerated: b.chartsGenerated,
        analysesPerformed: b.analysesPerformed,
        tokensUsed: b.tokensUsed,
        from: new Date(b.from).toISOString(),
        to: new Date(b.to).toISOString(),
      }),
    );
    try {
      await this.ctx.events.store(this.ctx.db, ...events);
    } catch (err) {
      // Kept and added to the next flush (the database may be back by then).
      for (const [key, b] of batches) {
        if (this.pending.size >= MAX_PENDING_BATCHES) {
          this.ctx.logger.error({ lost: batches.size }, 'usage batches dropped: the outbox is unavailable');
          break;
        }
        const now = this.pending.get(key);
        if (!now) this.pending.set(key, b);
        else {
          now.count += b.count;
          now.durationMsSum += b.durationMsSum;
          now.durationMsMax = Math.max(now.durationMsMax, b.durationMsMax);
          now.chartsGenerated += b.chartsGenerated;
          now.analysesPerformed += b.analysesPerformed;
          now.tokensUsed += b.tokensUsed;
          now.from = Math.min(now.from, b.from);
          now.to = Math.max(now.to, b.to);
        }
      }
      this.ctx.logger.warn({ err, batches: batches.size }, 'usage not written to the outbox; will retry');
      return;
    }
    // Awaited (not `events.send`): `close` returns once the last batches are published.
    await this.ctx.relay.send(events);
  }

  /** Stops the timer and writes what is left (after the server has stopped answering). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

/** Adds each authenticated request to the usage batches once its answer is sent. */
export function registerUsageReporting(app: FastifyInstance, usage: UsageBatcher): void {
  app.addHook('onResponse', async (req, reply) => {
    const caller = req.caller;
    if (!caller) return;
    usage.record({
      userId: caller.id,
      endpoint: (req.routeOptions.url ?? 'unknown').slice(0, 200),
      method: req.method,
      statusCode: reply.statusCode,
      durationMs: Math.max(0, reply.elapsedTime),
      chartsGenerated: req.usage?.chartsGenerated ?? 0,
      analysesPerformed: req.usage?.analysesPerformed ?? 0,
      tokensUsed: req.usage?.tokensUsed ?? 0,
      at: Date.now(),
    });
  });
}
