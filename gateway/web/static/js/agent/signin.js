// Signing in: the single sign-on session, tokens pasted or linked (asking before another agent replaces the one signed in), renewal and sign-out.
// Methods of the Console (console.js), kept here by what they do.

import { Client } from '../core/client.js';
import { Conversations } from '../core/convs.js';
import { clear, h, icon } from '../core/dom.js';
import { claims, expired } from '../core/jwt.js';
import { Role } from '../core/protocol.js';
import { TOKEN_KEY, sameUser, t } from './shared.js';

export const signinPart = {
  async boot() {
    const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
    const linked = m ? decodeURIComponent(m[1]) : '';
    if (m) history.replaceState(null, '', location.pathname + location.search);
    // A single sign-on session (HttpOnly cookie) comes first: its tokens live in memory only.
    const sso = await this.sessionToken();
    const stored = localStorage.getItem(TOKEN_KEY) || '';
    const current = sso || (this.validToken(stored) ? stored : '');
    if (linked && this.validToken(linked)) {
      // A link never silently replaces who is signed in: a different agent is asked about.
      if (current && !sameUser(current, linked) && !(await this.confirmSwitch(current, linked))) {
        this.signIn(current, !!sso);
      } else {
        localStorage.setItem(TOKEN_KEY, linked);
        this.signIn(linked, false);
      }
    } else if (current) {
      this.signIn(current, !!sso);
    } else {
      await this.showSignIn(stored || linked ? t('badToken') : '');
    }
    this.root.setAttribute('aria-busy', 'false');
  },

  /** confirmSwitch asks whether to sign in as the link's agent instead of the current one. */
  confirmSwitch(current, next) {
    const who = (tok) => { const c = claims(tok); return (c.name || c.sub) + (c.tenant ? ' (' + c.tenant + ')' : ''); };
    const vars = { current: who(current), next: who(next) };
    return new Promise((resolve) => {
      clear(this.root);
      const yes = h('button', { class: 'btn wide', type: 'button', id: 'switch-yes', onclick: () => resolve(true) }, t('switchYes', vars));
      const no = h('button', { class: 'btn primary wide', type: 'button', id: 'switch-no', onclick: () => resolve(false) }, t('switchNo', vars));
      this.root.append(h('main', { class: 'signin' }, h('div', { class: 'signin-card', role: 'alertdialog', 'aria-labelledby': 'switch-h' },
        h('h1', { id: 'switch-h' }, t('switchTitle')), h('p', null, t('switchText', vars)), no, yes)));
      no.focus();
    });
  },

  /** sessionToken exchanges the sign-on session cookie for a console token, or returns ''. */
  async sessionToken() {
    try {
      const res = await fetch('/v1/session', { method: 'POST', credentials: 'same-origin' });
      if (!res.ok) return '';
      const body = await res.json();
      return this.validToken(body.token) ? body.token : '';
    } catch {
      return '';
    }
  },

  /** tenant is the tenant this console page is for (?tenant=), from the URL or the last token. */
  tenant() {
    return new URLSearchParams(location.search).get('tenant') || this.me?.tenant || '';
  },

  validToken(tok) {
    const c = claims(tok);
    return !!c && !!c.sub && (c.role === Role.Agent || c.role === Role.Supervisor) && !expired(tok, 0);
  },

  async showSignIn(error) {
    this.stopTimers();
    this.client?.stop();
    this.client = null;
    let sso = null;
    const tenant = this.tenant();
    if (tenant) {
      try {
        const res = await fetch('/v1/sso/' + encodeURIComponent(tenant));
        if (res.ok) sso = await res.json();
      } catch { /* no sign-on offered */ }
    }
    clear(this.root);
    const ta = h('textarea', { id: 'token', class: 'token-input', rows: '5', spellcheck: 'false', autocomplete: 'off', required: true,
      placeholder: 'eyJhbGciOi…' });
    const err = h('p', { class: 'error', role: 'alert' }, error || '');
    const form = h('form', { class: 'signin-card', onsubmit: (ev) => {
      ev.preventDefault();
      const tok = ta.value.trim();
      if (!this.validToken(tok)) {
        err.textContent = t('badToken');
        ta.focus();
        return;
      }
      localStorage.setItem(TOKEN_KEY, tok);
      this.signIn(tok);
    } },
    h('div', { class: 'logo', 'aria-hidden': 'true' }, icon('chat', 26)),
    h('h1', null, t('consoleTitle')),
    sso?.enabled ? h('a', { class: 'btn primary wide sso', id: 'sso', href: sso.login }, t('signInWith', { name: sso.name })) : null,
    sso?.enabled ? h('p', { class: 'muted small or' }, t('orToken')) : null,
    h('p', { class: 'muted' }, t('signInHelp')),
    h('label', { for: 'token' }, t('token')), ta, err,
    h('button', { class: sso?.enabled ? 'btn wide' : 'btn primary wide', type: 'submit' }, t('signIn')));
    this.root.append(h('main', { class: 'signin' }, form));
    (form.querySelector('#sso') || ta).focus();
  },

  async signOut() {
    localStorage.removeItem(TOKEN_KEY);
    if (this.sso) {
      // Ends the sign-on session; the socket closes with the page's client.
      try {
        await fetch('/v1/session/logout', { method: 'POST', credentials: 'same-origin' });
      } catch { /* the cookie expires by itself */ }
      const tenant = this.tenant();
      this.sso = false;
      this.token = '';
      history.replaceState(null, '', location.pathname + (tenant ? '?tenant=' + encodeURIComponent(tenant) : ''));
      await this.showSignIn(t('signedOut'));
      return;
    }
    location.reload();
  },

  stopTimers() {
    clearInterval(this.tickTimer);
    clearTimeout(this.renewTimer);
    this.tickTimer = 0;
    this.renewTimer = 0;
  },

  /** renew fetches a fresh console token from the sign-on session shortly before this one expires. */
  scheduleRenew() {
    clearTimeout(this.renewTimer);
    const exp = (claims(this.token)?.exp || 0) * 1000;
    const inMs = Math.max(5000, exp - Date.now() - 60000);
    this.renewTimer = setTimeout(async () => {
      const tok = await this.sessionToken();
      if (!tok) {
        this.sso = false;
        await this.showSignIn(t('sessionEnded'));
        return;
      }
      this.token = tok;
      this.scheduleRenew();
    }, inMs);
  },

  signIn(tok, sso) {
    this.token = tok;
    this.sso = sso;
    this.me = claims(tok);
    this.build();
    if (sso) this.scheduleRenew();
    this.client = new Client({
      base: location.origin,
      transport: new URLSearchParams(location.search).get('transport') || '',
      getToken: async (fresh) => {
        if (this.sso && (fresh || !this.validToken(this.token))) {
          const next = await this.sessionToken();
          if (next) return (this.token = next);
          this.sso = false;
          this.showSignIn(t('sessionEnded'));
          throw new Error('session ended');
        }
        if (fresh || !this.validToken(this.token)) {
          localStorage.removeItem(TOKEN_KEY);
          this.showSignIn(t('badToken'));
          throw new Error('token expired');
        }
        return this.token;
      },
      onFrame: (f) => this.onFrame(f),
      onState: (s) => this.renderConn(s),
    });
    this.convs = new Conversations({
      client: this.client,
      store: null,
      onChange: (conv, what, e) => this.onConvChange(conv, what, e),
    });
    this.client.start();
    this.tickTimer = setInterval(() => this.tick(), 1000);
  },
};
