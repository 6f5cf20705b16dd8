// Labels: the tenant's labels on the open conversation (chips to remove, a list to add) and
// the conversation list's label filter. The dispatcher decides every change; the console
// shows the labels the server says (the `labels` frame), never its own guess.

import { newId } from '../core/client.js';
import { clear, h } from '../core/dom.js';
import { Type } from '../core/protocol.js';
import { t } from './shared.js';

export const labelsPart = {
  buildLabels() {
    this.labelDefs = [];
    this.labelFilter = '';
    this.labelsEl = h('div', { class: 'labels', role: 'group', 'aria-label': t('labels') });
    this.head.after(this.labelsEl);
    this.labelFilterEl = h('select', { class: 'label-filter', id: 'label-filter', 'aria-label': t('filterByLabel'),
      onchange: () => { this.labelFilter = this.labelFilterEl.value; this.rowCache?.clear(); this.renderList(); } });
    this.listEl.before(this.labelFilterEl);
    this.renderLabelFilter();
  },

  labelTitle(name) {
    return this.labelDefs.find((l) => l.name === name)?.title || name;
  },

  /** labelChip is a label as a chip in the label's colour (a CSS variable: no inline style). */
  labelChip(name, ...rest) {
    const chip = h('span', { class: 'label-chip', dataset: { label: name } }, this.labelTitle(name), ...rest);
    const color = this.labelDefs.find((l) => l.name === name)?.color;
    if (/^#[0-9a-f]{3,6}$/i.test(color || '')) chip.style.setProperty('--chip', color);
    return chip;
  },

  renderLabelFilter() {
    clear(this.labelFilterEl);
    this.labelFilterEl.append(h('option', { value: '' }, t('allLabels')),
      ...this.labelDefs.map((l) => h('option', { value: l.name }, l.title || l.name)));
    this.labelFilterEl.value = this.labelDefs.some((l) => l.name === this.labelFilter) ? this.labelFilter : '';
    this.labelFilterEl.hidden = !this.labelDefs.length;
  },

  /** labelHidden says the label filter hides the conversation from the list. */
  labelHidden(it) {
    return !!this.labelFilter && !(it.labels || []).includes(this.labelFilter);
  },

  renderLabels() {
    const it = this.items.get(this.current);
    clear(this.labelsEl);
    this.labelsEl.hidden = !it || !this.labelDefs.length;
    if (this.labelsEl.hidden) return;
    const have = it.labels || [];
    for (const name of have) {
      this.labelsEl.append(this.labelChip(name, it.ended ? null : h('button', { type: 'button', class: 'chip-x',
        'aria-label': t('removeLabel', { label: this.labelTitle(name) }), onclick: () => this.setLabel(name, true) }, '×')));
    }
    const free = this.labelDefs.filter((l) => !have.includes(l.name));
    if (it.ended || !free.length) return;
    const add = h('select', { class: 'label-add', id: 'label-add', 'aria-label': t('addLabel'),
      onchange: () => { if (add.value) this.setLabel(add.value, false); } },
    h('option', { value: '' }, '+ ' + t('addLabel')), ...free.map((l) => h('option', { value: l.name }, l.title || l.name)));
    this.labelsEl.append(add);
  },

  setLabel(name, remove) {
    if (!this.current) return;
    this.client.raw({ type: Type.Label, id: newId('l'), conv: this.current, label: name, remove });
  },

  onLabels(f) {
    const it = this.items.get(f.conv);
    if (!it) return;
    it.labels = f.labels || [];
    this.rowCache?.delete(f.conv);
    this.renderList();
    if (f.conv === this.current) this.renderLabels();
  },
};
