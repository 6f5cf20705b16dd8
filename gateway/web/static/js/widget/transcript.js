// The customer's request for the conversation's transcript by email (the tenant turns it on
// with data-transcripts on the widget's script tag). The request goes to the dispatcher as a
// `transcript` frame; the mail is sent once the conversation closes, so it holds everything.

import { h, icon } from '../core/dom.js';
import { Type } from '../core/protocol.js';

let seq = 0;

/** transcriptPart builds the chip and its small form into the widget (w); it returns the chip. */
export function transcriptPart(w) {
  const t = w.t;
  const email = h('input', { class: 'fd-email', type: 'email', required: true, maxlength: '254',
    autocomplete: 'email', 'aria-label': t('transcriptEmail'), placeholder: 'name@example.com' });
  const status = h('p', { class: 'fd-transcript-status', role: 'status' });
  const form = h('form', { class: 'fd-transcript', hidden: true, novalidate: true },
    email, h('button', { class: 'fd-chip', type: 'submit' }, t('transcriptSend')), status);
  const chip = h('button', { class: 'fd-chip fd-transcript-chip', type: 'button', hidden: true,
    onclick: () => { form.hidden = !form.hidden; if (!form.hidden) email.focus(); } }, icon('send', 16), t('transcriptAsk'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const addr = email.value.trim();
    if (!w.conv || !email.checkValidity() || !addr) {
      status.textContent = t('transcriptInvalid');
      return;
    }
    w.client.raw({ type: Type.Transcript, id: 'tr_' + Date.now().toString(36) + '_' + seq++, conv: w.conv, email: addr });
    status.textContent = t('transcriptQueued', { email: addr });
    email.value = '';
  });
  w.transcriptForm = form;
  return { chip, form };
}

/** showTranscript shows the chip while there is a conversation to send. */
export function showTranscript(w) {
  if (!w.transcriptChip) return;
  w.transcriptChip.hidden = !w.conv;
  if (!w.conv) w.transcriptForm.hidden = true;
}
