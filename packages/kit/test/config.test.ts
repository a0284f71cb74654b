import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CommonEnv, ConfigError, env, natsAuthFromEnv, parseEnv } from '../src/config.js';
import { createHttpApp } from '../src/http/server.js';

const Schema = z.object({
  PORT: env.port(3000),
  ENABLED: env.bool(false),
  DATABASE_URL: env.url().optional(),
  WORKERS: env.int(2, 1, 16),
});

describe('parseEnv', () => {
  it('applies defaults and treats empty strings as unset', () => {
    expect(parseEnv(Schema, { PORT: '', ENABLED: 'yes' })).toEqual({ PORT: 3000, ENABLED: true, WORKERS: 2 });
  });

  it('names every bad variable and what is wrong with it', () => {
    let err: unknown;
    try {
      parseEnv(Schema, { PORT: 'eighty', DATABASE_URL: 'not a url', WORKERS: '99', ENABLED: 'maybe' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues.map((i) => i.variable).sort();
    expect(issues).toEqual(['DATABASE_URL', 'ENABLED', 'PORT', 'WORKERS']);
    expect((err as Error).message).toMatch(/DATABASE_URL: must be a URL/);
    expect((err as Error).message).toMatch(/ENABLED: must be true or false/);
  });

  it("takes a client's address from X-Forwarded-For only from the proxies TRUST_PROXY names", async () => {
    const Trust = z.object({ TRUST_PROXY: env.trustProxy() });
    const cases: [string | undefined, string][] = [
      [undefined, '127.0.0.1'],
      ['false', '127.0.0.1'],
      ['127.0.0.1/8', '203.0.113.9'],
      ['10.0.0.0/8', '127.0.0.1'],
    ];
    for (const [value, ip] of cases) {
      const { TRUST_PROXY } = parseEnv(Trust, { TRUST_PROXY: value });
      const app = createHttpApp({ trustProxy: TRUST_PROXY });
      app.get('/ip', async (req) => ({ ip: req.ip }));
      const res = await app.inject({
        url: '/ip',
        headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.9' },
      });
      expect(res.json().ip, String(value)).toBe(ip);
      await app.close();
    }
  });

  it('refuses a TRUST_PROXY that names no proxy, at start-up and by name', () => {
    const Trust = z.object({ TRUST_PROXY: env.trustProxy() });
    for (const ok of ['10.0.0.0/8, 192.168.1.7', '::1', 'loopback,fd00::/8'])
      expect(() => parseEnv(Trust, { TRUST_PROXY: ok }), ok).not.toThrow();
    for (const bad of ['1', 'yes', '10.0.0.0/33', 'ingress.local', '10.0.0.0/8/1'])
      expect(() => parseEnv(Trust, { TRUST_PROXY: bad }), bad).toThrow(
        /TRUST_PROXY: must be false, true, or proxy/,
      );
  });
});

describe('NATS credentials', () => {
  const auth = (vars: Record<string, string>) => natsAuthFromEnv(parseEnv(CommonEnv, vars));
  const problem = (vars: Record<string, string>) => {
    try {
      auth(vars);
    } catch (e) {
      return (e as ConfigError).issues?.map((i) => i.variable) ?? (e as Error).message;
    }
    return 'accepted';
  };

  it('takes none (an open server), user and password, a creds file or an nkey seed', () => {
    expect(auth({})).toBeUndefined();
    expect(auth({ NATS_USER: 'gateway', NATS_PASSWORD: 'pw' })).toEqual({
      kind: 'password',
      user: 'gateway',
      pass: 'pw',
    });
    expect(auth({ NATS_CREDS: new URL(import.meta.url).pathname })?.kind).toBe('creds');
    expect(auth({ NATS_NKEY_SEED: `SU${'A'.repeat(56)}` })?.kind).toBe('nkey');
  });

  it('refuses half a pair, two kinds at once, an unreadable creds file and a bad seed, naming the variable', () => {
    expect(problem({ NATS_USER: 'gateway' })).toEqual(['NATS_PASSWORD']);
    expect(problem({ NATS_PASSWORD: 'pw' })).toEqual(['NATS_USER']);
    expect(problem({ NATS_USER: 'g', NATS_PASSWORD: 'p', NATS_CREDS: '/x' })).toEqual(['NATS_CREDS']);
    expect(problem({ NATS_CREDS: '/nonexistent/nats.creds' })).toEqual(['NATS_CREDS']);
    expect(problem({ NATS_NKEY_SEED: 'not-a-seed' })).toEqual(['NATS_NKEY_SEED']);
  });
});
