import type { FastifyReply } from 'fastify';

/** A comment line on an open progress stream this often, so proxies keep it open. */
const KEEP_ALIVE_MS = 15_000;

export interface EventStream {
  /** Sends one event (numbered in order); ignored once the stream has ended. */
  send(event: string, data: unknown): void;
  /** Ends the stream, with `tail` as its last bytes. */
  finish(tail?: string): void;
  readonly ended: boolean;
}

/**
 * Takes the reply over as a `text/event-stream` with keep-alive comments. `open` holds the open
 * streams' shutdown hooks: on shutdown a stream ends with a hint to reconnect (to another
 * replica), so a drain does not wait for work that may take minutes. `onEnd` runs once, however
 * the stream ends (finished, closed by the client, shut down).
 */
export function openEventStream(reply: FastifyReply, open: Set<() => void>, onEnd: () => void): EventStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let sent = 0;
  const finish = (tail = '') => {
    clearInterval(keepAlive);
    if (open.delete(endForShutdown)) onEnd();
    if (!res.writableEnded) res.end(tail);
  };
  const endForShutdown = () => finish(': the server is shutting down; reconnect\nretry: 1000\n\n');
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  keepAlive.unref();
  open.add(endForShutdown);
  res.on('close', () => finish());
  return {
    send(event, data) {
      if (res.writableEnded) return;
      sent++;
      res.write(`id: ${sent}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    finish,
    get ended() {
      return res.writableEnded;
    },
  };
}
