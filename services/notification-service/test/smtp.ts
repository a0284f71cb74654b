import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Mail {
  to: string[];
  raw: string;
  subject: string;
  headers: Record<string, string>;
  text: string;
  html: string;
}

/**
 * A real SMTP server (the npm `smtp-server`) on loopback. `answer(to, count)` may refuse a message
 * with an SMTP code (e.g. 451 temporary, 550 permanent); accepted ones are parsed into `mails`.
 */
export async function startSmtp(answer: (to: string, count: number) => number | undefined = () => undefined) {
  const mails: Mail[] = [];
  const tries = new Map<string, number>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address);
        const n = (tries.get(to[0]!) ?? 0) + 1;
        tries.set(to[0]!, n);
        const code = answer(to[0]!, n);
        if (code) return callback(Object.assign(new Error(`refused with ${code}`), { responseCode: code }));
        mails.push(parse(to, Buffer.concat(chunks).toString()));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    tries: (to: string) => tries.get(to) ?? 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Enough MIME for the tests: headers (unfolded, encoded words decoded) and the two parts. */
function parse(to: string[], raw: string): Mail {
  const [head = '', ...rest] = raw.split(/\r?\n\r?\n/);
  const headers = headerMap(head);
  const boundary = /boundary="?([^";]+)"?/.exec(headers['content-type'] ?? '')?.[1];
  const parts = boundary ? raw.split(`--${boundary}`).slice(1, -1) : [rest.join('\n\n')];
  const part = (type: string) => {
    const p = parts.find((x) => new RegExp(`content-type: ${type}`, 'i').test(x));
    if (!p) return '';
    const [ph = '', ...body] = p.replace(/^\r?\n/, '').split(/\r?\n\r?\n/);
    const h = headerMap(ph);
    const b = body.join('\n\n');
    const enc = (h['content-transfer-encoding'] ?? '').toLowerCase();
    if (enc === 'base64') return Buffer.from(b.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (enc === 'quoted-printable') return qp(b);
    return b;
  };
  return {
    to,
    raw,
    subject: words(headers.subject ?? ''),
    headers,
    text: part('text/plain'),
    html: part('text/html'),
  };
}

function headerMap(head: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

const qp = (s: string) =>
  Buffer.from(
    s
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
    'latin1',
  ).toString('utf8');

/** RFC 2047 encoded words. */
const words = (s: string) =>
  s
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?utf-8\?([qb])\?([^?]*)\?=/gi, (_, enc: string, text: string) =>
      enc.toLowerCase() === 'b' ? Buffer.from(text, 'base64').toString('utf8') : qp(text.replace(/_/g, ' ')),
    );
