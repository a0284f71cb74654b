import { eventually } from '@chartwright/kit/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { api, createStack, type Stack } from './support.js';

const PNG_SIGNATURE = Buffer.from('89504e470d0a1a0a', 'hex');

async function bytes(url: string, token?: string) {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    body: Buffer.from(await res.arrayBuffer()),
  };
}

describe('charts over REST, services as separate processes [postgres] [jetstream] [s3rver]', () => {
  let stack: Stack;
  afterAll(async () => stack?.close());

  it('generates, lists, shows, serves the image and its signed link, deletes, then answers 404', async () => {
    stack = await createStack();
    for (const s of ['quota-service', 'storage-service', 'chart-service', 'analysis-service'])
      await stack.start(s);
    const gateway = await stack.start('gateway', {}, { port: stack.gatewayPort });

    const signup = await api(gateway.url, 'POST', '/v1/auth/signup', {
      body: { email: 'charts@example.com', password: 'long enough pw' },
    });
    expect(signup.status).toBe(201);
    const token = signup.body.data.token as string;

    const generated = await api(gateway.url, 'POST', '/v1/charts/generate', {
      token,
      body: {
        symbol: 'BINANCE:BTCUSDT',
        interval: '4h',
        range: '7D',
        theme: 'dark',
        studies: [
          { name: 'Relative Strength Index', input: { period: 14 } },
          { name: 'Bollinger Bands', input: { period: 20, stddev: 2 } },
        ],
        drawings: [
          {
            name: 'Horizontal Line',
            input: { price: 107418 },
            override: { linecolor: '#f23645', text: 'Resistance' },
          },
        ],
      },
    });
    expect(generated.status, JSON.stringify(generated.body)).toBe(201);
    const { chartId, url, metadata, quota } = generated.body.data;
    expect(metadata).toMatchObject({
      format: 'PNG',
      resolution: '1200x675',
      renderer: 'builtin',
      synthetic: true,
    });
    expect(quota).toEqual({ used: 1, limit: 5, remaining: 4 });
    expect(url.startsWith(`${gateway.url}/v1/files/users/`)).toBe(true);

    // quota-service committed the reservation on chart.generated.
    await eventually(
      async () =>
        (await stack.query(`select 1 from quota.reservations where state = 'committed'`)).length === 1,
    );

    const list = await api(gateway.url, 'GET', '/v1/charts?symbol=BTCUSDT&limit=10', { token });
    expect(list.status).toBe(200);
    expect(list.body.data.charts.map((c: { id: string }) => c.id)).toEqual([chartId]);
    expect(list.body.data.pagination).toEqual({ total: 1, limit: 10, offset: 0, hasMore: false });

    const detail = await api(gateway.url, 'GET', `/v1/charts/${chartId}`, { token });
    expect(detail.status).toBe(200);
    expect(detail.body.data.chart).toMatchObject({ id: chartId, symbol: 'BINANCE:BTCUSDT', range: '7D' });
    expect(detail.body.data.analyses).toEqual([]);

    const image = await bytes(`${gateway.url}/v1/charts/${chartId}/image`, token);
    expect(image.status).toBe(200);
    expect(image.type).toBe('image/png');
    expect(image.body.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(image.body.length).toBeGreaterThan(10_000);
    const signed = await bytes(url);
    expect(signed.status).toBe(200);
    expect(signed.body.equals(image.body)).toBe(true);
    expect((await bytes(`${gateway.url}/v1/charts/${chartId}/image`)).status).toBe(401);

    const del = await api(gateway.url, 'DELETE', `/v1/charts/${chartId}`, { token });
    expect(del.status).toBe(200);
    expect(del.body).toEqual({
      success: true,
      data: { id: chartId, deleted: true },
      message: 'Chart deleted successfully',
    });

    expect((await api(gateway.url, 'GET', `/v1/charts/${chartId}`, { token })).status).toBe(404);
    expect((await bytes(`${gateway.url}/v1/charts/${chartId}/image`, token)).status).toBe(404);
    expect((await bytes(url)).status).toBe(404);
    const after = await api(gateway.url, 'GET', '/v1/charts', { token });
    expect(after.body.data.pagination.total).toBe(0);
    expect(await stack.query(`select 1 from chart.charts`)).toHaveLength(0);
  });
});
