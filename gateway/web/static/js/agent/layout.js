// The console's layout: the side bar, the conversation pane, the composer and the transfer dialog.
// Methods of the Console (console.js), kept here by what they do.

import { newId } from '../core/client.js';
import { clear, enterToSend, h, icon } from '../core/dom.js';
import { MessageList } from '../core/messages.js';
import { Role, Status, Type } from '../core/protocol.js';
import { voiceControls } from '../core/voicebar.js';
import { NotesPanel } from './notes.js';
import { BoardView } from './supervisor.js';
import { TransferPicker } from './transfer.js';
import { ReportsView } from './reports.js';
import { initials, t } from './shared.js';
import { transcriptButton } from './transcript.js';

export const layoutPart = {
  build() {
    clear(this.root);
    const name = this.me?.name || this.me?.sub || '';
    this.statusBtn = h('button', { class: 'switch', type: 'button', role: 'switch', 'aria-checked': 'false',
      'aria-label': t('availability'), onclick: () => this.setStatus(this.status === Status.Available ? 'away' : 'available') },
    h('span', { class: 'knob', 'aria-hidden': 'true' }), h('span', { class: 'switch-label' }));
    this.notifyBtn = h('button', { class: 'icon-btn', type: 'button', 'aria-label': t('notifications'), title: t('notifications'),
      onclick: () => this.askNotifications() }, icon('bell', 18));
    this.connEl = h('div', { class: 'conn', role: 'status' });
    this.queueEl = h('div', { class: 'overview', 'aria-live': 'polite' });
    this.offersEl = h('div', { class: 'offers', 'aria-live': 'assertive' });
    this.listEl = h('ul', { class: 'conv-list', 'aria-label': t('conversations') });
    const side = h('aside', { class: 'side' },
      h('div', { class: 'me' },
        h('div', { class: 'avatar' }, initials(name)),
        h('div', { class: 'me-text' }, h('strong', { class: 'me-name' }, name),
          h('span', { class: 'muted small' }, this.me?.tenant || ''),
          this.me?.skills?.length ? h('span', { class: 'muted small me-skills' }, this.me.skills.join(', ')) : null),
        this.notifyBtn,
        h('button', { class: 'icon-btn', type: 'button', 'aria-label': t('signOut'), title: t('signOut'), onclick: () => this.signOut() }, icon('logout', 18))),
      h('div', { class: 'status-row' }, this.statusBtn, this.connEl),
      this.me?.role === Role.Supervisor
        ? h('button', { class: 'btn wide reports-btn', type: 'button', id: 'open-reports', onclick: () => this.openReports() }, t('reports'))
        : null,
      this.me?.role === Role.Supervisor // supervisor.js
        ? h('button', { class: 'btn wide board-btn', type: 'button', id: 'open-board', onclick: () => this.openBoard() }, t('board'))
        : null,
      this.queueEl, this.offersEl,
      h('h2', { class: 'side-h' }, t('conversations')), this.listEl,
      h('p', { class: 'shortcuts muted small' }, t('shortcutList')));

    this.headName = h('h2', { class: 'conv-title' });
    this.headMeta = h('div', { class: 'conv-meta muted small' });
    this.suggestBtn = h('button', { class: 'btn', type: 'button', onclick: () => this.suggest(), title: 'Alt+S' }, icon('spark', 16), t('suggest'));
    this.transferBtn = h('button', { class: 'btn transfer', type: 'button', onclick: () => this.openTransfer(), title: 'Alt+T' }, icon('swap', 16), t('transfer'));
    this.closeBtn = h('button', { class: 'btn danger', type: 'button', onclick: () => this.closeConv(), title: 'Alt+X' }, t('closeConv'));
    this.head = h('header', { class: 'conv-head' },
      h('div', { class: 'conv-head-text' }, this.headName, this.headMeta),
      h('div', { class: 'conv-actions' }, this.suggestBtn, this.transferBtn, transcriptButton(this, t), this.closeBtn));
    this.summaryEl = h('div', { class: 'summary', hidden: true });
    this.list = new MessageList({
      t, base: location.origin, token: () => this.token, me: () => this.client?.welcome?.user || this.me?.sub || '',
      mineRole: Role.Agent, onNearTop: () => this.current && this.convs.loadOlder(this.current),
      onRetry: (id) => this.retry(id),
    });
    this.typingEl = h('div', { class: 'typing muted small', hidden: true, 'aria-live': 'polite' });
    this.input = h('textarea', { class: 'composer-input', rows: '2', 'aria-label': t('placeholder'), placeholder: t('placeholder'), maxlength: '4000' });
    enterToSend(this.input, () => this.submit(), true);
    this.input.addEventListener('input', () => this.sendTyping());
    this.input.addEventListener('paste', (ev) => {
      const f = [...(ev.clipboardData?.files || [])][0];
      if (f) {
        ev.preventDefault();
        this.pickFile(f);
      }
    });
    this.fileInput = h('input', { type: 'file', class: 'hidden-file', tabindex: '-1', 'aria-hidden': 'true' });
    this.fileInput.addEventListener('change', () => this.pickFile(this.fileInput.files?.[0]));
    this.preview = h('div', { class: 'preview', hidden: true });
    this.voice = voiceControls({
      t, maxSeconds: () => this.client?.welcome?.max_audio_s,
      onFile: (file, ms) => { if (this.current) this.sendFile(this.current, file, ms); },
      onError: (text) => this.toast(text),
      onRecording: (on) => { this.composerRow.hidden = on; },
    });
    this.voice.button.classList.add('icon-btn');
    this.composerRow = h('div', { class: 'composer-row' },
      h('button', { class: 'icon-btn', type: 'button', 'aria-label': t('attach'), title: t('attach'), onclick: () => this.fileInput.click() }, icon('clip', 20)),
      this.voice.button,
      this.input,
      h('button', { class: 'btn primary send', type: 'submit', 'aria-label': t('send') }, icon('send', 18), h('span', null, t('send'))));
    this.composer = h('form', { class: 'composer', onsubmit: (ev) => { ev.preventDefault(); this.submit(); } },
      this.preview, this.composerRow, this.voice.bar,
      this.fileInput);
    this.endedEl = h('div', { class: 'ended', hidden: true });
    this.empty = h('div', { class: 'empty' }, icon('chat', 40), h('p', null, t('selectConversation')));
    this.notes = new NotesPanel({ t, send: (f) => this.client?.raw(f),
      me: () => ({ id: this.client?.welcome?.user || this.me?.sub, name: this.me?.name }) });
    this.pane = h('section', { class: 'pane', hidden: true, 'aria-label': t('messages') },
      this.head, this.summaryEl, this.list.el, this.typingEl, this.endedEl, this.notes.el, this.composer);
    this.pane.addEventListener('dragover', (ev) => ev.preventDefault());
    this.pane.addEventListener('drop', (ev) => {
      ev.preventDefault();
      const f = ev.dataTransfer?.files?.[0];
      if (f) this.pickFile(f);
    });
    this.dialog = this.buildTransfer();
    this.toastEl = h('div', { class: 'toast', role: 'alert', hidden: true });
    this.reports = new ReportsView({ t, token: () => this.token, onClose: () => this.closeReports() });
    this.boardView = new BoardView({ t, onOpen: (r, join) => this.openFromBoard(r, join), onTransfer: (conv) => this.openTransfer(conv),
      onClose: () => this.closeBoard(), onSearch: (text) => this.searchNotes(text) });
    this.root.append(side, h('main', { class: 'main' }, this.empty, this.pane, this.reports.el, this.boardView.el), this.dialog, this.toastEl, this.announcer.el);
    this.buildWorkspace(); // workspace.js
    document.addEventListener('keydown', (ev) => this.onKey(ev));
    addEventListener('focus', () => this.markRead());
    document.addEventListener('visibilitychange', () => this.markRead());
    this.renderStatus();
    this.renderNotify();
    this.renderOverview();
  },

  buildTransfer() {
    const agent = h('input', { type: 'text', id: 'to-agent', name: 'target', autocomplete: 'off', placeholder: 'agent id' });
    const queue = h('input', { type: 'text', id: 'to-queue', name: 'target-q', autocomplete: 'off', placeholder: 'default' });
    const kindAgent = h('input', { type: 'radio', name: 'kind', id: 'kind-agent', value: 'agent', checked: true });
    const kindQueue = h('input', { type: 'radio', name: 'kind', id: 'kind-queue', value: 'queue' });
    this.picker = new TransferPicker({ t, me: () => this.client?.welcome?.user || '', onPick: (kind, id) => {
      (kind === 'agent' ? agent : queue).value = id;
      (kind === 'agent' ? kindAgent : kindQueue).checked = true;
      form.requestSubmit();
    } });
    const form = h('form', { method: 'dialog', class: 'dialog-body' },
      h('h2', null, t('transferTo')), this.picker.el,
      h('div', { class: 'field' }, kindAgent, h('label', { for: 'kind-agent' }, t('toAgent')), agent),
      h('div', { class: 'field' }, kindQueue, h('label', { for: 'kind-queue' }, t('toQueue')), queue),
      h('div', { class: 'dialog-actions' },
        h('button', { class: 'btn', type: 'button', onclick: () => dlg.close() }, t('cancel')),
        h('button', { class: 'btn primary', type: 'submit', value: 'ok' }, t('confirm'))));
    agent.addEventListener('focus', () => { kindAgent.checked = true; });
    queue.addEventListener('focus', () => { kindQueue.checked = true; });
    const dlg = h('dialog', { class: 'dialog', 'aria-label': t('transferTo') }, form);
    dlg.addEventListener('close', () => this.followRoster(false)); // compose.js
    form.addEventListener('submit', () => {
      const conv = this.transferConv || this.current;
      this.transferConv = '';
      if (!conv) return;
      const f = { type: Type.Transfer, id: newId('t'), conv };
      if (kindAgent.checked && agent.value.trim()) f.to_agent = agent.value.trim();
      else f.to_queue = queue.value.trim() || 'default';
      this.client.raw(f);
    });
    this.transferInputs = { agent, queue };
    return dlg;
  },
};
