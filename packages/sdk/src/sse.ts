import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ChartwrightError } from './errors.js';
import type { Transport } from './transport.js';
import type { AnalysisProgress } from './types.js';

/**
 * The events of a progress stream (`text/event-stream`), parsed as they arrive, with the event
 * name as `status`. Ends when the server ends the stream (after the final status); throws
 * `ApiError` for an error answer and `ChartwrightError` when the answer is not an event stream
 * (a proxy in the way).
 */
export async function* progressEvents<T extends { status: string }>(
  transport: Transport,
  path: string,
  signal?: AbortSignal,
): AsyncGenerator<T, void, undefined> {
  const res = await transport.send(
    new Request(transport.url(path), { headers: { accept: 'text/event-stream' } }),
    // The stream stays open while the work runs: no per-attempt timeout beyond the caller's.
    { signal, extraTimeoutMs: 24 * 3_600_000 },
  );
  if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    await res.body?.cancel();
    throw new ChartwrightError(`${path} did not answer an event stream`);
  }
  const queue: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => queue.push(e) });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      parser.feed(value);
      while (queue.length) {
        const e = queue.shift()!;
        const step = JSON.parse(e.data) as T;
        yield { ...step, status: (e.event ?? step.status) as T['status'] };
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** The steps of an analysis (`GET /v1/analyses/:id/events`). */
export const analysisEvents = (transport: Transport, path: string, signal?: AbortSignal) =>
  progressEvents<AnalysisProgress>(transport, path, signal);
