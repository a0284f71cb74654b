import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '@chartwright/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, createStack, type Stack } from './support.js';

/**
 * Sign-up with address confirmation (SIGNUP_VERIFY_EMAIL, on by default in production): the answer
 * is the same for a new address, an unconfirmed one and a taken one, so sign-up tells nobody which
 * addresses have accounts; the mail (written by notification-service) carries the link or tells the
 * owner of a taken address.
 */
describe('sign-up without account enumeration [postgres] [jetstream]', () => {
  let stack: Stack;
  let gateway: string;
  let mailDir: string;

  beforeAll(async () => {
    stack = await createStack();
    mailDir = await mkdtemp(path.join(tmpdir(), 'cw-e2e-mail-'));
    await stack.start('notification-service', { DATA_DIR: mailDir, NOTIFICATION_POLL_INTERVAL_MS: '100' });
    gateway = (await stack.start('gateway', { SIGNUP_VERIFY_EMAIL: 'true' }, { port: stack.gatewayPort }))
      .url;
  });
  afterAll(async () => {
    await stack?.close();
    if (mailDir) await rm(mailDir, { recursive: true, force: true });
  });

  const signup = (email: string, password: string) =>
    api(gateway, 'POST', '/v1/auth/signup', { body: { email, password } });
  const login = (email: string, password: string) =>
    api(gateway, 'POST', '/v1/auth/login', { body: { email, password } });

  /** The mails queued for `to`, oldest first, once `n` of them exist. */
  const mailsTo = (to: string, n: number) =>
    eventually(async () => {
      const rows = await stack.query<{ subject: string; text: string; headers: unknown }>(
        `select subject, text, headers from notification.emails where to_address = $1 order by created_at`,
        [to],
      );
      if (rows.length < n) throw new Error(`${rows.length} of ${n} mails to ${to}`);
      return rows;
    });
  const linkIn = (text: string) => {
    const m = /(http:\/\/\S+\/v1\/auth\/verify\?token=[\w%-]+)/.exec(text);
    if (!m) throw new Error(`no link in ${text}`);
    return new URL(m[1]!);
  };
  const follow = (link: URL) => api(gateway, 'GET', link.pathname + link.search);

  it('answers a new, an unconfirmed and a taken address alike, and mails each the right thing', async () => {
    const owner = `owner-${Date.now()}@example.com`;
    // A confirmed account, made through the mailed link.
    const first = await signup(owner, 'owner password 1');
    expect(first.status).toBe(202);
    const [confirm] = await mailsTo(owner, 1);
    expect(confirm!.subject).toBe('Confirm your Chartwright account');
    // A transactional mail: no unsubscribe header.
    expect(JSON.stringify(confirm!.headers)).not.toContain('List-Unsubscribe');
    const verified = await follow(linkIn(confirm!.text));
    expect(verified.status).toBe(200);
    expect(verified.body.data).toMatchObject({ verified: true, user: { email: owner } });

    const fresh = `fresh-${Date.now()}@example.com`;
    const forNew = await signup(fresh, 'attacker password');
    const forTaken = await signup(owner, 'attacker password');
    const forUnconfirmed = await signup(fresh, 'second password');
    for (const res of [forNew, forTaken, forUnconfirmed]) {
      expect(res.status).toBe(202);
      expect(Object.keys(res.body.data).sort()).toEqual(['email', 'verification']);
      expect(res.body.data.verification).toBe('sent');
      expect(res.body.message).toBe(forNew.body.message);
      expect(res.headers.get('content-length')).toBe(
        String(Number(forNew.headers.get('content-length')) - fresh.length + res.body.data.email.length),
      );
    }

    // The owner of the taken address is told, and their account is untouched.
    const ownerMails = await mailsTo(owner, 2);
    expect(ownerMails[1]!.subject).toBe('Someone tried to sign up with your address');
    expect((await login(owner, 'owner password 1')).status).toBe(200);
    expect((await login(owner, 'attacker password')).status).toBe(401);

    // Until its address is confirmed, an account fails to log in exactly like a wrong password.
    const unconfirmed = await login(fresh, 'attacker password');
    const unknown = await login(`nobody-${Date.now()}@example.com`, 'attacker password');
    expect(unconfirmed.status).toBe(401);
    expect(unconfirmed.body).toEqual(unknown.body);

    // Each sign-up of the unconfirmed address mailed its own link, carrying its own password: the
    // one followed decides, and the others stop working.
    const [link1, link2] = (await mailsTo(fresh, 2)).map((m) => linkIn(m.text));
    expect((await follow(link2!)).status).toBe(200);
    expect((await login(fresh, 'second password')).status).toBe(200);
    expect((await login(fresh, 'attacker password')).status).toBe(401);
    const stale = await follow(link1!);
    expect(stale.status).toBe(400);
    expect(stale.body.error.details[0].field).toBe('token');
  });

  it('refuses a made-up or missing token with 400 naming it', async () => {
    const res = await api(gateway, 'GET', '/v1/auth/verify?token=not-a-real-token-at-all-xxxxxxxx');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(res.body.error.details[0].field).toBe('token');
    const missing = await api(gateway, 'GET', '/v1/auth/verify');
    expect(missing.status).toBe(400);
  });

  it('takes as long for a taken address as for a new one (the password is hashed either way)', async () => {
    const taken = `taken-${Date.now()}@example.com`;
    await signup(taken, 'the real password');
    const [mail] = await mailsTo(taken, 1);
    await follow(linkIn(mail!.text));
    const time = async (email: string) => {
      const t0 = performance.now();
      expect((await signup(email, 'some password')).status).toBe(202);
      return performance.now() - t0;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const fresh: number[] = [];
    const existing: number[] = [];
    for (let i = 0; i < 5; i++) {
      fresh.push(await time(`new-${i}-${Date.now()}@example.com`));
      existing.push(await time(taken));
    }
    console.log(`signup timing: new ${median(fresh).toFixed(1)} ms, taken ${median(existing).toFixed(1)} ms`);
    // Skipping the hash for a taken address would make it several times faster; noise on a shared
    // machine stays well inside this bound.
    expect(median(existing)).toBeGreaterThan(median(fresh) * 0.5);
    expect(median(existing)).toBeLessThan(median(fresh) * 2);
  });
});
