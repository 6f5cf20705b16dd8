// The supervisor's Reports view: how the desk is doing over a period, from GET /v1/reports (the
// persister's figures, computed from the record): tiles against the previous period, a chart
// over time, tables per agent and per queue, an hour x weekday heat map, and the CSV download.
// SVG and bars are drawn by hand (no chart library): the page stays small and CSP-clean.

import { clear, h } from '../core/dom.js';

const SVG = 'http://www.w3.org/2000/svg';

/** num reads a figure: protojson writes 64-bit integers as strings. */
const num = (v) => Number(v || 0) || 0;
const DAY = 86400000;

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

/** ReportsView renders into el; token() returns the supervisor's current token. */
export class ReportsView {
  constructor({ t, token, onClose }) {
    this.t = t;
    this.token = token;
    this.el = h('section', { class: 'reports', 'aria-label': t('reports'), hidden: true });
    this.range = h('select', { class: 'reports-range', 'aria-label': t('period'), onchange: () => this.load() },
      h('option', { value: '1' }, t('today')), h('option', { value: '7', selected: true }, t('last7')),
      h('option', { value: '30' }, t('last30')));
    // The label filter: conversations carrying this label (set by agents) only.
    this.label = h('input', { class: 'reports-label', type: 'search', maxlength: 64, 'aria-label': t('rLabel'),
      placeholder: t('rAllLabels'), onchange: () => this.load() });
    this.csvBtn = h('button', { class: 'btn', type: 'button', id: 'report-csv', onclick: () => this.download() }, t('downloadCsv'));
    this.body = h('div', { class: 'reports-body', 'aria-live': 'polite' });
    this.el.append(h('header', { class: 'reports-head' }, h('h2', null, t('reports')), this.range, this.label, this.csvBtn,
      h('button', { class: 'btn', type: 'button', onclick: onClose }, t('backToConversations'))), this.body);
  }

  /** period returns [from, to) of the chosen range and of the one before it, as ISO times. */
  period() {
    const days = Number(this.range.value);
    const end = new Date();
    end.setHours(24, 0, 0, 0); // the end of today, local time
    const start = new Date(end.getTime() - days * DAY);
    const before = new Date(start.getTime() - days * DAY);
    return { from: start.toISOString(), to: end.toISOString(), prevFrom: before.toISOString(), days };
  }

  url(from, to, extra = '') {
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
    const q = new URLSearchParams({ from, to, tz, bucket: Number(this.range.value) <= 2 ? 'hour' : 'day' });
    const label = this.label.value.trim();
    if (label) q.set('label', label);
    return '/v1/reports?' + q + extra;
  }

  async fetch(from, to) {
    const res = await fetch(this.url(from, to), { headers: { Authorization: 'Bearer ' + this.token() } });
    if (!res.ok) throw new Error((await res.text()).trim() || 'HTTP ' + res.status);
    return res.json();
  }

  show() {
    this.el.hidden = false;
    this.load();
  }

  async load() {
    const p = this.period();
    clear(this.body);
    this.body.append(h('p', { class: 'muted' }, this.t('loading')));
    try {
      const [now, prev] = await Promise.all([this.fetch(p.from, p.to), this.fetch(p.prevFrom, p.from)]);
      this.render(now, prev);
    } catch (err) {
      clear(this.body);
      this.body.append(h('p', { class: 'error', role: 'alert' }, this.t('reportFailed', { reason: err.message })));
    }
  }

  render(now, prev) {
    const t = this.t;
    const a = now.total || {};
    const b = prev.total || {};
    const pct = (v) => Math.round(num(v) * 100) + '%';
    const breaches = (f) => num(f.sla_first_response_breached) + num(f.sla_resolution_breached);
    const tile = (key, label, value, cur, old, lowerIsBetter, detail) => {
      let change = '';
      cur = num(cur);
      old = num(old);
      if (old > 0) {
        const d = Math.round(((cur - old) / old) * 100);
        change = (d > 0 ? '+' : '') + d + '% ' + t('vsPrevious');
      }
      const good = old && (lowerIsBetter ? cur < old : cur > old);
      return h('div', { class: 'tile', dataset: { k: key } }, h('span', { class: 'tile-label' }, label),
        h('strong', { class: 'tile-value' }, value), detail ? h('span', { class: 'tile-detail muted small' }, detail) : null,
        h('span', { class: 'tile-change' + (change ? (good ? ' good' : ' bad') : '') }, change));
    };
    const dur = (s) => (num(s?.count) > 0 ? t.duration(num(s.median_s)) : '–');
    clear(this.body);
    this.body.append(
      h('div', { class: 'tiles' },
        tile('opened', t('rOpened'), String(num(a.opened)), a.opened, b.opened),
        tile('deflection', t('rDeflection'), pct(a.deflection_rate), a.deflection_rate, b.deflection_rate),
        tile('handed_off', t('rHandedOff'), String(num(a.handed_off)), a.handed_off, b.handed_off, true),
        tile('first_response', t('rFirstResponse'), dur(a.first_response), a.first_response?.median_s, b.first_response?.median_s, true),
        tile('resolution', t('rResolution'), dur(a.resolution), a.resolution?.median_s, b.resolution?.median_s, true),
        tile('left', t('rLeftAnswered'), num(a.left_answered) + ' / ' + num(a.left_messages), a.left_answered, b.left_answered),
        tile('sla', t('rSlaBreaches'), String(breaches(a)), breaches(a), breaches(b), true,
          t('rSlaDetail', { first: num(a.sla_first_response_breached), resolution: num(a.sla_resolution_breached) })),
        tile('csat', t('rCsat'), num(a.rated) ? num(a.csat_average).toFixed(1) + ' / 5' : '–', a.csat_average, b.csat_average, false,
          t('rCsatDetail', { n: num(a.rated) }))),
      h('h3', null, t('rCsatScores')), this.scores(a.csat_scores || []),
      h('h3', null, t('rOverTime')), this.chart(now.series || []),
      h('div', { class: 'report-tables' }, this.table(t('rAgents'), now.agents || [], true), this.table(t('rQueues'), now.queues || [])),
      h('h3', null, t('rHeatmap')), this.heatmap(now.heatmap || []));
  }

