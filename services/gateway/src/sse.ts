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

/**
 * A progress stream: listens before it reads (so no event between the two is missed), answers a
 * failed read (404) as JSON before the stream starts, then sends the events the record stands for
 * and each new one that `accept` names (undefined: skipped, e.g. already sent), and ends after a
 * final one.
 */
export async function streamProgress<E, R>(
  reply: FastifyReply,
  open: Set<() => void>,
  opts: {
    listen: (fn: (e: E) => void) => () => void;
    read: () => Promise<R>;
    replay: (record: R) => E[];
    accept: (e: E) => { name: string; final: boolean } | undefined;
  },
): Promise<void> {
  const early: E[] = [];
  let write: (e: E) => void = (e) => void early.push(e);
  const unlisten = opts.listen((e) => write(e));
  let record: R;
  try {
    record = await opts.read();
  } catch (err) {
    unlisten();
    throw err;
  }
  const stream = openEventStream(reply, open, unlisten);
  write = (e) => {
    if (stream.ended) return;
    const accepted = opts.accept(e);
    if (!accepted) return;
    stream.send(accepted.name, e);
    if (accepted.final) stream.finish();
  };
  for (const e of [...opts.replay(record), ...early]) write(e);
}
