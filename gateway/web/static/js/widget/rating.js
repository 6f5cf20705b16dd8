// The satisfaction survey: when the customer's conversation has closed and the tenant asks for
// ratings (welcome's csat_scale), the closed box offers 1 to 5 stars or thumbs up and down and an
// optional comment. A conversation is rated once; the server refuses a second rating with a
// reason the box shows.

import { newId } from '../core/client.js';
import { clear, h } from '../core/dom.js';
import { Scale, Type } from '../core/protocol.js';

export class RatingBox {
  /** @param {{t: Function, send: (f: object) => void, store: () => any}} o */
  constructor(o) {
    this.t = o.t;
    this.sendFrame = o.send;
    this.store = o.store;
    this.conv = '';
    this.scale = '';
    this.score = 0;
    this.pendingId = '';
    this.el = h('div', { class: 'fd-rating', hidden: true });
  }

  /** show offers the survey for conv when it is closed and the tenant asks for ratings. */
  show(conv, closed, scale) {
    const on = !!conv && closed && (scale === Scale.Five || scale === Scale.Thumbs);
    if (conv !== this.conv || scale !== this.scale) {
      this.conv = conv;
      this.scale = scale;
      this.score = 0;
      this.msg = '';
      this.built = false;
    }
    this.el.hidden = !on;
    if (on && !this.built) this.render();
  }

  done() {
    return !!this.store()?.get('rated:' + this.conv, false);
  }

  /** frame takes the answer to the rating; it returns false for every other frame. */
  frame(f) {
    if (!this.pendingId || f.id !== this.pendingId || (f.type !== Type.Ack && f.type !== Type.Error)) return false;
    this.pendingId = '';
    if (f.type === Type.Ack) {
      this.store()?.set('rated:' + this.conv, true);
      this.msg = '';
    } else {
      this.msg = this.t('rateRefused', { why: f.message || f.code || '' });
    }
    this.render();
    return true;
  }

  submit() {
    if (!this.score || this.pendingId) return;
    this.pendingId = newId('rate');
    const f = { type: Type.Rate, id: this.pendingId, conv: this.conv, score: this.score };
    const comment = this.comment?.value.trim();
    if (comment) f.comment = comment;
    this.sendFrame(f);
    this.render();
  }

  render() {
    this.built = true;
    const t = this.t;
    clear(this.el);
    if (this.done()) {
      this.el.append(h('p', { class: 'fd-rating-thanks', role: 'status' }, t('rateThanks')));
      return;
    }
    const choices = this.scale === Scale.Thumbs
      ? [[2, '👍', t('rateUp')], [1, '👎', t('rateDown')]]
      : [1, 2, 3, 4, 5].map((n) => [n, n <= this.score ? '★' : '☆', t('rateStar', { n })]);
    const group = h('div', { class: 'fd-rating-choices', role: 'radiogroup', 'aria-label': t('rateTitle') },
      choices.map(([n, glyph, label]) => h('button', { type: 'button', class: 'fd-rate' + (n === this.score ? ' fd-on' : ''),
        role: 'radio', 'aria-checked': String(n === this.score), 'aria-label': label, title: label, dataset: { score: String(n) },
        onclick: () => { this.score = n; this.render(); this.el.querySelector('.fd-rate.fd-on')?.focus(); } }, glyph)));
    const keep = this.comment?.value || '';
    this.comment = h('textarea', { class: 'fd-rating-comment', rows: '2', maxlength: '500', 'aria-label': t('rateComment'),
      placeholder: t('rateComment') });
    this.comment.value = keep;
    this.el.append(h('p', { class: 'fd-rating-title' }, t('rateTitle')), group, this.comment,
      h('button', { type: 'button', class: 'fd-primary fd-rating-send', disabled: !this.score || !!this.pendingId,
        onclick: () => this.submit() }, t('rateSend')),
      this.msg ? h('p', { class: 'fd-rating-error', role: 'alert' }, this.msg) : null);
  }
}
