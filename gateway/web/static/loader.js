/*! Frontdesk chat widget loader. Embed with:
 * <script src="https://gw.example.com/widget.js" data-tenant="demo" async></script>
 * Optional: data-gateway, data-color, data-greeting, data-lang (en|zh), data-token,
 * data-position (right|left), data-open, data-transport (sse), data-transcripts (offer the
 * transcript by email; the tenant's mail settings must allow it). window.FrontdeskToken may be a
 * token string or a function returning one (or a promise of one).
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || window.Frontdesk) return;
  var d = script.dataset;
  var src = new URL(script.src, location.href);
  var gateway = (d.gateway || src.origin).replace(/\/+$/, '');
  // The server replaces this with the versioned static path (/static/<hash>), so modules are
  // cached for a year and a deploy changes every URL at once.
  var staticBase = new URL('__FD_STATIC__', src).toString().replace(/\/+$/, '');
  var color = d.color && /^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(d.color) ? d.color : '#4f46e5';
  var hostToken = window.FrontdeskToken;
  var cfg = {
    gateway: gateway,
    tenant: d.tenant || '',
    color: color,
    greeting: d.greeting || '',
    lang: d.lang || '',
    token: d.token || (typeof hostToken === 'string' ? hostToken : ''),
    tokenFn: typeof hostToken === 'function' ? hostToken : null,
    staticBase: staticBase,
    position: d.position === 'left' ? 'left' : 'right',
    open: d.open === 'true' || d.open === '',
    transport: d.transport === 'sse' ? 'sse' : '',
    transcripts: d.transcripts === 'true' || d.transcripts === '',
  };
  if (!cfg.tenant) {
    console.error('Frontdesk: data-tenant is required on the widget script tag');
    return;
  }
  var queued = [];
  window.Frontdesk = {
    open: function () { queued.push('open'); },
    close: function () { queued.push('close'); },
  };
  import(staticBase + '/js/widget/widget.js').then(function (m) {
    var api = m.mount(cfg);
    window.Frontdesk = api;
    queued.forEach(function (name) { api[name](); });
  }, function (err) {
    console.error('Frontdesk: widget failed to load', err);
  });
})();
