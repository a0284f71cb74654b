import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type DownloadErrorCode,
  type DownloadOptions,
  downloadToBuffer,
  downloadToFile,
  hostAllowed,
  isPublicAddress,
  type Resolver,
} from '../src/index.js';

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(4000, 7),
]);

interface Fixture {
  server: Server;
  port: number;
  base: string;
  requests: { url: string; headers: IncomingHttpHeaders }[];
}

async function startFixture(routes: (port: number) => Parameters<typeof createServer>[1]): Promise<Fixture> {
  const requests: Fixture['requests'] = [];
  let port = 0;
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    routes(port)?.(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return { server, port, base: `http://127.0.0.1:${port}`, requests };
}

function stop(f: Fixture): Promise<void> {
  f.server.closeAllConnections();
  return new Promise((resolve) => f.server.close(() => resolve()));
}

let main: Fixture;
let other: Fixture;
let dir: string;

/** Loopback fixtures need both relaxations; every test that uses them says so explicitly. */
const LOOPBACK: DownloadOptions = { allowHttp: true, allowPrivateAddresses: true, timeoutMs: 5000 };

beforeAll(async () => {
  other = await startFixture(() => (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png' }).end(PNG);
  });
  main = await startFixture((port) => (req, res) => {
    switch (req.url) {
      case '/chart.png':
        res
          .writeHead(200, { 'content-type': 'image/png; charset=binary', 'content-length': PNG.length })
          .end(PNG);
        return;
      case '/redirect-same':
        res.writeHead(302, { location: '/chart.png' }).end();
        return;
      case '/redirect-other':
        res.writeHead(302, { location: `http://localhost:${other.port}/chart.png` }).end();
        return;
      case '/redirect-https':
        res.writeHead(301, { location: `ftp://127.0.0.1:${port}/chart.png` }).end();
        return;
      case '/loop':
        res.writeHead(307, { location: '/loop' }).end();
        return;
      case '/big-declared':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': 5000 }).end(Buffer.alloc(5000));
        return;
      case '/big-chunked': {
        res.writeHead(200, { 'content-type': 'image/png' });
        let sent = 0;
        const tick = () => {
          if (sent >= 50_000 || res.destroyed) return res.end();
          res.write(Buffer.alloc(1000, 1));
          sent += 1000;
          setImmediate(tick);
        };
        tick();
        return;
      }
      case '/stall-headers':
        return;
      case '/stall-body':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': 10_000 });
        res.write(Buffer.alloc(100));
        return;
      case '/html':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>');
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
});

afterAll(async () => {
  await Promise.all([stop(main), stop(other)]);
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'safe-download-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectCode(promise: Promise<unknown>, code: DownloadErrorCode): Promise<void> {
  await expect(promise).rejects.toMatchObject({ name: 'DownloadError', code });
}

describe('downloads', () => {
  it('writes the body to the destination with its type, size and hash', async () => {
    const dest = join(dir, 'chart.png');
    const result = await downloadToFile(`${main.base}/chart.png`, dest, LOOPBACK);
    expect(await readFile(dest)).toEqual(PNG);
    expect(result).toEqual({
      path: dest,
      url: `${main.base}/chart.png`,
      contentType: 'image/png',
      size: PNG.length,
      sha256: createHash('sha256').update(PNG).digest('hex'),
    });
    expect(await readdir(dir)).toEqual(['chart.png']);
  });

  it('downloads into a buffer', async () => {
    const result = await downloadToBuffer(`${main.base}/chart.png`, LOOPBACK);
    expect(result.body).toEqual(PNG);
    expect(result.size).toBe(PNG.length);
  });

  it('follows a redirect on an allowed host', async () => {
    const result = await downloadToBuffer(`${main.base}/redirect-same`, {
      ...LOOPBACK,
      allowedHosts: ['127.0.0.1'],
    });
    expect(result.url).toBe(`${main.base}/chart.png`);
  });

  it('connects to the address it checked, without a second DNS lookup', async () => {
    const lookups: string[] = [];
    const resolver: Resolver = async (host) => {
      lookups.push(host);
      return [{ address: '127.0.0.1', family: 4 }];
    };
    // `.invalid` never resolves in real DNS: success proves the connection used the pinned address.
    const url = `http://charts.invalid:${main.port}/chart.png`;
    const result = await downloadToBuffer(url, { ...LOOPBACK, resolver, allowedHosts: ['*.invalid'] });
    expect(result.body).toEqual(PNG);
    expect(lookups).toEqual(['charts.invalid']);
    expect(main.requests.at(-1)?.headers.host).toBe(`charts.invalid:${main.port}`);
  });
});

describe('address checks', () => {
  it('refuses the cloud metadata address 169.254.169.254', async () => {
    await expectCode(
      downloadToFile('https://169.254.169.254/latest/meta-data/', join(dir, 'x')),
      'PRIVATE_ADDRESS',
    );
    await expectCode(
      downloadToBuffer('http://169.254.169.254/latest/meta-data/', { allowHttp: true }),
      'PRIVATE_ADDRESS',
    );
    await expectCode(downloadToBuffer('https://[::ffff:169.254.169.254]/'), 'PRIVATE_ADDRESS');
  });

  it('refuses a host name that resolves to the metadata address', async () => {
    const resolver: Resolver = async () => [{ address: '169.254.169.254', family: 4 }];
    await expectCode(downloadToBuffer('https://metadata.example.com/', { resolver }), 'PRIVATE_ADDRESS');
  });

  it('refuses a host when any of its addresses is private', async () => {
    const resolver: Resolver = async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '10.0.0.5', family: 4 },
    ];
    await expectCode(downloadToBuffer('https://mixed.example.com/', { resolver }), 'PRIVATE_ADDRESS');
  });

  it('refuses localhost and loopback by default, before sending anything', async () => {
    const before = main.requests.length;
    await expectCode(
      downloadToBuffer(`http://localhost:${main.port}/chart.png`, { allowHttp: true }),
      'PRIVATE_ADDRESS',
    );
    await expectCode(
      downloadToBuffer(`http://127.0.0.1:${main.port}/chart.png`, { allowHttp: true }),
      'PRIVATE_ADDRESS',
    );
    await expectCode(
      downloadToBuffer(`http://[::1]:${main.port}/chart.png`, { allowHttp: true }),
      'PRIVATE_ADDRESS',
    );
    expect(main.requests.length).toBe(before);
  });

  it('classifies addresses', () => {
    for (const ip of ['8.8.8.8', '93.184.215.14', '2606:4700:4700::1111', '2001:4860:4860::8888']) {
      expect(isPublicAddress(ip), ip).toBe(true);
    }
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '192.0.2.1',
      '::1',
      '::',
      'fe80::1',
      'fc00::1',
      'fd00:ec2::254',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:169.254.169.254',
      '64:ff9b::a9fe:a9fe',
      '2002:a9fe:a9fe::1',
      'not-an-ip',
    ]) {
      expect(isPublicAddress(ip), ip).toBe(false);
    }
  });
});

describe('scheme and host policy', () => {
  it('allows only https unless http is explicitly enabled', async () => {
    await expectCode(
      downloadToBuffer(`${main.base}/chart.png`, { allowPrivateAddresses: true }),
      'SCHEME_NOT_ALLOWED',
    );
    await expectCode(downloadToBuffer('file:///etc/passwd'), 'SCHEME_NOT_ALLOWED');
    await expectCode(downloadToBuffer('not a url'), 'INVALID_URL');
  });

  it('refuses hosts outside the allowlist', async () => {
    await expectCode(
      downloadToBuffer(`${main.base}/chart.png`, { ...LOOPBACK, allowedHosts: ['r2.chart-img.com'] }),
      'HOST_NOT_ALLOWED',
    );
  });

  it('matches exact names and *.suffix patterns', () => {
    expect(hostAllowed('r2.chart-img.com', ['r2.chart-img.com'])).toBe(true);
    expect(hostAllowed('R2.Chart-Img.com.', ['r2.chart-img.com'])).toBe(true);
    expect(hostAllowed('a.b.chart-img.com', ['*.chart-img.com'])).toBe(true);
    expect(hostAllowed('chart-img.com', ['*.chart-img.com'])).toBe(false);
    expect(hostAllowed('evilchart-img.com', ['*.chart-img.com'])).toBe(false);
    expect(hostAllowed('r2.chart-img.com.evil.io', ['r2.chart-img.com'])).toBe(false);
  });

  it('refuses a redirect to another host and never contacts it', async () => {
    const before = other.requests.length;
    await expectCode(
      downloadToBuffer(`${main.base}/redirect-other`, { ...LOOPBACK, allowedHosts: ['127.0.0.1'] }),
      'HOST_NOT_ALLOWED',
    );
    expect(other.requests.length).toBe(before);
  });

  it('re-checks the scheme of a redirect', async () => {
    await expectCode(downloadToBuffer(`${main.base}/redirect-https`, LOOPBACK), 'SCHEME_NOT_ALLOWED');
  });

  it('stops after maxRedirects', async () => {
    await expectCode(
      downloadToBuffer(`${main.base}/loop`, { ...LOOPBACK, maxRedirects: 2 }),
      'TOO_MANY_REDIRECTS',
    );
  });
});

describe('responses', () => {
  it('refuses a body whose Content-Length is too large, leaving no file', async () => {
    const dest = join(dir, 'big.png');
    await expectCode(
      downloadToFile(`${main.base}/big-declared`, dest, { ...LOOPBACK, maxBytes: 1000 }),
      'TOO_LARGE',
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it('aborts a body without Content-Length once it passes the cap, leaving no partial file', async () => {
    const dest = join(dir, 'big.png');
    await expectCode(
      downloadToFile(`${main.base}/big-chunked`, dest, { ...LOOPBACK, maxBytes: 10_000 }),
      'TOO_LARGE',
    );
    expect(await readdir(dir)).toEqual([]);
    await expectCode(
      downloadToBuffer(`${main.base}/big-chunked`, { ...LOOPBACK, maxBytes: 10_000 }),
      'TOO_LARGE',
    );
  });

  it('times out when no answer comes', async () => {
    await expectCode(
      downloadToBuffer(`${main.base}/stall-headers`, { ...LOOPBACK, timeoutMs: 300 }),
      'TIMEOUT',
    );
  });

  it('times out in the middle of the body, leaving no partial file', async () => {
    const dest = join(dir, 'slow.png');
    await expectCode(
      downloadToFile(`${main.base}/stall-body`, dest, { ...LOOPBACK, timeoutMs: 300 }),
      'TIMEOUT',
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it('honours the caller abort signal', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expectCode(
      downloadToBuffer(`${main.base}/stall-headers`, { ...LOOPBACK, signal: controller.signal }),
      'ABORTED',
    );
  });

  it('refuses error statuses and unexpected content types', async () => {
    await expect(downloadToBuffer(`${main.base}/missing`, LOOPBACK)).rejects.toMatchObject({
      code: 'BAD_STATUS',
      status: 404,
    });
    await expectCode(downloadToBuffer(`${main.base}/html`, LOOPBACK), 'BAD_CONTENT_TYPE');
    const any = await downloadToBuffer(`${main.base}/html`, { ...LOOPBACK, contentTypes: [] });
    expect(any.contentType).toBe('text/html');
  });
});
