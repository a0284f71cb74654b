import { makePng } from '@chartwright/object-store/testing';

export { makePng, startS3rver } from '@chartwright/object-store/testing';

import http from 'node:http';
import type { AddressInfo } from 'node:net';

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
