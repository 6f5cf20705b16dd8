// The pre-chat form: when the tenant asks for one (welcome.prechat) and the visitor has no
// conversation yet, the composer waits behind a short form (name, email, the tenant's own
// questions). Its answers go to the visitor's contact for the agents; signed-in customers never
// get a form (the gateway sends none).

import { newId } from '../core/client.js';
import { h } from '../core/dom.js';
import { Type } from '../core/protocol.js';

export const prechatPart = {
  /** prechatWelcome decides, from welcome, whether the form stands before the composer. */
  prechatWelcome(f) {
    const form = f.prechat;
    const done = this.convs.o.store?.get('prechat', false);
    this.prechat = form?.enabled && !done && !(f.conversations || []).length ? form : null;
    this.buildPrechat();
  },

  buildPrechat() {
    this.prechatEl?.remove();
    this.prechatEl = null;
    const form = this.prechat;
    if (!form) return this.render(); // the composer comes back
    const t = this.t;
    const inputs = [];
    const field = (name, label, attrs) => {
      const id = 'fd-pre-' + name;
      const input = h('input', { id, name, class: 'fd-pre-input', maxlength: String(attrs.max || 200), ...attrs.html });
      inputs.push({ name, label, input, required: !!attrs.required, attr: !!attrs.attr });
      return h('label', { class: 'fd-pre-field', for: id }, h('span', null, label + (attrs.required ? ' *' : '')), input);
    };
    this.prechatError = h('p', { class: 'fd-pre-error', role: 'alert', hidden: true });
    const el = h('form', { class: 'fd-prechat', novalidate: true, 'aria-labelledby': 'fd-pre-title' },
      h('h3', { id: 'fd-pre-title' }, t('prechatTitle')), h('p', { class: 'fd-pre-intro' }, t('prechatIntro')),
      form.ask_name ? field('name', t('name'), { required: true, html: { type: 'text', autocomplete: 'name' } }) : null,
      form.ask_email ? field('email', t('email'), { required: true, html: { type: 'email', autocomplete: 'email' } }) : null,
      ...(form.fields || []).slice(0, 5).map((q) => field(q.name, q.label || q.name,
        { required: q.required, attr: true, max: Math.min(q.max_len || 200, 200), html: { type: 'text' } })),
      this.prechatError,
      h('button', { class: 'fd-primary', type: 'submit' }, t('prechatStart')));
    el.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submitPrechat(inputs);
    });
    this.prechatEl = el;
    this.composer.before(el);
    this.render();
  },

  submitPrechat(inputs) {
    const t = this.t;
    const contact = { attributes: {} };
    for (const f of inputs) {
      const v = f.input.value.trim();
      if (f.required && !v) return this.prechatFail(t('prechatRequired', { field: f.label }), f.input);
      if (f.name === 'email' && !f.attr && v && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) return this.prechatFail(t('prechatEmail'), f.input);
      if (f.attr) {
        if (v) contact.attributes[f.name] = v;
      } else contact[f.name] = v;
    }
    this.client.send({ type: Type.Prechat, id: newId('p'), contact }).then(() => {
      this.convs.o.store?.set('prechat', true);
      this.prechat = null;
      this.buildPrechat();
      this.input.focus();
    }, (err) => this.prechatFail(err.message));
  },

  prechatFail(text, input) {
    this.prechatError.textContent = text;
    this.prechatError.hidden = false;
    input?.focus();
  },

  /** renderPrechat keeps the composer behind the form while it stands. */
  renderPrechat() {
    if (this.prechatEl) {
      this.composer.hidden = true;
      this.attachBtn.disabled = true;
    }
  },
};
