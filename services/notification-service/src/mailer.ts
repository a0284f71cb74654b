import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@chartwright/kit';
import nodemailer from 'nodemailer';

export interface OutgoingMail {
  id: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
}

/** A failed send: `temporary` ones (SMTP 4xx, no connection) are tried again later. */
export class MailError extends Error {
  constructor(
    message: string,
    readonly temporary: boolean,
  ) {
    super(message);
    this.name = 'MailError';
  }
}

export interface Mailer {
  readonly kind: 'smtp' | 'file';
  /** Sends the mail; for the file mailer, answers where it was written. */
  send(mail: OutgoingMail): Promise<{ path?: string }>;
  close(): void;
}

const message = (m: OutgoingMail) => ({
  from: m.from,
  to: m.to,
  subject: m.subject,
  text: m.text,
  html: m.html,
  headers: m.headers,
  messageId: `<${m.id}@chartwright>`,
});

/** nodemailer over SMTP (`smtp://` or `smtps://`, credentials in the URL). */
export function smtpMailer(url: string): Mailer {
  const transport = nodemailer.createTransport(url);
  return {
    kind: 'smtp',
    async send(m) {
      try {
        await transport.sendMail(message(m));
        return {};
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode;
        const text = String((err as Error)?.message ?? err).slice(0, 500);
        // 5xx is the server's final word; 4xx and connection trouble may pass later.
        throw new MailError(code ? `SMTP ${code}: ${text}` : text, !(code && code >= 500));
      }
    },
    close: () => transport.close(),
  };
}

/**
 * Without SMTP (the embedded default): each mail is written as an .eml file under `dir`, built by
 * nodemailer exactly as it would be sent, and its path logged so it can be opened.
 */
export function fileMailer(dir: string, logger: Logger): Mailer {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    kind: 'file',
    async send(m) {
      const info = await transport.sendMail(message(m));
      await mkdir(dir, { recursive: true });
      const file = path.resolve(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${m.id}.eml`);
      await writeFile(file, info.message as Buffer);
      logger.info({ path: file, to: m.to, subject: m.subject }, 'mail written (no SMTP_URL set)');
      return { path: file };
    },
    close: () => transport.close(),
  };
}
