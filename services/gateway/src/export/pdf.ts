import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { AnalysisRecord, ChartDetail } from '@chartwright/contracts';
import PDFDocument from 'pdfkit';

/** What a report shows: a chart, its image, and the analyses to print (one, or all of the chart's). */
export interface ReportInput {
  chart: Pick<
    ChartDetail,
    'id' | 'symbol' | 'interval' | 'createdAt' | 'renderer' | 'synthetic' | 'config'
  > & {
    symbols?: string[] | undefined;
  };
  /** PNG or JPEG bytes; null when the image cannot be had (the report says so). */
  image: Buffer | null;
  analyses: AnalysisRecord[];
}

export const DISCLAIMER =
  'Not investment advice. Generated automatically from market data and models that can be wrong.';

const FONT_DIR = join(
  dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')),
  'ttf',
);
const REGULAR = join(FONT_DIR, 'DejaVuSans.ttf');
const BOLD = join(FONT_DIR, 'DejaVuSans-Bold.ttf');

const MARGIN = 50;
const FOOTER_H = 30;
const MUTED = '#555555';

const price = (v: number | null | undefined) =>
  v === null || v === undefined ? '—' : v.toLocaleString('en-US', { maximumFractionDigits: 8 });
const dateOf = (iso: string) => iso.slice(0, 10);
const when = (iso: string | null) => (iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '—');
const inputsText = (input: Record<string, unknown> | undefined) =>
  input && Object.keys(input).length
    ? Object.entries(input)
        .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
        .join(', ')
    : 'default inputs';

/** `BTCUSDT-4h-2026-12-01.pdf`: the ticker, the interval and the chart's (or analysis') date. */
export function reportFilename(symbol: string, interval: string, iso: string, ext: string): string {
  const ticker = (symbol.split(':').at(-1) ?? symbol).replace(/[^A-Za-z0-9._!-]/g, '_');
  return `${ticker}-${interval}-${dateOf(iso)}.${ext}`;
}

/** `symbol · interval · generation date`. */
export function reportTitle(input: ReportInput): string {
  const symbols =
    input.chart.symbols && input.chart.symbols.length > 1
      ? input.chart.symbols.join(' vs ')
      : input.chart.symbol;
  return `${symbols} · ${input.chart.interval} · ${when(input.chart.createdAt)}`;
}

/**
 * A PDF report of a chart and its analyses: title, image, settings (studies with inputs,
 * drawings), then per analysis the signal, levels, signals, key levels, text, model and time.
 * Real text in an embedded font (pdftotext reads it), page numbers and a disclaimer on every page.
 */
