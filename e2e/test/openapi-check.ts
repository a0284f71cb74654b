import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * Checks every answer of a gateway against the gateway's own `/openapi.json`, so the document and
 * the server cannot drift apart: `fetch` is wrapped (see `installSpecCheck`, run for every e2e file
 * by `setup.ts`), each answer from a gateway that `watchGateway` knows is checked, and a status the
 * operation does not document, a media type it does not declare or a JSON body its schema refuses
 * is a violation that fails the test.
 */

type Json = Record<string, unknown>;
type Spec = Json & { paths: Record<string, Record<string, Json>> };

export interface Answer {
  method: string;
  /** The path, without the query. */
  path: string;
  status: number;
  /** The `content-type` header, if any. */
  contentType: string | null;
  /** The parsed JSON body, or the text. */
  body: unknown;
}

const STATE_KEY = Symbol.for('chartwright.e2e.openapi-check');
interface State {
  specs: Map<string, Spec>;
  checkers: WeakMap<Spec, Checker>;
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
  checkers: new WeakMap(),
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

function record(spec: Spec, answer: Answer, skipBody: boolean) {
  state.checked++;
  for (const problem of checkerFor(spec).check(answer, { skipBody }))
    state.violations.push(`${answer.method} ${answer.path} → ${answer.status}: ${problem}`);
}

/** Waits for the checks under way, then hands over (and forgets) the violations found so far. */
export async function takeViolations(): Promise<string[]> {
  while (state.pending.size) await Promise.allSettled([...state.pending]);
  return state.violations.splice(0);
}

/** How many answers were checked in this worker. */
export const checkedAnswers = () => state.checked;

export function checkAnswer(spec: Spec, answer: Answer): string[] {
  return checkerFor(spec).check(answer);
}

function checkerFor(spec: Spec): Checker {
  let c = state.checkers.get(spec);
  if (!c) {
    c = new Checker(spec);
    state.checkers.set(spec, c);
  }
  return c;
}

const pointerPart = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');

class Checker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  private readonly routes: {
    method: string;
    template: string;
    exact: RegExp;
    greedy: RegExp;
    params: number;
  }[] = [];

  constructor(private readonly spec: Spec) {
    addFormats.default(this.ajv);
    this.ajv.addFormat('binary', true);
    this.ajv.addSchema(spec as object, 'openapi.json');
    for (const [template, ops] of Object.entries(spec.paths)) {
      const parts = template.split(/\{[^}]+\}/).map((p) => p.replace(/[.*+?^$()|[\]\\]/g, '\\$&'));
      const params = parts.length - 1;
      const exact = new RegExp(`^${parts.join('[^/]+')}$`);
      // The last parameter may hold slashes (`/v1/files/{path}`).
      const greedy = new RegExp(`^${parts.slice(0, -1).join('[^/]+')}${params ? '.+' : ''}${parts.at(-1)}$`);
      for (const method of Object.keys(ops))
        this.routes.push({ method: method.toUpperCase(), template, exact, greedy, params });
    }
    // A fixed segment wins over a parameter (`/v1/charts/generate` over `/v1/charts/{id}`).
    this.routes.sort((a, b) => a.params - b.params);
  }

  check(answer: Answer, opts: { skipBody?: boolean } = {}): string[] {
    const candidates = this.routes.filter((r) => r.method === answer.method);
    const route =
      candidates.find((r) => r.exact.test(answer.path)) ?? candidates.find((r) => r.greedy.test(answer.path));
    if (!route) {
      // No such route: the server's own 404/405, which must still be the error envelope.
      if (answer.status === 404 || answer.status === 405)
        return this.validate('#/components/schemas/ErrorResponse', answer.body, opts);
      return [`no operation documents ${answer.method} ${answer.path}`];
    }
    const at = `#/paths/${pointerPart(route.template)}/${route.method.toLowerCase()}/responses`;
    const responses = this.resolve(at) as Record<string, Json>;
    const key = [String(answer.status), `${String(answer.status)[0]}XX`, 'default'].find((k) => responses[k]);
    if (!key) return [`status ${answer.status} is not documented for ${route.method} ${route.template}`];
    let pointer = `${at}/${key}`;
    let response = responses[key]!;
    while (typeof response.$ref === 'string') {
      pointer = response.$ref;
      response = this.resolve(pointer) as Json;
    }
    const content = response.content as Record<string, Json> | undefined;
    if (!content) return [];
    const media = (answer.contentType ?? '').split(';')[0]!.trim().toLowerCase();
    if (!media) return [`no content-type, but ${Object.keys(content).join(', ')} is documented`];
    if (!content[media])
      return [`content-type ${media} is not documented (${Object.keys(content).join(', ')} is)`];
    if (!media.includes('json')) return [];
    return this.validate(`${pointer}/content/${pointerPart(media)}/schema`, answer.body, opts);
  }

  private validate(pointer: string, body: unknown, opts: { skipBody?: boolean }): string[] {
    if (opts.skipBody) return [];
    const validate = this.ajv.getSchema(`openapi.json${pointer}`);
    if (!validate) return [`no schema at ${pointer}`];
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `body${e.instancePath} ${e.message} (${e.schemaPath})`);
  }

  private resolve(pointer: string): unknown {
    let node: unknown = this.spec;
    for (const raw of pointer.replace(/^#\//, '').split('/')) {
      const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
      node = (node as Json | undefined)?.[part];
    }
    return node;
  }
}
