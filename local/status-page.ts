/**
 * The local status page (`GET /status`, local/observability-routes.ts): a static HTML page with a
 * small script, no framework, that polls `/status.json` every second and shows per tier the live
 * TTFT and TPOT percentiles against the SLO (green within, red over), SLO attainment, requests
 * per second and refusals, and per pool its healthy endpoints, calls in flight and recent errors.
 * Everything from the server is written with `textContent`, never parsed as HTML.
 *
 * Held in a module rather than an .html file beside it, so that a bundled CLI (the bench builds
 * one) carries it too.
 */

/** The page, served as is. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>splitserve status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; background: #f6f8fa; }
  body { margin: 24px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 15px; margin: 24px 0 8px; }
  .meta { color: #57606a; font-size: 13px; }
  table { border-collapse: collapse; background: #fff; border: 1px solid #d0d7de; font-size: 14px; }
  th, td { padding: 6px 12px; border-bottom: 1px solid #d8dee4; text-align: right; white-space: nowrap; }
  th { background: #f0f3f6; font-weight: 600; font-size: 12px; color: #57606a; }
  th:first-child, td:first-child { text-align: left; }
  td.list { text-align: left; white-space: normal; font-size: 12px; color: #57606a; max-width: 360px; }
  .ok { color: #116329; background: #dafbe1; }
  .bad { color: #a40e26; background: #ffebe9; }
  .none { color: #6e7781; }
  .badge { display: inline-block; margin-left: 8px; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
  .slo { color: #6e7781; font-size: 12px; }
  #error { color: #a40e26; }
</style>
</head>
<body>
<h1>splitserve status</h1>
<div class="meta">Percentiles and SLO attainment over the last <span id="window">60</span> s, rates over the last 10 s; counts since start. Updated <span id="updated">never</span>. <span id="error"></span></div>

<h2>Tiers</h2>
<table id="tiers">
  <thead><tr>
    <th>Tier</th><th>TTFT p50</th><th>TTFT p99</th><th>TPOT p50</th><th>TPOT p99</th><th>SLO attainment</th>
    <th>Requests/s</th><th>Requests</th><th>Errors</th><th>Fallbacks</th><th>Refused/s</th><th>Refused (by reason)</th>
  </tr></thead>
  <tbody></tbody>
</table>

<h2>Pools</h2>
<table id="pools">
  <thead><tr><th>Pool</th><th>Role</th><th>Healthy endpoints</th><th>In flight</th><th>Backend errors</th><th>Recent errors</th></tr></thead>
  <tbody></tbody>
</table>

<script>
'use strict';
// Everything is written with textContent: nothing from the server is parsed as HTML.
const ms = (v) => (v === null ? '–' : (v < 10 ? v.toFixed(2) : String(Math.round(v))) + ' ms');
const time = (at) => new Date(at).toLocaleTimeString();

function cell(row, field, text, cls) {
  const td = document.createElement('td');
  td.dataset.field = field;
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

/** A percentile against its bound: green within it, red over it, grey without samples. */
function against(value, bound) {
  if (value === null) return 'none';
  if (bound === undefined) return '';
  return value <= bound ? 'ok' : 'bad';
}

function tierRow(t) {
  const row = document.createElement('tr');
  row.dataset.tier = t.tier;
  const name = cell(row, 'tier', t.tier);
  const slo = t.slo ?? {};
  const p99s = [against(t.ttftMs.p99, slo.ttftMs), against(t.tpotMs.p99, slo.tpotMs)];
  const badge = document.createElement('span');
  badge.dataset.field = 'verdict';
  if (!t.slo) badge.textContent = 'no SLO';
  else if (t.ttftMs.samples === 0) badge.textContent = t.judged > 0 ? 'no streams' : 'no traffic';
  else badge.textContent = p99s.includes('bad') ? 'over SLO' : 'within SLO';
  badge.className = 'badge ' + (!t.slo || t.ttftMs.samples === 0 ? 'none' : p99s.includes('bad') ? 'bad' : 'ok');
  name.appendChild(badge);
  if (t.slo) {
    const bounds = document.createElement('div');
    bounds.className = 'slo';
    bounds.textContent = 'SLO: TTFT ≤ ' + t.slo.ttftMs + ' ms, TPOT ≤ ' + t.slo.tpotMs + ' ms';
    name.appendChild(bounds);
  }
  cell(row, 'ttft-p50', ms(t.ttftMs.p50), against(t.ttftMs.p50, slo.ttftMs));
  cell(row, 'ttft-p99', ms(t.ttftMs.p99), p99s[0]);
  cell(row, 'tpot-p50', ms(t.tpotMs.p50), against(t.tpotMs.p50, slo.tpotMs));
  cell(row, 'tpot-p99', ms(t.tpotMs.p99), p99s[1]);
  cell(row, 'attainment', t.sloAttainment === null ? '–' : (t.sloAttainment * 100).toFixed(1) + '% of ' + t.judged, t.sloAttainment === null ? 'none' : '');
  cell(row, 'rps', t.requestsPerSecond.toFixed(1));
  cell(row, 'requests', String(t.requests));
  cell(row, 'errors', String(t.errors), t.errors > 0 ? 'bad' : '');
  cell(row, 'fallbacks', String(t.fallbacks));
  cell(row, 'refused-rate', t.refusedPerSecond.toFixed(1));
  const reasons = Object.entries(t.refused).filter(([, n]) => n > 0).map(([reason, n]) => reason + ' ' + n);
  cell(row, 'refused', reasons.length ? reasons.join(', ') : '0');
  return row;
}

function poolRow(p) {
  const row = document.createElement('tr');
  row.dataset.pool = p.pool;
  cell(row, 'pool', p.pool);
  cell(row, 'role', p.role);
  cell(row, 'healthy', p.healthy + ' / ' + p.endpoints, p.endpoints === 0 ? 'none' : p.healthy === p.endpoints ? 'ok' : 'bad');
  cell(row, 'in-flight', String(p.inFlight));
  cell(row, 'errors', String(p.errors), p.errors > 0 ? 'bad' : '');
  const recent = p.recentErrors.map((e) => time(e.at) + ' ' + e.errorClass + (e.upstreamStatus === null ? '' : ' (' + e.upstreamStatus + ')'));
  cell(row, 'recent-errors', recent.length ? recent.join(', ') : 'none', 'list');
  return row;
}

async function refresh() {
  try {
    const response = await fetch('/status.json', { cache: 'no-store' });
    if (!response.ok) throw new Error('HTTP ' + response.status);
    const status = await response.json();
    document.querySelector('#tiers tbody').replaceChildren(...status.tiers.map(tierRow));
    document.querySelector('#pools tbody').replaceChildren(...status.pools.map(poolRow));
    document.getElementById('window').textContent = String(Math.round(status.windowMs / 1000));
    document.getElementById('updated').textContent = time(status.at);
    document.getElementById('error').textContent = '';
  } catch (err) {
    document.getElementById('error').textContent = '(cannot read /status.json: ' + err.message + ')';
  }
}

refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
