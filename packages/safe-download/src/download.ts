import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  normaliseHostname,
  type ResolvedAddress,
  type Resolver,
  resolveChecked,
  systemResolver,
} from './address.js';
import { DownloadError } from './errors.js';

export const DEFAULT_CONTENT_TYPES = ['image/png', 'image/jpeg', 'image/svg+xml'] as const;

export interface DownloadOptions {
  /**
   * Host names that may be fetched, including after redirects: exact names (`r2.chart-img.com`) or
   * `*.suffix` for any subdomain of suffix (not suffix itself). Omitted: any host that passes the
   * address checks.
   */
  allowedHosts?: readonly string[];
  /** Allow plain http (default false: https only). Meant for loopback test fixtures. */
  allowHttp?: boolean;
  /** Allow loopback, private, link-local and other non-public addresses (default false). */
  allowPrivateAddresses?: boolean;
  /** Largest accepted body in bytes (default 10 MiB). */
  maxBytes?: number;
  /** Deadline for the whole download, redirects and body included (default 15 s). */
  timeoutMs?: number;
  /** Redirects followed, each one checked like the first request (default 3). */
  maxRedirects?: number;
  /** Accepted media types (default png, jpeg, svg); an empty list accepts any. */
  contentTypes?: readonly string[];
  /** Extra request headers, sent only to the origin of the first URL. */
  headers?: Readonly<Record<string, string>>;
  signal?: AbortSignal;
  /** DNS resolution (default: the system resolver). */
  resolver?: Resolver;
}

export interface DownloadInfo {
  /** The URL the body came from, after redirects. */
  url: string;
  /** Media type without parameters, lower case. */
  contentType: string;
  size: number;
  sha256: string;
}

export interface FileDownload extends DownloadInfo {
  path: string;
}

export interface BufferDownload extends DownloadInfo {
  body: Buffer;
}

interface Settings {
  allowedHosts: readonly string[] | undefined;
  allowHttp: boolean;
  allowPrivateAddresses: boolean;
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  contentTypes: readonly string[];
  headers: Readonly<Record<string, string>>;
  resolver: Resolver;
}

function settings(opts: DownloadOptions): Settings {
  return {
    allowedHosts: opts.allowedHosts?.map((h) => normaliseHostname(h)),
    allowHttp: opts.allowHttp ?? false,
    allowPrivateAddresses: opts.allowPrivateAddresses ?? false,
    maxBytes: opts.maxBytes ?? 10 * 1024 * 1024,
    timeoutMs: opts.timeoutMs ?? 15_000,
    maxRedirects: opts.maxRedirects ?? 3,
    contentTypes: (opts.contentTypes ?? DEFAULT_CONTENT_TYPES).map((t) => t.toLowerCase()),
    headers: opts.headers ?? {},
    resolver: opts.resolver ?? systemResolver,
  };
}

export function hostAllowed(hostname: string, allowedHosts: readonly string[]): boolean {
  const host = normaliseHostname(hostname);
  return allowedHosts.some((pattern) => {
    const p = normaliseHostname(pattern);
    if (p.startsWith('*.')) return host.endsWith(p.slice(1)) && host.length > p.length - 1;
    return host === p;
  });
}

/** Parses `raw` and checks its scheme, credentials and host against the settings. */
export function checkUrl(raw: string, s: Pick<Settings, 'allowHttp' | 'allowedHosts'>): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new DownloadError('INVALID_URL', `not a valid URL: ${raw}`, { cause });
  }
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && s.allowHttp))) {
    throw new DownloadError('SCHEME_NOT_ALLOWED', `scheme ${url.protocol} is not allowed`, { url: url.href });
  }
  if (url.username || url.password) {
    throw new DownloadError('INVALID_URL', 'credentials in the URL are not allowed', { url: url.origin });
  }
  if (s.allowedHosts && !hostAllowed(url.hostname, s.allowedHosts)) {
    throw new DownloadError('HOST_NOT_ALLOWED', `host ${url.hostname} is not in the allowlist`, {
      url: url.href,
    });
  }
  return url;
}

/** A `lookup` that answers with the already checked address: no second DNS query, no rebinding. */
export function pinnedLookup(target: ResolvedAddress): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  }) as unknown as LookupFunction;
}

