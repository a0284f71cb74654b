import { checkAnswer, type HttpAnswer, type OpenApiDocument } from '@chartwright/kit/testing';

/**
 * Checks every answer of a gateway against the gateway's own `/openapi.json`, so the document and
 * the server cannot drift apart: `fetch` is wrapped (see `installSpecCheck`, run for every e2e file
 * by `setup.ts`), each answer from a gateway that `watchGateway` knows is checked, and a status the
 * operation does not document, a media type it does not declare or a JSON body its schema refuses
 * is a violation that fails the test.
 */

type Spec = OpenApiDocument;

const STATE_KEY = Symbol.for('chartwright.e2e.openapi-check');
interface State {
  specs: Map<string, Spec>;
  pending: Set<Promise<void>>;
  violations: string[];
  checked: number;
  /** `fetch` before it was wrapped. */
  fetch: typeof fetch;
  installed: boolean;
}
const global = globalThis as Record<symbol, State | undefined>;
// One state per worker, whichever copy of this module a test or the setup file loaded.
global[STATE_KEY] ??= {
  specs: new Map(),
  pending: new Set(),
  violations: [],
  checked: 0,
  fetch: globalThis.fetch,
  installed: false,
};
const state = global[STATE_KEY];
const unwrappedFetch: typeof fetch = (...args) => state.fetch(...args);

/** Answers of `origin` (a gateway's URL) are checked against its `/openapi.json`, or `spec`. */
export async function watchGateway(url: string, spec?: Spec): Promise<void> {
  const { origin } = new URL(url);
  if (spec) {
    state.specs.set(origin, spec);
    return;
  }
  const res = await unwrappedFetch(`${origin}/openapi.json`);
  if (!res.ok) throw new Error(`${origin}/openapi.json: ${res.status}`);
  state.specs.set(origin, (await res.json()) as Spec);
}

/** The document a watched gateway serves. */
export function specOf(url: string): Spec | undefined {
  return state.specs.get(new URL(url).origin);
}

/** Wraps `fetch` once per worker: answers of watched gateways are checked in the background. */
export function installSpecCheck(): void {
  if (state.installed) return;
  state.installed = true;
  globalThis.fetch = async (input, init) => {
    const res = await unwrappedFetch(input, init);
    const request = input instanceof Request ? input : undefined;
    const url = new URL(request?.url ?? String(input));
    const spec = state.specs.get(url.origin);
    if (!spec || !url.pathname.startsWith('/v1/')) return res;
    const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
    const contentType = res.headers.get('content-type');
    // A stream or a file is checked by its status and media type only: its body is the test's.
    const json = /^application\/(.+\+)?json/i.test(contentType ?? '');
    const copy = json ? res.clone() : undefined;
    const done = (async () => {
      let body: unknown;
      if (copy) {
        const text = await copy.text().catch(() => undefined);
        if (text === undefined) return;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
      }
      record(spec, { method, path: url.pathname, status: res.status, contentType, body }, !copy);
    })();
    state.pending.add(done);
    void done.finally(() => state.pending.delete(done));
    return res;
  };
}

function record(spec: Spec, answer: HttpAnswer, skipBody: boolean) {
  state.checked++;
  for (const problem of checkAnswer(spec, answer, { skipBody }))
    state.violations.push(`${answer.method} ${answer.path} → ${answer.status}: ${problem}`);
}

/** Waits for the checks under way, then hands over (and forgets) the violations found so far. */
export async function takeViolations(): Promise<string[]> {
  while (state.pending.size) await Promise.allSettled([...state.pending]);
  return state.violations.splice(0);
}

/** How many answers were checked in this worker. */
export const checkedAnswers = () => state.checked;
