// MessageList renders a Timeline into a scrolling list, keyed so an element survives while its
// entry changes (pending -> acked -> stored, partial -> final). Text goes in with textContent only.

import { blobURL, isImage } from './attach.js';
import { clear, formatSize, h, icon } from './dom.js';
import { clock, onePlayer } from './recorder.js';
import { Kind, Role } from './protocol.js';

export class MessageList {
  /**
   * @param {{t:Function, base:string, token:()=>string, me:()=>string, mineRole?:string,
   *   onNearTop?:()=>void, onRetry?:(clientId:string)=>void, label?:string}} o
   */
  constructor(o) {
    this.o = o;
    this.els = new Map();
    this.revs = new Map();
    this.el = h('div', { class: 'fd-log', tabindex: '0', 'aria-label': o.label || o.t('messages') });
    this.older = h('div', { class: 'fd-older', hidden: true }, o.t('loadingOlder'));
    this.items = h('div', { class: 'fd-items' });
    this.el.append(this.older, this.items);
    this.status = null;
    /** stick: the reader is at the end, so content that grows (images loading) keeps it there */
    this.stick = true;
    this.el.addEventListener('scroll', () => {
      this.stick = this.el.scrollHeight - this.el.scrollTop - this.el.clientHeight < 80;
      // Right after a render the position is the page's doing, not the reader's asking for more.
      if (!this.settling && this.el.scrollTop < 60 && this.o.onNearTop) this.o.onNearTop();
    }, { passive: true });
  }

  /** loadingOlder shows or hides the "loading earlier messages" row. */
  loadingOlder(on) {
    this.older.hidden = !on;
  }

  isMine(e) {
    if (e.kind === Kind.Transcript) {
      // A transcript sits on the side of the voice message it transcribes.
      const v = this.voices?.get(e.replyTo);
      return v ? this.isMine(v) : false;
    }
    const me = this.o.me();
    if (e.pending || e.failed) return true;
    if (e.from?.id && me) return e.from.id === me;
    return e.from?.role === this.o.mineRole;
  }

  /** render reconciles the list with the timeline's entries. */
  render(tl) {
    const list = tl.list();
    this.voices = new Map(list.filter((e) => e.kind === Kind.Audio && e.id).map((e) => [e.id, e]));
    const el = this.el;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    const firstKey = this.items.firstElementChild?.dataset.k;
    // The first message shown anchors the view while older ones are added above. Its bottom
    // edge is what stays put: its element may be rebuilt (its sender's name moves to the
    // older message above it), which changes its height from the top.
    const anchor = firstKey && this.els.get(firstKey);
    const anchorBottom = anchor ? anchor.offsetTop + anchor.offsetHeight - el.scrollTop : 0;

    const readSeq = tl.readUpTo(this.o.me());
    let lastMine = null;
    for (const e of list) if (this.isMine(e) && e.kind !== Kind.Transcript) lastMine = e;
    const seen = new Set();
    let prev = null;
    let prevFrom = '';
    for (const e of list) {
      seen.add(e.k);
      const mine = this.isMine(e);
      const from = e.from?.role === Role.System ? 'system' : mine ? 'me' : (e.from?.id || e.from?.role || '');
      const showName = !mine && from !== 'system' && from !== prevFrom;
      const status = e === lastMine ? this.statusOf(e, readSeq) : '';
      const sig = e.rev + '|' + showName + '|' + status;
      let node = this.els.get(e.k);
      if (!node || this.revs.get(e.k) !== sig) {
        const fresh = this.build(e, mine, showName, status);
        if (node) node.replaceWith(fresh);
        node = fresh;
        this.els.set(e.k, node);
        this.revs.set(e.k, sig);
      }
      const want = prev ? prev.nextSibling : this.items.firstChild;
      if (want !== node) this.items.insertBefore(node, want);
      prev = node;
      prevFrom = from;
    }
    for (const [k, node] of this.els) {
      if (!seen.has(k)) {
        node.remove();
        this.els.delete(k);
        this.revs.delete(k);
      }
    }
    // The scroll events of what follows are the page's, not the reader's: a page just filled
    // and scrolled to its end must not read as "at the top" and fetch every older page (on a
    // slow machine the events came before the scroll position settled).
    this.settling = true;
    requestAnimationFrame(() => requestAnimationFrame(() => { this.settling = false; }));
    if (atBottom || this.stick) {
      el.scrollTop = el.scrollHeight;
      this.stick = true;
    } else if (anchor && this.els.get(firstKey)?.isConnected) {
      // Older messages were added above: keep what the reader was looking at in place.
      const now = this.els.get(firstKey);
      el.scrollTop = now.offsetTop + now.offsetHeight - anchorBottom;
    }
    // A page too short to scroll could never be scrolled up for the one before: ask for it now.
    if (this.o.onNearTop && el.clientHeight > 0 && el.scrollHeight <= el.clientHeight) setTimeout(() => this.o.onNearTop(), 0);
  }

  scrollToEnd() {
    this.el.scrollTop = this.el.scrollHeight;
    this.stick = true;
  }

  statusOf(e, readSeq) {
    const t = this.o.t;
    if (e.failed) return t('failed');
    if (e.pending) return t('sending');
    if (e.seq && readSeq >= e.seq) return t('read');
    if (e.seq) return t('sent');
    return '';
  }

  name(e) {
    const t = this.o.t;
    const r = e.from?.role;
    if (e.from?.name) return e.from.name;
    return r === 'bot' ? t('bot') : r === 'agent' || r === 'supervisor' ? t('agent') : r === 'customer' ? t('customer') : t('someone');
  }

