// Canned responses: typing "/" at the start of the composer opens the list, filtered by what
// follows; arrows move, Enter or Tab picks, Escape closes. Placeholders are filled from the
// contact and the agent when picked. Supervisors manage the tenant's shared responses, every
// agent their own, in the manager dialog.

import { newId } from '../core/client.js';
import { clear, h } from '../core/dom.js';
import { Role, Type } from '../core/protocol.js';
import { displayName, t } from './shared.js';

export const cannedPart = {
  buildCanned() {
    this.canned = [];
    this.cannedMatches = [];
    this.cannedSel = 0;
    this.cannedEl = h('ul', { class: 'canned-list', id: 'canned-list', role: 'listbox', 'aria-label': t('cannedResponses'), hidden: true });
    this.composer.prepend(this.cannedEl);
    this.input.setAttribute('aria-autocomplete', 'list');
    this.input.setAttribute('aria-controls', 'canned-list');
    this.input.addEventListener('input', () => this.updateCanned());
    // Capture: the list's keys must act before the composer's Enter sends.
    this.composer.addEventListener('keydown', (ev) => this.cannedKey(ev), true);
    // A prevented Enter can still arrive as a line break (synthetic key events, IMEs), as
    // enterToSend knows: the pick swallows it.
    this.input.addEventListener('beforeinput', (ev) => {
      if (performance.now() - (this.cannedPickedAt || 0) < 500 && (ev.inputType === 'insertLineBreak' ||
        ev.inputType === 'insertParagraph' || (ev.inputType === 'insertText' && /^[\r\n]+$/.test(ev.data || '')))) ev.preventDefault();
    });
    this.cannedDialog = this.buildCannedManager();
    this.root.append(this.cannedDialog);
    this.listEl.parentElement.append(h('button', { class: 'btn wide', type: 'button', id: 'open-canned',
      onclick: () => this.openCannedManager() }, t('cannedResponses')));
  },

  /** cannedFor lists the responses matching q: a personal one hides the shared one it shadows. */
  cannedFor(q) {
    const mine = new Set(this.canned.filter((c) => c.owner).map((c) => c.shortcut));
    return this.canned.filter((c) => (c.owner || !mine.has(c.shortcut)) &&
      (c.shortcut.toLowerCase().startsWith(q) || (c.title || '').toLowerCase().includes(q)));
  },

  updateCanned() {
    const m = /^\/([\w-]*)$/.exec(this.input.value);
    if (!m || !this.canned.length) return this.closeCanned();
    this.cannedMatches = this.cannedFor(m[1].toLowerCase());
    this.cannedSel = Math.min(this.cannedSel, Math.max(0, this.cannedMatches.length - 1));
    this.renderCanned();
  },

  renderCanned() {
    clear(this.cannedEl);
    this.cannedEl.hidden = !this.cannedMatches.length;
    this.input.setAttribute('aria-expanded', String(!this.cannedEl.hidden));
    this.cannedMatches.forEach((c, i) => {
      const li = h('li', { role: 'option', id: 'canned-' + i, class: 'canned-item', 'aria-selected': String(i === this.cannedSel),
        onmousedown: (ev) => { ev.preventDefault(); this.pickCanned(c); } },
      h('strong', null, '/' + c.shortcut), c.owner ? null : h('span', { class: 'pill' }, t('shared')),
      h('span', { class: 'canned-text muted small' }, c.title || c.text));
      this.cannedEl.append(li);
    });
    if (!this.cannedEl.hidden) this.input.setAttribute('aria-activedescendant', 'canned-' + this.cannedSel);
    else this.input.removeAttribute('aria-activedescendant');
  },

  closeCanned() {
    this.cannedMatches = [];
    this.cannedSel = 0;
    if (this.cannedEl && !this.cannedEl.hidden) this.renderCanned();
  },

  cannedKey(ev) {
    if (this.cannedEl.hidden || ev.isComposing) return;
    const n = this.cannedMatches.length;
    const act = {
      ArrowDown: () => { this.cannedSel = (this.cannedSel + 1) % n; this.renderCanned(); },
      ArrowUp: () => { this.cannedSel = (this.cannedSel - 1 + n) % n; this.renderCanned(); },
      Enter: () => this.pickCanned(this.cannedMatches[this.cannedSel]),
      Tab: () => this.pickCanned(this.cannedMatches[this.cannedSel]),
      Escape: () => this.closeCanned(),
    }[ev.key];
    if (!act) return;
    ev.preventDefault();
    ev.stopPropagation();
    if (ev.key === 'Enter') this.cannedPickedAt = performance.now();
    act();
  },

  pickCanned(c) {
    if (!c) return;
    this.input.value = this.fillCanned(c.text);
    this.closeCanned();
    this.input.focus();
    this.input.setSelectionRange(this.input.value.length, this.input.value.length);
  },

  /** fillCanned replaces the placeholders with the open conversation's contact and the agent. */
  fillCanned(text) {
    const it = this.items.get(this.current);
    const contact = this.contact?.id && this.contact.id === it?.customer?.id ? this.contact : null;
    const values = {
      'contact.name': contact?.name || displayName(it?.customer),
      'contact.email': contact?.email || '',
      'agent.name': this.me?.name || '',
    };
    return text.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (all, k) => (k in values ? values[k] : all));
  },

  loadCanned() {
    this.client.raw({ type: Type.Canned, id: newId('cl') });
  },

  onCanned(f) {
    this.canned = f.canned || [];
    this.cannedListEl.dataset.loaded = 'true'; // the server answered (an empty list is an answer)
    if (!this.cannedEl.hidden || /^\//.test(this.input.value)) this.updateCanned();
    this.renderCannedManager();
  },

  buildCannedManager() {
    const shortcut = h('input', { type: 'text', id: 'canned-shortcut', required: true, pattern: '[A-Za-z0-9_\\-]{1,32}', maxlength: '32' });
    const title = h('input', { type: 'text', id: 'canned-title', maxlength: '120' });
    const text = h('textarea', { id: 'canned-text', rows: '3', required: true, maxlength: '4096' });
    const shared = h('input', { type: 'checkbox', id: 'canned-shared' });
    this.cannedForm = { shortcut, title, text, shared, id: '' };
    this.cannedListEl = h('ul', { class: 'canned-manage' });
    const form = h('form', { class: 'dialog-body' },
      h('h2', null, t('cannedResponses')),
      this.cannedListEl,
      h('div', { class: 'field' }, h('label', { for: 'canned-shortcut' }, t('shortcut')), shortcut),
      h('div', { class: 'field' }, h('label', { for: 'canned-title' }, t('cannedTitle')), title),
      h('div', { class: 'field' }, h('label', { for: 'canned-text' }, t('cannedText')), text),
      h('p', { class: 'muted small' }, t('placeholders')),
      h('div', { class: 'field shared-field' }, shared, h('label', { for: 'canned-shared' }, t('sharedWithTeam'))),
      h('div', { class: 'dialog-actions' },
        h('button', { class: 'btn', type: 'button', onclick: () => dlg.close() }, t('cancel')),
        h('button', { class: 'btn primary', type: 'submit', id: 'canned-save' }, t('save'))));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const f = this.cannedForm;
      this.client.raw({ type: Type.CannedSave, id: newId('cs'), canned: { id: f.id || undefined, shortcut: shortcut.value.trim(),
        title: title.value.trim(), text: text.value, owner: shared.checked ? '' : (this.client.welcome?.user || 'me') } });
      this.editCanned(null);
    });
    const dlg = h('dialog', { class: 'dialog canned-dialog', 'aria-label': t('cannedResponses') }, form);
    return dlg;
  },

  openCannedManager() {
    const sup = this.me?.role === Role.Supervisor;
    this.cannedForm.shared.parentElement.hidden = !sup;
    this.editCanned(null);
    this.renderCannedManager();
    this.cannedDialog.showModal();
    this.cannedForm.shortcut.focus();
  },

  editCanned(c) {
    const f = this.cannedForm;
    f.id = c?.id || '';
    f.shortcut.value = c?.shortcut || '';
    f.title.value = c?.title || '';
    f.text.value = c?.text || '';
    f.shared.checked = c ? !c.owner : this.me?.role === Role.Supervisor;
  },

  renderCannedManager() {
    if (!this.cannedListEl) return;
    clear(this.cannedListEl);
    const sup = this.me?.role === Role.Supervisor;
    for (const c of this.canned) {
      const mayChange = !!c.owner || sup;
      this.cannedListEl.append(h('li', { class: 'canned-row' },
        h('strong', null, '/' + c.shortcut), c.owner ? null : h('span', { class: 'pill' }, t('shared')),
        h('span', { class: 'canned-text small' }, c.title || c.text),
        mayChange ? h('button', { class: 'btn', type: 'button', onclick: () => this.editCanned(c) }, t('edit')) : null,
        mayChange ? h('button', { class: 'btn danger', type: 'button', 'aria-label': t('delete') + ' /' + c.shortcut,
          onclick: () => this.client.raw({ type: Type.CannedDelete, id: newId('cd'), canned: { id: c.id } }) }, t('delete')) : null));
    }
  },
};
