import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { normaliseHostname, type Resolver, resolveChecked, systemResolver } from './address.js';
import { checkUrl, pinnedLookup } from './download.js';
import { DownloadError } from './errors.js';

export interface PostOptions {
  /** Allow plain http (default false: https only). */
  allowHttp?: boolean;
  /** Allow loopback, private, link-local and other non-public addresses (default false). */
  allowPrivateAddresses?: boolean;
  /** Deadline for the whole exchange, answer included (default 15 s). */
  timeoutMs?: number;
  /** Bytes of the answer kept; the rest is not read (default 64 KiB). */
  maxResponseBytes?: number;
  headers?: Readonly<Record<string, string>>;
  resolver?: Resolver;
  /** Keep-alive agents to reuse connections; omitted: a fresh connection each time. */
  agents?: { http: http.Agent; https: https.Agent };
}

export interface PostResult {
  status: number;
  /** Up to `maxResponseBytes` of the answer. */
  body: Buffer;
  /** Where the answer came from (the address checked and connected to). */
  address: string;
}

/**
 * POSTs `body` to `url` with the same address rules as the downloads: the host is resolved,
 * every answer checked, and the connection pinned to the checked address (no second lookup, no
 * rebinding). Redirects are never followed: a 3xx is returned like any other status.
 */
export async function postChecked(
  url: string,
  body: string | Buffer,
  opts: PostOptions = {},
): Promise<PostResult> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const maxBytes = opts.maxResponseBytes ?? 64 * 1024;
  const signal = AbortSignal.timeout(timeoutMs);
  const target = checkUrl(url, { allowHttp: opts.allowHttp ?? false, allowedHosts: undefined });
  const address = await resolveChecked(normaliseHostname(target.hostname), {
    allowPrivateAddresses: opts.allowPrivateAddresses ?? false,
    resolver: opts.resolver ?? systemResolver,
    url: target.href,
  });
  const secure = target.protocol === 'https:';
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  try {
    return await new Promise<PostResult>((resolve, reject) => {
      const req = (secure ? https : http).request(
        {
          protocol: target.protocol,
          hostname: normaliseHostname(target.hostname),
          port: target.port || undefined,
          path: `${target.pathname}${target.search}`,
          method: 'POST',
          headers: { ...opts.headers, 'content-length': String(payload.length) },
          agent: opts.agents ? (secure ? opts.agents.https : opts.agents.http) : false,
          lookup: pinnedLookup(address),
          signal,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const done = () => {
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).subarray(0, maxBytes),
              address: address.address,
            });
          };
          res.on('data', (c: Buffer) => {
            if (size >= maxBytes) return;
            chunks.push(c);
            size += c.length;
            // Enough read: the rest is not our business, and the socket is not reused.
            if (size >= maxBytes) {
              res.destroy();
              done();
            }
          });
          res.once('end', done);
          res.once('error', reject);
          res.once('close', done);
        },
      );
      req.once('error', reject);
      req.end(payload);
    });
  } catch (error) {
    if (signal.aborted)
      throw new DownloadError('TIMEOUT', `no answer within ${timeoutMs} ms`, {
        url: target.href,
        cause: error,
      });
    throw new DownloadError('NETWORK', `request failed: ${(error as Error).message}`, {
      url: target.href,
      cause: error,
    });
  }
}