export function buildReport(input: ReportInput): Promise<Buffer> {
  const doc = new PDFDocument({
    size: 'A4',
    margins: { top: MARGIN, left: MARGIN, right: MARGIN, bottom: MARGIN + FOOTER_H },
    bufferPages: true,
    info: { Title: reportTitle(input), Creator: 'Chartwright', Subject: 'Chart report' },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.registerFont('regular', REGULAR);
  doc.registerFont('bold', BOLD);
  const width = doc.page.width - MARGIN * 2;
  const heading = (text: string, size = 13) => {
    doc.moveDown(0.6).font('bold').fontSize(size).fillColor('black').text(text, { width });
    doc.moveDown(0.2);
  };
  /** A bold label on a line of its own, for the list under it. */
  const title = (text: string) => doc.font('bold').fontSize(10).fillColor('black').text(text, { width });
  /** A bulleted item, its wrapped lines aligned under its first. */
  const bullet = (text: string) => {
    doc
      .font('regular')
      .fontSize(10)
      .fillColor('black')
      .text(`•  ${text}`, { width: width - 12, indent: 12, indentAllLines: true });
  };
  const line = (label: string, value: string) =>
    doc
      .font('bold')
      .fontSize(10)
      .fillColor('black')
      .text(`${label}: `, { continued: true })
      .font('regular')
      .text(value);

  const { chart } = input;
  doc.font('bold').fontSize(18).text(reportTitle(input), { width });
  doc
    .font('regular')
    .fontSize(9)
    .fillColor(MUTED)
    .text(
      `Chart ${chart.id} · ${chart.renderer === 'builtin' ? 'built-in renderer' : 'chart-img.com'}${chart.synthetic ? ' · SYNTHETIC DATA' : ''}`,
    );
  doc.moveDown(0.5);

  if (input.image) {
    const { width: cw, height: ch } = chart.config;
    const h = Math.min(width * (ch / cw), 360);
    doc.image(input.image, doc.x, doc.y, { fit: [width, h], align: 'center' });
    doc.y += h + 6;
  } else {
    doc.font('regular').fontSize(10).fillColor(MUTED).text('The chart image is not available yet.');
  }

  heading('Chart settings');
  line('Symbol', chart.symbols && chart.symbols.length > 1 ? chart.symbols.join(', ') : chart.symbol);
  line('Interval', `${chart.interval}${chart.config.range ? ` · range ${chart.config.range}` : ''}`);
  line(
    'Style',
    `${chart.config.style}, ${chart.config.theme} theme, ${chart.config.width}×${chart.config.height}`,
  );
  if (chart.config.compare) line('Comparison layout', chart.config.compare.layout);
  if (chart.config.studies.length) title('Studies');
  else line('Studies', 'none');
  for (const s of chart.config.studies) bullet(`${s.name} (${inputsText(s.input)})`);
  if (chart.config.drawings.length) title('Drawings');
  else line('Drawings', 'none');
  for (const d of chart.config.drawings) bullet(`${d.name} (${inputsText(d.input)})`);

  if (!input.analyses.length) {
    heading('Analyses');
    doc.font('regular').fontSize(10).text('This chart has not been analysed.');
  }
  input.analyses.forEach((a, i) => {
    if (doc.y > doc.page.height - 250) doc.addPage();
    const label = input.analyses.length > 1 ? `Analysis ${i + 1} of ${input.analyses.length}` : 'Analysis';
    heading(`${label} — ${when(a.createdAt)}`);
    if (a.status !== 'completed' || !a.result) {
      line('Status', a.error ? `${a.status}: ${a.error.reason}` : a.status);
      return;
    }
    const r = a.result;
    line('Recommendation', r.recommendation);
    line('Entry', price(r.entryPrice));
    line('Stop loss', price(r.stopLoss));
    line('Take profit', price(r.takeProfit));
    line('Risk/reward', r.riskRewardRatio === null ? '—' : `${r.riskRewardRatio}:1`);
    line('Confidence', `${r.confidence}/10`);
    line('Trend', r.trend);
    if (r.signals.length) title('Signals');
    for (const s of r.signals) bullet(s);
    keyLevelsTable(doc, r.keyLevels);
    if (r.comparison) {
      title('Relative strength');
      for (const s of r.comparison.symbols)
        bullet(
          `${s.rank}. ${s.symbol}: ${s.returnPct >= 0 ? '+' : ''}${s.returnPct.toFixed(2)}% · beta ${s.beta ?? '—'}`,
        );
      for (const c of r.comparison.correlations)
        bullet(`Correlation ${c.a} / ${c.b}: ${c.correlation ?? '—'}`);
    }
    doc.moveDown(0.3);
    doc.font('regular').fontSize(10).fillColor('black').text(r.analysisText, { width, align: 'left' });
    doc.moveDown(0.3);
    doc
      .font('regular')
      .fontSize(9)
      .fillColor(MUTED)
      .text(`Model ${a.metadata?.model ?? 'unknown'} · completed ${when(a.completedAt)} · analysis ${a.id}`);
    if (r.warnings.length) doc.text(`Notes: ${r.warnings.join('; ')}`, { width });
  });

  // Page numbers and the disclaimer, once the page count is known. The bottom margin is lifted
  // while writing them, or pdfkit would start a new page for text below it.
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    const y = doc.page.height - MARGIN - 8;
    doc
      .font('regular')
      .fontSize(8)
      .fillColor(MUTED)
      .text(DISCLAIMER, MARGIN, y, { width: width - 70, lineBreak: false })
      .text(`Page ${i + 1} of ${range.count}`, MARGIN + width - 70, y, {
        width: 70,
        align: 'right',
        lineBreak: false,
      });
    doc.page.margins.bottom = bottom;
  }
  doc.end();
  return done;
}

/** Support and resistance side by side, nearest first. */
function keyLevelsTable(doc: PDFKit.PDFDocument, levels: { support: number[]; resistance: number[] }) {
  const rows = Math.max(levels.support.length, levels.resistance.length);
  const rowH = 14;
  // The heading moves with its table: never the last line of a page with the rows on the next.
  if (doc.y + 20 + rowH * (Math.max(rows, 1) + 1) > doc.page.height - doc.page.margins.bottom) doc.addPage();
  doc.moveDown(0.3).font('bold').fontSize(10).fillColor('black').text('Key levels');
  if (rows === 0) {
    doc.font('regular').text('none', MARGIN + 12, doc.y);
    doc.x = MARGIN;
    return;
  }
  const x0 = doc.page.margins.left + 12;
  const col = 140;
  let y = doc.y + 2;
  doc
    .font('bold')
    .fontSize(9)
    .text('Support', x0, y, { width: col })
    .text('Resistance', x0 + col, y, { width: col });
  doc
    .moveTo(x0, y + rowH - 3)
    .lineTo(x0 + col * 2, y + rowH - 3)
    .strokeColor('#999999')
    .lineWidth(0.5)
    .stroke();
  // Nearest to the price first: support descending, resistance ascending.
  const support = [...levels.support].sort((a, b) => b - a);
  const resistance = [...levels.resistance].sort((a, b) => a - b);
  for (let i = 0; i < rows; i++) {
    y += rowH;
    doc
      .font('regular')
      .fontSize(9)
      .text(support[i] === undefined ? '' : price(support[i]), x0, y, { width: col })
      .text(resistance[i] === undefined ? '' : price(resistance[i]), x0 + col, y, { width: col });
  }
  doc.x = doc.page.margins.left;
  doc.y = y + rowH;
}
