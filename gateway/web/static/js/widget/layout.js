// The widget's layout: launcher, panel, header, message list, composer (with the file and voice buttons).
// Methods of the Widget (widget.js), kept here by what they do.

import { enterToSend, h, icon, readableColor } from '../core/dom.js';
import { Announcer, MessageList } from '../core/messages.js';
import { Role } from '../core/protocol.js';
import { voiceControls } from '../core/voicebar.js';
import { RatingBox } from './rating.js';
import { transcriptPart } from './transcript.js';

export const layoutPart = {
  build() {
    const t = this.t;
    const accent = this.cfg.color || '#4f46e5';
    this.host = h('div', { id: 'frontdesk-widget', 'data-frontdesk': '' });
    this.host.style.setProperty('--fd-accent', accent);
    this.host.style.setProperty('--fd-on-accent', readableColor(accent));
    if (this.cfg.position === 'left') this.host.classList.add('fd-left');
    const root = this.host.attachShadow({ mode: 'open' });
    this.root = root;
    const css = h('link', { rel: 'stylesheet', href: this.cfg.staticBase + '/css/widget.css' });
    const wrap = h('div', { class: 'fd-root', lang: t.lang, hidden: true });
    css.addEventListener('load', () => { wrap.hidden = false; });
    css.addEventListener('error', () => { wrap.hidden = false; });

    this.badge = h('span', { class: 'fd-badge', hidden: true, 'aria-hidden': 'true' });
    this.launcher = h('button', { class: 'fd-launcher', type: 'button', 'aria-label': t('open'),
      'aria-expanded': 'false', 'aria-controls': 'fd-panel', onclick: () => this.setOpen(!this.isOpen) },
    icon('chat', 28), this.badge);

    this.subtitle = h('div', { class: 'fd-subtitle' }, t('subtitleBot'));
    this.avatar = h('div', { class: 'fd-avatar', 'aria-hidden': 'true' }, icon('chat', 20));
    const header = h('header', { class: 'fd-header' },
      this.avatar,
      h('div', { class: 'fd-titles' }, h('h2', { class: 'fd-title', id: 'fd-title' }, t('title')), this.subtitle),
      h('button', { class: 'fd-icon-btn', type: 'button', 'aria-label': t('minimize'), onclick: () => this.setOpen(false) }, icon('close', 20)));

    this.banner = h('div', { class: 'fd-banner', hidden: true, role: 'status' });
    this.list = new MessageList({
      t, base: this.cfg.gateway, token: () => this.token, me: () => this.client.welcome?.user || '',
      mineRole: Role.Customer, label: t('messages'),
      onNearTop: () => this.conv && this.convs.loadOlder(this.conv),
      onRetry: (id) => this.retry(id),
    });
    this.greeting = this.cfg.greeting
      ? h('div', { class: 'fd-msg fd-theirs fd-role-bot fd-greeting' }, h('div', { class: 'fd-bubble' }, h('p', { class: 'fd-text' }, this.cfg.greeting)))
      : null;
    if (this.greeting) this.list.items.before(this.greeting);
    this.typingEl = h('div', { class: 'fd-typing', hidden: true, 'aria-live': 'polite' },
      h('span', { class: 'fd-dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), h('span', { class: 'fd-typing-text' }));

    this.humanBtn = h('button', { class: 'fd-chip', type: 'button', hidden: true, onclick: () => this.handoff() }, icon('user', 16), t('human'));
    this.actions = h('div', { class: 'fd-actions' }, this.humanBtn);
    if (this.cfg.transcripts) { // transcript.js
      const tr = transcriptPart(this);
      this.transcriptChip = tr.chip;
      this.actions.append(tr.chip, tr.form);
    }

    this.preview = h('div', { class: 'fd-preview', hidden: true });
    this.fileInput = h('input', { type: 'file', class: 'fd-file-input', tabindex: '-1', 'aria-hidden': 'true',
      accept: 'image/*,application/pdf,text/plain,.doc,.docx,.xls,.xlsx,.csv,.zip' });
    this.fileInput.addEventListener('change', () => this.pickFile(this.fileInput.files?.[0]));
    this.input = h('textarea', { class: 'fd-input', rows: '1', maxlength: '4000' });
    this.setPlaceholder('placeholder');
    enterToSend(this.input, () => this.submit());
    this.input.addEventListener('input', () => {
      this.autosize();
      this.sendTyping();
    });
    this.input.addEventListener('paste', (ev) => {
      const f = [...(ev.clipboardData?.files || [])][0];
      if (f) {
        ev.preventDefault();
        this.pickFile(f);
      }
    });
    this.sendBtn = h('button', { class: 'fd-send', type: 'submit', 'aria-label': t('send') }, icon('send', 20));
    // Uploads belong to a conversation, so attaching waits for the first message.
    const attachBtn = h('button', { class: 'fd-icon-btn fd-attach', type: 'button', 'aria-label': t('attach'), title: t('attach'),
      disabled: true, onclick: () => this.fileInput.click() }, icon('clip', 20));
    this.attachBtn = attachBtn;
    this.voice = voiceControls({
      t, maxSeconds: () => this.client?.welcome?.max_audio_s,
      onFile: (file, ms) => this.sendFile(file, ms),
      onError: (text) => this.flash(text),
      onRecording: (on) => { form.hidden = on; },
    });
    this.voice.button.disabled = true;
    const form = h('form', { class: 'fd-composer', onsubmit: (ev) => { ev.preventDefault(); this.submit(); } },
      attachBtn, this.voice.button, this.input, this.sendBtn, this.fileInput);
    this.composer = form;
    this.rating = new RatingBox({ t, send: (f) => this.client.raw(f), store: () => this.convs.o.store });
    this.closedBox = h('div', { class: 'fd-closed', hidden: true },
      h('p', null, t('closed')), this.rating.el,
      h('button', { class: 'fd-primary', type: 'button', onclick: () => this.newConversation() }, t('newConversation')));

    this.announcer = new Announcer();
    this.panel = h('section', { class: 'fd-panel', id: 'fd-panel', role: 'dialog', 'aria-labelledby': 'fd-title', hidden: true },
      header, this.banner, this.list.el, this.typingEl, this.actions, this.preview, this.closedBox, form, this.voice.bar,
      h('div', { class: 'fd-footer' }, t('poweredBy')));
    // Escape closes from anywhere in the widget (the launcher too) and leaves the focus on the
    // launcher, where the keyboard user opened it.
    wrap.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.isOpen && !ev.isComposing) {
        this.setOpen(false);
        this.launcher.focus();
      }
    });
    wrap.append(this.panel, this.launcher, this.announcer.el);
    root.append(css, wrap);
    this.panel.addEventListener('dragover', (ev) => ev.preventDefault());
    this.panel.addEventListener('drop', (ev) => {
      ev.preventDefault();
      const f = ev.dataTransfer?.files?.[0];
      if (f) this.pickFile(f);
    });
  },

  /** setPlaceholder shows what the composer is for, to the eye and to screen readers alike. */
  setPlaceholder(key) {
    const text = this.t(key);
    this.input.placeholder = text;
    this.input.setAttribute('aria-label', text);
  },

  autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = Math.min(this.input.scrollHeight, 140) + 'px';
  },
};