function requestOnce(
  url: URL,
  target: ResolvedAddress,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      {
        protocol: url.protocol,
        hostname: normaliseHostname(url.hostname),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers,
        // A pooled socket could have been opened under other options; always connect afresh.
        agent: false,
        lookup: pinnedLookup(target),
        signal,
      },
      resolve,
    );
    req.once('error', reject);
    req.end();
  });
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Follows redirects (each re-checked) up to a 2xx answer whose type and declared size are acceptable. */
async function open(
  rawUrl: string,
  s: Settings,
  signal: AbortSignal,
): Promise<{ res: IncomingMessage; url: URL }> {
  let url = checkUrl(rawUrl, s);
  const origin = url.origin;
  for (let redirects = 0; ; redirects++) {
    const target = await resolveChecked(normaliseHostname(url.hostname), {
      allowPrivateAddresses: s.allowPrivateAddresses,
      resolver: s.resolver,
      url: url.href,
    });
    const headers: Record<string, string> = {
      'user-agent': 'chartwright-safe-download/0.1',
      accept: s.contentTypes.length > 0 ? s.contentTypes.join(', ') : '*/*',
      'accept-encoding': 'identity',
      ...(url.origin === origin ? s.headers : {}),
    };
    const res = await requestOnce(url, target, headers, signal);
    const status = res.statusCode ?? 0;

    if (REDIRECTS.has(status)) {
      res.destroy();
      const location = res.headers.location;
      if (!location) {
        throw new DownloadError('BAD_STATUS', `redirect ${status} without a Location`, {
          url: url.href,
          status,
        });
      }
      if (redirects >= s.maxRedirects) {
        throw new DownloadError('TOO_MANY_REDIRECTS', `more than ${s.maxRedirects} redirects`, {
          url: url.href,
        });
      }
      url = checkUrl(new URL(location, url).href, s);
      continue;
    }
    if (status < 200 || status > 299) {
      res.destroy();
      throw new DownloadError('BAD_STATUS', `unexpected status ${status}`, { url: url.href, status });
    }
    const type = mediaType(res.headers['content-type']);
    if (s.contentTypes.length > 0 && !s.contentTypes.includes(type)) {
      res.destroy();
      throw new DownloadError('BAD_CONTENT_TYPE', `content type '${type || 'none'}' is not accepted`, {
        url: url.href,
      });
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > s.maxBytes) {
      res.destroy();
      throw new DownloadError('TOO_LARGE', `declared size ${declared} exceeds ${s.maxBytes} bytes`, {
        url: url.href,
      });
    }
    return { res, url };
  }
}

/** Counts and hashes what passes, failing once more than `maxBytes` went through. */
class Meter extends Transform {
  size = 0;
  readonly hash = createHash('sha256');

  constructor(
    private readonly maxBytes: number,
    private readonly url: string,
  ) {
    super();
  }

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null, data?: Buffer) => void,
  ) {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      callback(new DownloadError('TOO_LARGE', `body exceeds ${this.maxBytes} bytes`, { url: this.url }));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }
}

async function run<T>(
  opts: DownloadOptions,
  fn: (s: Settings, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const s = settings(opts);
  const deadline = AbortSignal.timeout(s.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
  try {
    return await fn(s, signal);
  } catch (error) {
    if (error instanceof DownloadError) throw error;
    if (opts.signal?.aborted) throw new DownloadError('ABORTED', 'download aborted', { cause: error });
    if (deadline.aborted) {
      throw new DownloadError('TIMEOUT', `download did not finish within ${s.timeoutMs} ms`, {
        cause: error,
      });
    }
    throw new DownloadError('NETWORK', `download failed: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Downloads `url` to `destPath`, atomically: the body goes to a temporary file beside it, renamed
 * into place only when complete. On any failure no file is left behind.
 */
export function downloadToFile(
  url: string,
  destPath: string,
  opts: DownloadOptions = {},
): Promise<FileDownload> {
  return run(opts, async (s, signal) => {
    const { res, url: finalUrl } = await open(url, s, signal);
    const meter = new Meter(s.maxBytes, finalUrl.href);
    const temp = join(dirname(destPath), `.${basename(destPath)}.${randomUUID()}.part`);
    try {
      await pipeline(res, meter, createWriteStream(temp, { flags: 'wx', mode: 0o600 }), { signal });
      await rename(temp, destPath);
    } catch (error) {
      res.destroy();
      await rm(temp, { force: true });
      throw error;
    }
    return {
      path: destPath,
      url: finalUrl.href,
      contentType: mediaType(res.headers['content-type']),
      size: meter.size,
      sha256: meter.hash.digest('hex'),
    };
  });
}

/** Downloads `url` into memory, with the same checks as {@link downloadToFile}. */
export function downloadToBuffer(url: string, opts: DownloadOptions = {}): Promise<BufferDownload> {
  return run(opts, async (s, signal) => {
    const { res, url: finalUrl } = await open(url, s, signal);
    const meter = new Meter(s.maxBytes, finalUrl.href);
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    });
    try {
      await pipeline(res, meter, sink, { signal });
    } catch (error) {
      res.destroy();
      throw error;
    }
    return {
      body: Buffer.concat(chunks),
      url: finalUrl.href,
      contentType: mediaType(res.headers['content-type']),
      size: meter.size,
      sha256: meter.hash.digest('hex'),
    };
  });
}