  /** chart draws conversations opened per bucket as bars. */
  chart(series) {
    const w = 640;
    const hgt = 160;
    const max = Math.max(1, ...series.map((s) => num(s.opened)));
    const bw = series.length ? Math.min(40, (w - 20) / series.length) : 0;
    const bars = series.map((s, i) => {
      const v = num(s.opened);
      const bh = Math.round((v / max) * (hgt - 30));
      return svg('g', null,
        svg('rect', { x: 10 + i * bw + 2, y: hgt - 20 - bh, width: Math.max(1, bw - 4), height: bh, class: 'bar' },
          svg('title', null, `${s.key}: ${v}`)),
        svg('text', { x: 10 + i * bw + bw / 2, y: hgt - 6, 'text-anchor': 'middle', class: 'axis' }, String(s.key).slice(-5)));
    });
    return svg('svg', { class: 'report-chart', viewBox: `0 0 ${w} ${hgt}`, role: 'img', 'aria-label': this.t('rOverTime') }, ...bars);
  }

  table(title, rows, offers) {
    const t = this.t;
    const dur = (s) => (num(s?.count) > 0 ? t.duration(num(s.median_s)) : '–');
    return h('table', { class: 'report-table' }, h('caption', null, title),
      h('thead', null, h('tr', null, h('th', null, ''), h('th', null, t('rOpened')), h('th', null, t('rFirstResponse')), h('th', null, t('rResolution')),
        h('th', null, t('rSlaBreaches')), h('th', null, t('rCsat')),
        offers ? h('th', null, t('rOffersDeclined')) : null, offers ? h('th', null, t('rOffersMissed')) : null,
        ...(offers ? [h('th', null, t('rAvailable')), h('th', null, t('rAway')), h('th', null, t('rOccupancy'))] : []))),
      h('tbody', null, rows.map((r) => h('tr', null, h('th', { scope: 'row' }, r.key || '–'), h('td', null, String(num(r.opened))),
        h('td', null, dur(r.first_response)), h('td', null, dur(r.resolution)),
        h('td', { dataset: { k: 'sla' } }, String(num(r.sla_first_response_breached) + num(r.sla_resolution_breached))),
        h('td', { dataset: { k: 'csat' } }, num(r.rated) ? num(r.csat_average).toFixed(1) : '–'),
        offers ? h('td', { dataset: { k: 'declined' } }, String(num(r.offers_declined))) : null,
        offers ? h('td', { dataset: { k: 'missed' } }, String(num(r.offers_missed))) : null,
        // Agents' time connected and occupancy (load over capacity, time-weighted).
        ...(offers ? [h('td', { dataset: { k: 'available' } }, num(r.available_s) > 0 ? t.duration(num(r.available_s)) : '–'),
          h('td', { dataset: { k: 'away' } }, num(r.away_s) > 0 ? t.duration(num(r.away_s)) : '–'),
          h('td', { dataset: { k: 'occupancy' } }, num(r.available_s) + num(r.away_s) > 0 ? Math.round(num(r.occupancy) * 100) + '%' : '–')] : [])))));
  }

  /** scores shows the ratings by score, 1 to 5, as columns. */
  scores(counts) {
    const max = Math.max(1, ...counts.map(num));
    return h('div', { class: 'csat-scores', role: 'img', 'aria-label': this.t('rCsatScores') },
      [1, 2, 3, 4, 5].map((score) => {
        const n = num(counts[score - 1]);
        const bar = h('span', { class: 'bar', title: `${score}: ${n}` });
        bar.style.height = Math.round((n / max) * 60) + 'px'; // CSSOM: the CSP forbids inline styles
        return h('span', { class: 'col', dataset: { score: String(score) } }, String(n), bar, String(score));
      }));
  }

  /** heatmap shows conversations opened per weekday (rows) and hour (columns). */
  heatmap(cells) {
    const max = Math.max(1, ...cells.map(num));
    const days = this.t('weekdays').split(',');
    const rows = days.map((d, wd) => h('tr', null, h('th', { scope: 'row' }, d),
      Array.from({ length: 24 }, (_, hr) => {
        const v = num(cells[wd * 24 + hr]);
        const td = h('td', { title: `${d} ${hr}:00 — ${v}` });
        // CSSOM, not a style attribute: the page's CSP forbids inline styles.
        td.style.opacity = String(0.08 + 0.92 * (v / max));
        if (v) td.classList.add('on');
        return td;
      })));
    return h('table', { class: 'heatmap', 'aria-label': this.t('rHeatmap') },
      h('thead', null, h('tr', null, h('th', null, ''), Array.from({ length: 24 }, (_, hr) => h('th', { scope: 'col' }, hr % 3 ? '' : String(hr))))),
      h('tbody', null, rows));
  }

  async download() {
    const p = this.period();
    try {
      const res = await fetch(this.url(p.from, p.to, '&format=csv'), { headers: { Authorization: 'Bearer ' + this.token() } });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '')?.[1] || 'report.csv';
      const url = URL.createObjectURL(await res.blob());
      const a = h('a', { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      this.body.prepend(h('p', { class: 'error', role: 'alert' }, this.t('reportFailed', { reason: err.message })));
    }
  }
}
