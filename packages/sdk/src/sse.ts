import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ChartwrightError } from './errors.js';
import type { Transport } from './transport.js';
import type { AnalysisProgress } from './types.js';

/**
 * The steps of an analysis from its `text/event-stream`, parsed as they arrive. Ends when the
 * server ends the stream (after `completed` or `failed`); throws `ApiError` for an error answer
 * and `ChartwrightError` when the answer is not an event stream (a proxy in the way).
 */
export async function* analysisEvents(
  transport: Transport,
  path: string,
  signal?: AbortSignal,
): AsyncGenerator<AnalysisProgress, void, undefined> {
  const res = await transport.send(
    new Request(transport.url(path), { headers: { accept: 'text/event-stream' } }),
    // The stream stays open while the analysis runs: no per-attempt timeout beyond the caller's.
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
        const step = JSON.parse(e.data) as AnalysisProgress;
        yield { ...step, status: (e.event ?? step.status) as AnalysisProgress['status'] };
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
