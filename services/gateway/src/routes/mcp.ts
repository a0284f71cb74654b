import { createMcpServer } from '@chartwright/mcp';
import { Chartwright } from '@chartwright/sdk';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * A client of this same gateway, for the MCP tools: each call goes through `app.inject` (no
 * network hop) with the caller's own credential, so auth, quotas, rate limits and ownership
 * checks are the REST API's.
 */
function selfClient(app: FastifyInstance, req: FastifyRequest): Chartwright {
  const apiKey = req.headers['x-api-key'];
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  return new Chartwright({
    baseUrl: 'http://gateway.internal',
    apiKey: typeof apiKey === 'string' ? apiKey : undefined,
    token: bearer,
    maxRetries: 0,
    fetch: async (input, init) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
      const res = await app.inject({
        method: request.method as 'GET',
        url: url.pathname + url.search,
        headers: Object.fromEntries(request.headers),
        payload: body,
        remoteAddress: req.ip,
      });
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers))
        for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) headers.append(k, String(one));
      const empty = res.statusCode === 204 || res.statusCode === 304;
      return new Response(empty ? null : new Uint8Array(res.rawPayload), { status: res.statusCode, headers });
    },
  });
}

/**
 * `POST /mcp`: the MCP server over Streamable HTTP, stateless (a server per request, JSON answers),
 * behind the same authentication as the REST API. Hidden from the OpenAPI document: its body is
 * JSON-RPC, described by the MCP specification.
 */
export async function mcpRoutes(app: FastifyInstance): Promise<void> {
  const root = app;
  app.post('/mcp', { schema: { hide: true } }, async (req, reply) => {
    const server = createMcpServer(selfClient(root, req));
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    try {
      await server.connect(transport);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === 'string') headers.set(k, v);
        else if (Array.isArray(v)) headers.set(k, v.join(', '));
      const res = await transport.handleRequest(
        new Request(`http://gateway.internal${req.url}`, { method: 'POST', headers }),
        { parsedBody: req.body },
      );
      reply.code(res.status);
      res.headers.forEach((value, key) => {
        reply.header(key, value);
      });
      return reply.send(res.status === 202 ? null : await res.text());
    } finally {
      await server.close();
    }
  });
  // Stateless: no server-initiated stream (GET) and no session to end (DELETE).
  for (const method of ['GET', 'DELETE'] as const)
    app.route({
      method,
      url: '/mcp',
      schema: { hide: true },
      handler: async (_req, reply) =>
        reply
          .code(405)
          .header('allow', 'POST')
          .send({
            success: false,
            error: {
              code: 'VALIDATION_ERROR',
              message: 'This MCP endpoint is stateless: send JSON-RPC messages with POST',
            },
          }),
    });
}
