import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ChartConfig, type ChartConfigInput, ChartStyle, Theme } from '@chartwright/contracts';
import { CatalogueError, generateBars } from '@chartwright/market';
import { afterAll, describe, expect, it } from 'vitest';
import { fontSetup, npmFontDir } from '../src/render/fonts.js';
import { RenderError, RenderPool, renderChart, renderSvg } from '../src/render/index.js';

const END = Date.UTC(2025, 5, 1);
const bars = generateBars('BINANCE:BTCUSDT', '1h', 200, { end: END });

const config = (over: Partial<ChartConfigInput> = {}) =>
  ChartConfig.parse({
    symbol: 'BINANCE:BTCUSDT',
    interval: '1h',
    width: 800,
    height: 500,
    studies: [{ name: 'Volume' }, { name: 'Moving Average', input: { period: 20 } }, { name: 'RSI' }],
    drawings: [{ name: 'Horizontal Line', input: { price: bars.at(-1)!.close } }],
    ...over,
  });

/** Width and height from a PNG's IHDR chunk. */
function pngSize(buf: Buffer): { width: number; height: number } {
  expect(buf.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(buf.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

const catchErr = async (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error & { code?: string },
  );

describe('renderChart', () => {
  for (const theme of Theme.options) {
    for (const style of ChartStyle.options) {
      it(`renders a PNG: ${style}, ${theme}`, async () => {
        const r = await renderChart({ config: config({ theme, style }), bars, synthetic: false });
        expect(r.contentType).toBe('image/png');
        expect(pngSize(r.data)).toEqual({ width: 800, height: 500 });
        expect(r).toMatchObject({ width: 800, height: 500 });
      });
    }
  }

  it('renders the size limits and refuses sizes outside them', async () => {
    for (const [width, height] of [
      [400, 300],
      [2048, 1920],
    ] as const) {
      const r = await renderChart({ config: config({ width, height }), bars, synthetic: false });
      expect(pngSize(r.data)).toEqual({ width, height });
    }
    const bad = { ...config(), width: 300 };
    const err = await catchErr(renderChart({ config: bad, bars, synthetic: false }));
    expect(err).toBeInstanceOf(RenderError);
    expect(err.code).toBe('VALIDATION_ERROR');
  });

  it('renders SVG on request', async () => {
    const r = await renderChart({ config: config({ format: 'svg' }), bars, synthetic: false });
    expect(r.contentType).toBe('image/svg+xml');
    expect(r.data.toString('utf8')).toMatch(
      /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="800" height="500"/,
    );
  });

  it('rejects an unknown study with the list of supported names', async () => {
    const err = await catchErr(
      renderChart({ config: config({ studies: [{ name: 'Magic Oscillator' }] }), bars, synthetic: false }),
    );
    expect(err).toBeInstanceOf(CatalogueError);
    expect(err.code).toBe('VALIDATION_ERROR');
    expect(err.message).toContain('Unknown study "Magic Oscillator"');
    expect(err.message).toContain('Relative Strength Index');
    expect(err.message).toContain('Keltner Channels');
  });

  it('rejects an unknown drawing and a bad override, naming them', async () => {
    const unknown = await catchErr(
      renderChart({
        config: config({ drawings: [{ name: 'Pitchfork', input: {} }] }),
        bars,
        synthetic: false,
      }),
    );
    expect(unknown.message).toContain('Supported drawings: Horizontal Line');
    const colour = await catchErr(
      renderChart({
        config: config({ studies: [{ name: 'RSI', override: { color: 'url(#x)' } }] }),
        bars,
        synthetic: false,
      }),
    );
    expect(colour.message).toContain('override "color" must be a colour');
  });

  it('escapes user text in the SVG', () => {
    const evil = `</text><script>alert("x")</script> & 'quotes'`;
    const svg = renderSvg({
      config: config({
        format: 'svg',
        drawings: [
          { name: 'Text', input: { datetime: bars[150]!.time, price: bars[150]!.close, text: evil } },
          { name: 'Horizontal Line', input: { price: bars[120]!.close }, override: { text: 'R1 <b>' } },
        ],
      }),
      bars,
      synthetic: false,
      symbolLabel: 'Bit<coin> & "Tether"',
    });
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('<b>');
    expect(svg).toContain(
      '&lt;/text&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;',
    );
    expect(svg).toContain('R1 &lt;b&gt;');
    expect(svg).toContain('Bit&lt;coin&gt; &amp; &quot;Tether&quot;');
    // Control characters would make the whole document unparseable.
    const ctl = renderSvg({
      config: config({ format: 'svg' }),
      bars,
      synthetic: false,
      symbolLabel: 'A\u0001B',
    });
    expect(ctl).toContain('AB');
  });

  it('marks synthetic data with a watermark and a title badge', () => {
    const svg = renderSvg({ config: config({ format: 'svg' }), bars, synthetic: true });
    expect(svg).toContain('SYNTHETIC DATA');
    expect(svg).toContain('>SYNTHETIC<');
    const real = renderSvg({ config: config({ format: 'svg' }), bars, synthetic: false });
    expect(real).not.toContain('SYNTHETIC');
    // In PNGs text is drawn as glyph outlines; the watermark is still there.
    const png = renderSvg({ config: config(), bars, synthetic: true });
    expect(png).toMatch(/<g id="synthetic-watermark"><path transform="matrix/);
  });

  it('draws text as glyph outlines from DejaVu Sans, found on this machine or in the npm package', () => {
    expect(fontSetup().origin).not.toBe('none');
    const dir = npmFontDir();
    expect(dir && existsSync(join(dir, 'DejaVuSans.ttf'))).toBe(true);
    const svg = renderSvg({ config: config(), bars, synthetic: false });
    expect(svg).not.toContain('<text');
    expect(svg).toMatch(/<g id="title"><path transform="matrix\([\d. ]+\)" d="M/);
  });

  it('shows only the visible bars while the older ones warm the indicators up', () => {
    const visible = renderSvg({ config: config({ format: 'svg' }), bars, synthetic: false, visibleBars: 50 });
    const all = renderSvg({ config: config({ format: 'svg' }), bars, synthetic: false });
    const candles = (svg: string) => (svg.match(/h[\d.]+v[\d.]+h-[\d.]+Z/g) ?? []).length;
    expect(candles(visible)).toBeLessThan(candles(all) / 2);
  });
});

describe('RenderPool', () => {
  const pool = new RenderPool({ size: 1 });
  afterAll(() => pool.close());

  it('renders on a worker thread and passes validation errors back', async () => {
    const r = await pool.render({ config: config(), bars, synthetic: true });
    expect(pngSize(r.data)).toEqual({ width: 800, height: 500 });
    const err = await catchErr(
      pool.render({ config: config({ studies: [{ name: 'Nope' }] }), bars, synthetic: false }),
    );
    expect(err).toBeInstanceOf(CatalogueError);
    expect((err as CatalogueError).details.supported).toContain('MACD');
  });
});
