import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import S3rver from 's3rver';

/** s3rver on a random loopback port, in a temp dir removed by `close`. */
export async function startS3rver() {
  const directory = await mkdtemp(path.join(tmpdir(), 'cw-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true });
  const { port } = await server.run();
  return {
    env: (bucket: string) => ({
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_CREATE_BUCKET: 'true',
    }),
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** A real PNG (RGB, noisy pixels) of the given size. */
export function makePng(width: number, height: number, seed = 1): Buffer {
  let x = seed;
  const rand = () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x >> 16;
  };
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let i = 1; i <= width * 3; i++) raw[row + i] = rand() & 0xff;
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A loopback stand-in for the chart-img.com CDN: `/img/<name>.png` serves a PNG, `/big.png` a
 * body larger than `bigBytes` (streamed, no length), `/big-declared.png` one that declares it,
 * `/redirect?to=<url>` redirects, `/html.png` serves HTML as image/png, and `/flaky/<name>.png`
 * answers 503 on its first request.
 */
export async function startImageServer(bigBytes: number) {
  const images = new Map<string, Buffer>();
  const flaky = new Set<string>();
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    hits.push(url.pathname);
    const png = (body: Buffer) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length });
      res.end(body);
    };
    if (url.pathname.startsWith('/img/')) {
      const img = images.get(url.pathname.slice(5));
      if (img) return png(img);
    } else if (url.pathname.startsWith('/flaky/')) {
      const name = url.pathname.slice(7);
      const img = images.get(name);
      if (img && !flaky.has(name)) {
        flaky.add(name);
        res.writeHead(503).end('try later');
        return;
      }
      if (img) return png(img);
    } else if (url.pathname === '/big.png') {
      res.writeHead(200, { 'content-type': 'image/png' });
      const head = makePng(8, 8);
      res.write(head);
      const block = Buffer.alloc(16 * 1024, 0x42);
      let sent = head.length;
      const pump = () => {
        while (sent <= bigBytes * 2) {
          sent += block.length;
          if (!res.write(block)) return res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => undefined);
      return pump();
    } else if (url.pathname === '/big-declared.png') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': bigBytes * 4 });
      res.end();
      return;
    } else if (url.pathname === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end();
      return;
    } else if (url.pathname === '/html.png') {
      res.writeHead(200, { 'content-type': 'image/png' }).end('<html>not an image</html>');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    hits,
    /** Serves `body` at `/img/<name>` and `/flaky/<name>`. */
    add(name: string, body: Buffer) {
      images.set(name, body);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
