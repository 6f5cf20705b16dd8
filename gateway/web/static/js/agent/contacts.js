// The contact panel: who the open conversation's customer is (the record's contact: one per
// signed-in customer across devices), their custom attributes, the pages they came from, their
// past conversations (opened read-only) and labels; agents edit name, email, phone and notes,
// and set the tenant's labels on the contact itself.

import { newId } from '../core/client.js';
import { clear, h } from '../core/dom.js';
import { Type } from '../core/protocol.js';
import { t } from './shared.js';

export const contactsPart = {
  buildContact() {
    const field = (id, label, el) => h('div', { class: 'field' }, h('label', { for: id }, label), el);
    const name = h('input', { type: 'text', id: 'contact-name', maxlength: '200' });
    const email = h('input', { type: 'email', id: 'contact-email', maxlength: '200' });
    const phone = h('input', { type: 'tel', id: 'contact-phone', maxlength: '200' });
    const notes = h('textarea', { id: 'contact-notes', rows: '3', maxlength: '4096' });
    this.contactForm = { name, email, phone, notes };
    this.contactMeta = h('div', { class: 'contact-meta small' });
    this.contactPast = h('ul', { class: 'contact-past' });
    const form = h('form', { class: 'contact-form' },
      field('contact-name', t('name'), name), field('contact-email', t('email'), email),
      field('contact-phone', t('phone'), phone), field('contact-notes', t('notes'), notes),
      h('button', { class: 'btn primary', type: 'submit', id: 'contact-save' }, t('save')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!this.contact?.id) return;
      this.client.raw({ type: Type.ContactUpdate, id: newId('cu'), conv: this.current, contact: { id: this.contact.id,
        name: name.value.trim(), email: email.value.trim(), phone: phone.value.trim(), notes: notes.value } });
    });
    this.contactEl = h('aside', { class: 'contact-panel', 'aria-label': t('contact') },
      h('h3', null, t('contact')), form, this.contactMeta,
      h('h4', null, t('pastConversations')), this.contactPast);
    this.pane.after(this.contactEl); // beside the conversation; hidden with it (workspace.css)
  },

  /** loadContact asks for the open conversation's contact once per conversation. */
  loadContact() {
    this.contactFor = this.current;
    this.contact = null;
    this.renderContact();
    if (this.current) this.client.raw({ type: Type.Contact, id: newId('k'), conv: this.current });
  },

  onContact(f) {
    if (f.conv && f.conv !== this.current) return;
    this.contact = { ...(f.contact || {}), past: f.past || [] };
    // A saved name replaces the customer's name in the list and header.
    const it = this.items.get(this.current);
    if (it && this.contact.name && it.customer?.id === this.contact.id && it.customer.name !== this.contact.name) {
      it.customer = { ...it.customer, name: this.contact.name };
      this.rowCache?.delete(this.current);
      this.renderList();
      this.headName.textContent = this.contact.name;
    }
    this.renderContact();
  },

  renderContact() {
    const c = this.contact;
    const f = this.contactForm;
    for (const [k, el] of Object.entries(f)) {
      if (document.activeElement !== el) el.value = c?.[k] || '';
    }
    clear(this.contactMeta);
    clear(this.contactPast);
    if (!c) return;
    const attrs = Object.entries(c.attributes || {});
    if (attrs.length) {
      this.contactMeta.append(h('dl', { class: 'attributes' }, ...attrs.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)])));
    }
    if (c.pages?.length) this.contactMeta.append(h('div', { class: 'muted' }, t('cameFrom') + ': ' + c.pages[0]));
    this.renderContactLabels(c);
    for (const p of c.past.filter((p) => p.conv !== this.current)) {
      const when = p.opened_at ? new Date(p.opened_at).toLocaleString(t.lang === 'zh' ? 'zh-CN' : undefined) : '';
      this.contactPast.append(h('li', null, h('button', { type: 'button', class: 'past', onclick: () => this.openReadOnly(p.conv, c.name || c.id) },
        h('span', null, when), h('span', { class: 'muted small' }, [t('state_' + p.state), p.agent].filter(Boolean).join(' · ')),
        ...(p.labels || []).map((l) => this.labelChip(l)))));
    }
    if (!this.contactPast.children.length) this.contactPast.append(h('li', { class: 'muted small' }, t('noPast')));
  },

  /**
   * renderContactLabels draws the labels agents set on the contact itself (own_labels), each
   * removable, and a list of the tenant's other labels to add; the labels of the contact's
   * conversations show on their past conversations below.
   */
  renderContactLabels(c) {
    if (!this.labelDefs.length) return;
    const have = c.own_labels || [];
    const row = h('div', { class: 'labels contact-labels', 'aria-label': t('contactLabels') });
    for (const name of have) {
      row.append(this.labelChip(name, h('button', { type: 'button', class: 'chip-x',
        'aria-label': t('removeLabel', { label: this.labelTitle(name) }), onclick: () => this.setContactLabel(name, true) }, '×')));
    }
    const free = this.labelDefs.filter((l) => !have.includes(l.name));
    if (free.length) {
      const add = h('select', { class: 'label-add', id: 'contact-label-add', 'aria-label': t('addContactLabel'),
        onchange: () => { if (add.value) this.setContactLabel(add.value, false); } },
      h('option', { value: '' }, '+ ' + t('addContactLabel')), ...free.map((l) => h('option', { value: l.name }, l.title || l.name)));
      row.append(add);
    }
    this.contactMeta.append(row);
  },

  /** setContactLabel adds or removes a label on the open contact; the answer is its contact. */
  setContactLabel(name, remove) {
    if (!this.contact?.id) return;
    this.client.raw({ type: Type.ContactLabel, id: newId('kl'), conv: this.current, contact: { id: this.contact.id }, label: name, remove });
  },
};
