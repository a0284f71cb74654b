import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * Checks a server's answers against its OpenAPI 3.1 document: a status the operation does not
 * document, a media type it does not declare, or a JSON body its schema refuses is a violation.
 * The e2e suites check every gateway answer through `fetch`, the gateway's tests every injected one.
 */

type Json = Record<string, unknown>;
export type OpenApiDocument = Json & { paths: Record<string, Record<string, Json>> };

export interface HttpAnswer {
  method: string;
  /** The path, without the query. */
  path: string;
  status: number;
  /** The `content-type` header, if any. */
  contentType: string | null;
  /** The parsed JSON body, or the text. */
  body: unknown;
}

const checkers = new WeakMap<OpenApiDocument, OpenApiChecker>();

/** The problems of `answer` against `spec` (none when it matches); the checker is kept per document. */
export function checkAnswer(
  spec: OpenApiDocument,
  answer: HttpAnswer,
  opts: { skipBody?: boolean } = {},
): string[] {
  let c = checkers.get(spec);
  if (!c) {
    c = new OpenApiChecker(spec);
    checkers.set(spec, c);
  }
  return c.check(answer, opts);
}

const pointerPart = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');

export class OpenApiChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  private readonly routes: {
    method: string;
    template: string;
    exact: RegExp;
    greedy: RegExp;
    params: number;
  }[] = [];

  constructor(private readonly spec: OpenApiDocument) {
    addFormats.default(this.ajv);
    this.ajv.addFormat('binary', true);
    this.ajv.addSchema(spec as object, 'openapi.json');
    for (const [template, ops] of Object.entries(spec.paths)) {
      const parts = template.split(/\{[^}]+\}/).map((p) => p.replace(/[.*+?^$()|[\]\\]/g, '\\$&'));
      const params = parts.length - 1;
      // A parameter may be empty (`/v1/charts/`): Fastify routes it, and answers as the route does.
      const exact = new RegExp(`^${parts.join('[^/]*')}$`);
      // The last parameter may hold slashes (`/v1/files/{path}`).
      const greedy = new RegExp(`^${parts.slice(0, -1).join('[^/]*')}${params ? '.+' : ''}${parts.at(-1)}$`);
      for (const method of Object.keys(ops))
        this.routes.push({ method: method.toUpperCase(), template, exact, greedy, params });
    }
    // A fixed segment wins over a parameter (`/v1/charts/generate` over `/v1/charts/{id}`).
    this.routes.sort((a, b) => a.params - b.params);
  }

  check(answer: HttpAnswer, opts: { skipBody?: boolean } = {}): string[] {
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
