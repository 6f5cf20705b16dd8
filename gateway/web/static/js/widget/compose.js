// What the customer does: write, send files and voice messages, ask for a person, answer notices, start over.
// Methods of the Widget (widget.js), kept here by what they do.

import { isImage, upload } from '../core/attach.js';
import { newId } from '../core/client.js';
import { clear, h, icon } from '../core/dom.js';
import { Code, Kind, Role, State, Type } from '../core/protocol.js';
import { TYPING_SEND_MS } from './shared.js';

export const composePart = {
  async submit() {
    const text = this.input.value.trim();
    const file = this.file;
    if (!text && !file) return;
    if (this.awaitingBot) {
      // Back to the assistant was asked for: a message sent before the dispatcher hands the
      // conversation back would reach a queued conversation, which the assistant does not answer.
      await new Promise((resolve) => {
        this.botWaiters = [...(this.botWaiters || []), resolve];
        setTimeout(resolve, 5000);
      });
    }
    if (this.leaveMode && text && !file && this.leaveConv) {
      // The dispatcher stores the left message in the conversation, which stays queued for
      // the agents; it comes back as a message like any other. Until then the composer is
      // empty, and the banner says it was left once the gateway has it.
      const conv = this.leaveConv;
      this.input.value = '';
      this.autosize();
      this.leaveMode = false;
      this.leaveConv = '';
      this.render();
      this.command({ type: Type.LeaveMessage, conv, text }).then((ok) => {
        if (!ok) {
          // Not lost: the text is back in the composer, to leave again while still waiting.
          if (!this.input.value) this.input.value = text;
          if (this.state === State.Queued) {
            this.leaveMode = true;
            this.leaveConv = conv;
          }
          this.render();
          return;
        }
        if (this.notice?.conv === conv) {
          this.notice.left = true;
          this.saveNotice();
        } else {
          this.flash(this.t('messageLeft'));
        }
        this.renderBanner();
      });
      return;
    }
    if (this.state === State.Closed) this.newConversation(true);
    this.input.value = '';
    this.autosize();
    this.clearFile();
    const me = { id: this.client.welcome?.user, role: Role.Customer };
    const key = this.conv || '';
    const c = this.convs.get(key);
    if (file) await this.sendFile(file, 0);
    if (text) {
      const clientId = newId();
      c.tl.addPending({ clientId, text, from: me });
      this.renderMessages(true);
      this.post({ id: clientId, type: Type.Send, kind: Kind.Text, text }, key);
    }
  },

  /** sendFile uploads file and sends it: a voice message (durationMs > 0 or audio), an image or a file. */
  async sendFile(file, durationMs) {
    if (this.state === State.Closed) this.newConversation(true);
    const me = { id: this.client.welcome?.user, role: Role.Customer };
    const key = this.conv || '';
    const c = this.convs.get(key);
    const clientId = newId();
    const kind = /^audio\//.test(file.type) ? 'audio' : isImage(file) ? 'image' : 'file';
    const meta = { name: file.name, type: file.type, size: file.size, duration_ms: durationMs || undefined };
    c.tl.addPending({ clientId, kind, text: '', attachment: meta, from: me, localUrl: URL.createObjectURL(file) });
    this.renderMessages(true);
    try {
      const att = await upload(this.cfg.gateway, this.token || await this.getToken(false), file, this.conv);
      this.post({ id: clientId, type: Type.Send, kind, attachment: { id: att.id, url: att.url, type: att.type, size: att.size, name: att.name,
        duration_ms: durationMs || undefined } }, key);
    } catch (err) {
      c.tl.fail(clientId);
      this.renderMessages();
      const reason = err.status === 413 ? this.t('tooLarge') : err.status === 415 ? this.t('badType') : String(err.status || err.message);
      this.flash(this.t('uploadFailed', { reason }));
    }
  },

  post(frame, key) {
    if (this.conv) frame.conv = this.conv;
    this.pendingFrames = this.pendingFrames || new Map();
    this.pendingFrames.set(frame.id, frame);
    this.client.send(frame).then((ack) => {
      this.pendingFrames.delete(frame.id);
      if (ack.conv && !this.conv) this.setConv(ack.conv);
    }, (err) => {
      const c = this.convs.map.get(this.conv) || this.convs.map.get(key);
      c?.tl.fail(frame.id);
      this.renderMessages();
      if (err.code === Code.UnknownConversation || err.code === Code.Forbidden) this.setState(State.Closed);
    });
  },

  retry(clientId) {
    const frame = this.pendingFrames?.get(clientId);
    const c = this.convs.map.get(this.conv) || this.convs.map.get('');
    const e = c && [...c.tl.byKey.values()].find((x) => x.clientId === clientId);
    if (!frame || !e) return;
    c.tl.remove(e.k);
    c.tl.addPending({ ...e, clientId });
    this.renderMessages();
    this.post(frame, this.conv || '');
  },

  handoff() {
    const f = { type: Type.Handoff, id: newId('h') };
    if (this.conv) f.conv = this.conv;
    this.client.raw(f);
    this.humanBtn.disabled = true;
    setTimeout(() => { this.humanBtn.disabled = false; }, 3000);
  },

  newConversation(keepInput) {
    if (this.conv) {
      this.left.add(this.conv);
      this.convs.delete(this.conv);
    }
    this.conv = '';
    this.convs.o.store?.del('current');
    this.state = 'bot';
    this.agent = null;
    this.queue = null;
    this.notice = null;
    this.saveNotice();
    this.leaveMode = false;
    this.leaveConv = '';
    this.list.reset();
    this.render();
    if (!keepInput) this.input.focus();
  },

  noticeAction(a) {
    const n = this.notice;
    const conv = n?.conv || this.conv;
    if (a === 'human') this.handoff();
    if (a === 'leave_message' && conv) {
      // What the customer types next is the message they leave (leave_message with its text).
      this.leaveMode = true;
      this.leaveConv = conv;
      this.setPlaceholder('placeholderLeave');
      this.input.focus();
    }
    if (a === 'bot') {
      this.leaveMode = false;
      this.leaveConv = '';
      this.setPlaceholder('placeholder');
      if (conv) {
        this.awaitingBot = true;
        this.command({ type: Type.ToBot, conv }).then((ok) => { if (!ok) this.botReady(); });
      }
    }
    // The reason stays in view while the customer waits; the choice is made.
    if (n) {
      n.answered = true;
      this.saveNotice();
    }
    this.renderBanner();
  },

  /** botReady lets messages held while going back to the assistant go. */
  botReady() {
    this.awaitingBot = false;
    for (const resolve of this.botWaiters || []) resolve();
    this.botWaiters = [];
  },

  /**
   * command sends a command frame (kept until acked, re-sent after a reconnect). It resolves
   * to whether the gateway took it; failures are shown here.
   */
  command(frame) {
    frame.id = newId('c');
    return this.client.send(frame).then(() => true, (err) => {
      if (err.code === Code.UnknownConversation || err.code === Code.Forbidden) this.setState(State.Closed);
      else this.flash(this.t('commandFailed'));
      return false;
    });
  },

  sendTyping() {
    const now = Date.now();
    if (!this.conv || now - this.lastTypingSent < TYPING_SEND_MS || !this.input.value) return;
    this.lastTypingSent = now;
    this.client.raw({ type: Type.Typing, conv: this.conv });
  },

  markRead() {
    if (!this.isOpen || !this.conv || document.visibilityState !== 'visible') return;
    this.convs.markRead(this.conv);
    this.renderBadge();
  },

  pickFile(f) {
    if (!f) return;
    this.file = f;
    clear(this.preview);
    const remove = h('button', { class: 'fd-icon-btn fd-remove', type: 'button', 'aria-label': this.t('removeAttachment'), onclick: () => this.clearFile() }, icon('close', 16));
    if (isImage(f)) {
      const url = URL.createObjectURL(f);
      this.previewUrl = url;
      this.preview.append(h('img', { src: url, alt: f.name }));
    } else {
      this.preview.append(icon('file', 22));
    }
    this.preview.append(h('span', { class: 'fd-preview-name' }, f.name), remove);
    this.preview.hidden = false;
    this.input.focus();
  },

  clearFile() {
    this.file = null;
    this.fileInput.value = '';
    this.preview.hidden = true;
    clear(this.preview);
  },

  flash(text) {
    this.flashText = text;
    this.renderBanner();
    clearTimeout(this.flashTimer);
    this.flashTimer = setTimeout(() => {
      this.flashText = '';
      this.renderBanner();
    }, 6000);
  },

  tick() {
    if (this.typing && this.typing.until < Date.now()) {
      this.typing = null;
      this.renderTyping();
    }
  },
};