  build(e, mine, showName, status) {
    const t = this.o.t;
    const role = e.from?.role || '';
    if (role === Role.System) {
      return h('div', { class: 'fd-msg fd-system', dataset: { k: e.k } }, h('span', null, e.text));
    }
    if (e.kind === Kind.Transcript) {
      // What a voice message said, under its player: an annotation, not a turn of the bot.
      return h('div', { class: 'fd-msg fd-transcript-row ' + (mine ? 'fd-mine' : 'fd-theirs'), dataset: { k: e.k, seq: e.seq || '' } },
      h('p', { class: 'fd-transcript' }, h('span', { class: 'fd-transcript-label' }, t('transcript') + ': '), h('q', null, e.text)));
    }
    const cls = ['fd-msg', mine ? 'fd-mine' : 'fd-theirs', 'fd-role-' + (role || 'unknown')];
    if (e.partial) cls.push('fd-partial');
    if (e.pending) cls.push('fd-pending');
    if (e.failed) cls.push('fd-failed');
    const bubble = h('div', { class: 'fd-bubble' });
    if (e.attachment && (e.kind === Kind.Image || e.kind === Kind.File || e.kind === Kind.Audio || !e.text)) {
      bubble.append(this.attachment(e));
    }
    if (e.text || e.partial) {
      // The caret goes inside the paragraph so it follows the last word of streamed text.
      bubble.append(h('p', { class: 'fd-text' }, e.text, e.partial ? h('span', { class: 'fd-caret', 'aria-hidden': 'true' }) : null));
    }
    const meta = h('div', { class: 'fd-meta' }, h('time', { datetime: e.ts || '' }, this.o.t.time(e.ts)));
    if (status) {
      const st = h('span', { class: 'fd-status' + (e.failed ? ' fd-status-failed' : '') }, status);
      if (status === t('read')) st.prepend(icon('check', 12));
      meta.append(st);
      if (e.failed && this.o.onRetry) {
        meta.append(h('button', { class: 'fd-link', type: 'button', onclick: () => this.o.onRetry(e.clientId) }, t('retry')));
      }
    }
    return h('div', { class: cls.join(' '), dataset: { k: e.k, seq: e.seq || '' } },
      showName ? h('div', { class: 'fd-name' }, this.name(e)) : null, bubble, meta);
  }

  attachment(e) {
    const a = e.attachment || {};
    const t = this.o.t;
    const name = a.name || (isImage(a) ? t('image') : a.id || 'file');
    if (e.kind === Kind.Image || isImage(a)) {
      const img = h('img', { alt: a.name ? t('image') + ': ' + a.name : t('image'), decoding: 'async' });
      img.addEventListener('load', () => { if (this.stick) this.scrollToEnd(); });
      const link = h('a', { class: 'fd-image', target: '_blank', rel: 'noopener' }, img);
      const show = (u) => {
        img.src = u;
        link.href = u;
      };
      if (e.localUrl) show(e.localUrl);
      else if (a.id || a.url) {
        blobURL(this.o.base, this.o.token(), a).then(show, () => img.classList.add('fd-broken'));
      }
      return link;
    }
    if (e.kind === Kind.Audio || /^audio\//.test(a.type || '')) return this.audio(e, a);
    // The name is isolated (<bdi>): a right-to-left override in it cannot reorder the size.
    const link = h('a', { class: 'fd-file', href: '#', 'aria-label': t('download', { name }) },
      icon(fileIcon(a.type), 22), h('bdi', { class: 'fd-file-name' }, name), h('span', { class: 'fd-file-size' }, formatSize(a.size)));
    link.addEventListener('click', (ev) => {
      ev.preventDefault();
      const go = (u) => {
        const tmp = h('a', { href: u, download: name });
        document.body.append(tmp);
        tmp.click();
        tmp.remove();
      };
      if (e.localUrl) go(e.localUrl);
      else blobURL(this.o.base, this.o.token(), a).then(go, () => {});
    });
    return link;
  }

  /** audio is a voice message: the browser's own player (accessible controls), its length. */
  audio(e, a) {
    const t = this.o.t;
    const secs = a.duration_ms ? Math.round(a.duration_ms / 1000) : 0;
    const label = t('voiceMessage') + (secs ? ' ' + clock(secs) : '');
    const player = h('audio', { class: 'fd-audio', controls: true, preload: 'metadata', 'aria-label': label });
    onePlayer(player);
    // Recordings of MediaRecorder carry no duration: seeking to the end once makes the browser
    // work it out, so the player shows a length before it is played.
    player.addEventListener('loadedmetadata', () => {
      if (player.duration === Infinity) {
        const back = () => { player.removeEventListener('timeupdate', back); player.currentTime = 0; };
        player.addEventListener('timeupdate', back);
        player.currentTime = 1e7;
      }
    });
    if (e.localUrl) player.src = e.localUrl;
    else if (a.id || a.url) blobURL(this.o.base, this.o.token(), a).then((u) => { player.src = u; }, () => player.classList.add('fd-broken'));
    return h('div', { class: 'fd-voice' }, icon('audio', 18), player,
      secs ? h('span', { class: 'fd-voice-len' }, clock(secs)) : null);
  }

  reset() {
    clear(this.items);
    this.els.clear();
    this.revs.clear();
  }
}

/** fileIcon picks the icon for a file of MIME type type. */
function fileIcon(type) {
  if (/^audio\//.test(type || '')) return 'audio';
  if (type === 'application/pdf') return 'pdf';
  return 'file';
}

/** Announcer is a visually hidden live region for screen readers. */
export class Announcer {
  constructor() {
    this.el = h('div', { class: 'fd-sr', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  }

  say(text) {
    // Clearing first makes repeated identical announcements audible.
    this.el.textContent = '';
    setTimeout(() => { this.el.textContent = text; }, 50);
  }
}
