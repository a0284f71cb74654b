import type {
  AnalysisCompleted,
  AnalysisFailed,
  EventOf,
  QuotaThresholdReached,
  UserSignupAttempted,
  UserVerificationRequested,
} from '@chartwright/contracts';

export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

/** Text for HTML: every character that could open markup or an attribute is escaped. */
export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

// Header lines must stay single lines whatever a symbol contains.
const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ').slice(0, 200);

const price = (n: number | null) => (n === null ? '—' : String(n));

function layout(
  title: string,
  rows: [string, string][],
  paragraphs: string[],
  unsubscribeUrl: string,
  why: string,
) {
  const text = [
    title,
    '',
    ...rows.map(([k, v]) => `${k}: ${v}`),
    ...(paragraphs.length ? ['', ...paragraphs] : []),
    '',
    `You get this mail because ${why}. Stop these mails: ${unsubscribeUrl}`,
  ].join('\n');
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<h2>${escapeHtml(title)}</h2>
<table>${rows.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>
${paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n')}
<p style="color:#666;font-size:small">You get this mail because ${escapeHtml(why)}. <a href="${escapeHtml(unsubscribeUrl)}">Unsubscribe</a></p>
</body></html>`;
  return { text, html };
}

export function analysisCompletedMail(
  e: EventOf<typeof AnalysisCompleted>,
  unsubscribeUrl: string,
): MailContent {
  const r = e.data.result;
  const subject = oneLine(
    `${e.data.symbol} ${e.data.interval} — ${r.recommendation} (confidence ${r.confidence})`,
  );
  return {
    subject,
    ...layout(
      `Analysis of ${e.data.symbol} ${e.data.interval}: ${r.recommendation}`,
      [
        ['Recommendation', r.recommendation],
        ['Trend', r.trend],
        ['Confidence', `${r.confidence}/10`],
        ['Entry', price(r.entryPrice)],
        ['Stop loss', price(r.stopLoss)],
        ['Take profit', price(r.takeProfit)],
        ['Risk/reward', r.riskRewardRatio === null ? '—' : String(r.riskRewardRatio)],
        ['Analysis id', e.data.analysisId],
      ],
      [r.analysisText.slice(0, 4000)],
      unsubscribeUrl,
      'you asked for a mail when an analysis completes',
    ),
  };
}

export function analysisFailedMail(e: EventOf<typeof AnalysisFailed>, unsubscribeUrl: string): MailContent {
  return {
    subject: oneLine(`Analysis failed: ${e.data.code}`),
    ...layout(
      'An analysis failed',
      [
        ['Analysis id', e.data.analysisId],
        ['Chart id', e.data.chartId],
        ['Code', e.data.code],
      ],
      [e.data.reason, 'Its quota was given back.'],
      unsubscribeUrl,
      'you asked for a mail when an analysis fails',
    ),
  };
}

export function quotaWarningMail(
  e: EventOf<typeof QuotaThresholdReached>,
  unsubscribeUrl: string,
): MailContent {
  const d = e.data;
  const what = d.resource === 'charts' ? 'chart generations' : 'analyses';
  return {
    subject: oneLine(
      d.threshold >= 100
        ? `You have used all ${d.limit} ${what} of this month`
        : `You have used ${d.threshold} % of this month's ${what}`,
    ),
    ...layout(
      `Quota: ${d.used} of ${d.limit} ${what} used`,
      [
        ['Plan', d.plan],
        ['Used', `${d.used} of ${d.limit}`],
        ['Resets at', d.resetAt],
      ],
      [d.threshold >= 100 ? 'Further requests are refused until the reset, or a plan with more.' : ''].filter(
        Boolean,
      ),
      unsubscribeUrl,
      'quota warnings are on for your account',
    ),
  };
}

export function webhookDisabledMail(
  endpoint: { id: string; url: string },
  hours: number,
  lastError: string | null,
  unsubscribeUrl: string,
): MailContent {
  return {
    subject: 'A webhook endpoint was disabled',
    ...layout(
      'A webhook endpoint was disabled',
      [
        ['Endpoint', endpoint.url],
        ['Id', endpoint.id],
        ['Last error', lastError ?? '—'],
      ],
      [
        `Every delivery to it failed for ${hours} hours, so it was disabled. Fix it, then enable it again with PATCH /v1/webhooks/${endpoint.id} {"enabled": true}.`,
      ],
      unsubscribeUrl,
      'webhook alerts are on for your account',
    ),
  };
}

/** Mail about the account itself: sent whatever the preferences say, so it has no unsubscribe link. */
function accountMail(
  subject: string,
  paragraphs: string[],
  link?: { url: string; label: string },
): MailContent {
  const text = [subject, '', ...paragraphs, ...(link ? ['', `${link.label}: ${link.url}`] : [])].join('\n');
  const html = `<!doctype html><html><body style="font-family:sans-serif">
<h2>${escapeHtml(subject)}</h2>
${paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n')}
${link ? `<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p>` : ''}
</body></html>`;
  return { subject, text, html };
}

export function verificationMail(
  e: EventOf<typeof UserVerificationRequested>,
  verifyUrl: string,
): MailContent {
  return accountMail(
    'Confirm your Chartwright account',
    [
      `Someone (we hope you) signed up for Chartwright with ${oneLine(e.data.email)}.`,
      `Follow the link to confirm the address; then log in with the password you chose. The link works until ${e.data.expiresAt}.`,
      'If this was not you, ignore this mail: no account is opened without this confirmation.',
    ],
    { url: verifyUrl, label: 'Confirm my address' },
  );
}

export function signupAttemptedMail(e: EventOf<typeof UserSignupAttempted>, loginUrl: string): MailContent {
  return accountMail(
    'Someone tried to sign up with your address',
    [
      `A sign-up for Chartwright named ${oneLine(e.data.email)}, which already has an account. Nothing was changed.`,
      'If it was you: you already have an account; log in with your password.',
      'If it was not you, you need do nothing.',
    ],
    { url: loginUrl, label: 'Log in' },
  );
}
