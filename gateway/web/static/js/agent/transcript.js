// An agent sends the customer the conversation's transcript by email: the address goes to the
// dispatcher as a `transcript` frame, and the persister mails the transcript once the
// conversation closes (once, within the tenant's limits).

import { h, icon } from '../core/dom.js';
import { Type } from '../core/protocol.js';

let seq = 0;

/** transcriptButton builds the button and its dialog for the console (c); it returns the button. */
export function transcriptButton(c, t) {
  const email = h('input', { id: 'transcript-email', type: 'email', required: true, maxlength: '254', autocomplete: 'off' });
  const dialog = h('dialog', { class: 'dialog transcript-dialog', 'aria-labelledby': 'transcript-h' });
  const form = h('form', { method: 'dialog' },
    h('h3', { id: 'transcript-h' }, t('transcriptTitle')),
    h('label', { class: 'field' }, h('span', null, t('transcriptEmail')), email),
    h('p', { class: 'muted small' }, t('transcriptHint')),
    h('div', { class: 'dialog-actions' },
      h('button', { class: 'btn', type: 'button', onclick: () => dialog.close() }, t('cancel')),
      h('button', { class: 'btn primary', type: 'submit' }, t('transcriptSend'))));
  form.addEventListener('submit', (ev) => {
    const addr = email.value.trim();
    if (!c.current || !email.checkValidity() || !addr) {
      ev.preventDefault();
      email.reportValidity();
      return;
    }
    c.client.raw({ type: Type.Transcript, id: 'tr_' + Date.now().toString(36) + '_' + seq++, conv: c.current, email: addr });
    c.toast(t('transcriptQueued', { email: addr }));
    email.value = '';
  });
  dialog.append(form);
  document.body.append(dialog);
  return h('button', { class: 'btn transcript', type: 'button', title: t('transcriptTitle'),
    onclick: () => { if (c.current) { dialog.showModal(); email.focus(); } } }, icon('send', 16), t('transcriptShort'));
}
