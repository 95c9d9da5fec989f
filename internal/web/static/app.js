// PolyBot's page script: plain JavaScript of our own, no dependencies.
//
// Forms submit with fetch to the JSON API under /api/v1, sending the
// session's CSRF token (from <meta name="csrf-token">) in X-CSRF-Token. The
// API's field errors ({code, message, fields}) are shown next to each field:
// the element "<form id>-<field>-error" gets the message and the input
// "<form id>-<field>" gets aria-invalid. The dashboard follows the SSE stream
// /api/v1/events and redraws without reloading.
//
// Money stays exact: amounts arrive as decimal strings and are formatted
// with BigInt arithmetic. Plain numbers are used for pixel positions only.
(function () {
  'use strict';

  var doc = document;

  function $(sel, root) { return (root || doc).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || doc).querySelectorAll(sel)); }
  function byId(id) { return doc.getElementById(id); }

  // ---------------------------------------------------------------- API

  function csrfToken() {
    var m = $('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') : '';
  }

  function APIError(status, body) {
    body = body || {};
    this.status = status;
    this.code = body.code || 'error';
    this.message = body.message || 'Something went wrong (HTTP ' + status + ').';
    this.fields = body.fields || {};
  }

  async function api(method, path, body) {
    var headers = { 'Accept': 'application/json' };
    var token = csrfToken();
    if (token) { headers['X-CSRF-Token'] = token; }
    var init = { method: method, headers: headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    var res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new APIError(0, { code: 'network', message: 'Could not reach PolyBot. Check your connection and try again.' });
    }
    var text = await res.text();
    var data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (!res.ok) {
      if (res.status === 401 && token) {
        // The session ended (signed out elsewhere, or expired).
        location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
      }
      throw new APIError(res.status, data);
    }
    return data;
  }

  // ---------------------------------------------------------- decimals

  // micros parses a decimal string ("-12.5") into BigInt millionths.
  function micros(s) {
    s = String(s == null ? '0' : s).trim();
    var neg = s.charAt(0) === '-';
    if (neg || s.charAt(0) === '+') { s = s.slice(1); }
    var parts = s.split('.');
    var frac = ((parts[1] || '') + '000000').slice(0, 6);
    var v = BigInt(parts[0] || '0') * 1000000n + BigInt(frac);
    return neg ? -v : v;
  }

  // moneyMicros formats millionths as dollars and cents, half away from zero.
  function moneyMicros(m) {
    var neg = m < 0n;
    if (neg) { m = -m; }
    var cents = (m + 5000n) / 10000n;
    var c = String(cents % 100n);
    var s = group(String(cents / 100n)) + '.' + (c.length < 2 ? '0' + c : c);
    return neg && cents !== 0n ? '-' + s : s;
  }

  function group(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }

  function money(s) { return moneyMicros(micros(s)); }

  // usd puts the sign before the dollar sign: "-$0.40".
  function usdMicros(m) {
    var s = moneyMicros(m);
    return s.charAt(0) === '-' ? '-$' + s.slice(1) : '$' + s;
  }

  function usd(s) { return usdMicros(micros(s)); }

  // sizeFmt matches the server's size: "51", "1,103.12" (exact, from the
  // decimal string).
  function sizeFmt(s) {
    if (s === undefined || s === null) { return ''; }
    s = String(s);
    var neg = s.charAt(0) === '-';
    if (neg) { s = s.slice(1); }
    var parts = s.split('.');
    var ip = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    var fp = (parts[1] || '').replace(/0+$/, '');
    var out = fp ? ip + '.' + fp : ip;
    return neg && out !== '0' ? '-' + out : out;
  }

  function signClass(s) {
    var m = micros(s);
    return m > 0n ? 'pos' : (m < 0n ? 'neg' : 'zero');
  }

  // ------------------------------------------------------------ labels

  var strategyNames = {
    single_platform: 'Single-platform arbitrage',
    cross_platform: 'Cross-platform arbitrage',
    overlapping_arb: 'Overlapping arbitrage',
    news_arbitrage: 'News arbitrage',
    copy_trading: 'Copy trading',
    locked: 'Locked-in sets'
  };
  var platformNames = { polymarket: 'Polymarket', kalshi: 'Kalshi', alpaca: 'Alpaca', ibkr: 'Interactive Brokers' };
  var stateNames = { running: 'Running', stopped: 'Stopped', halted: 'Halted', refused: 'Refused', starting: 'Starting' };

  function modeLabel(m) { return m === 'dry_run' ? 'dry-run' : (m || ''); }
  function strategyLabel(s) {
    var i = String(s).indexOf('/');
    if (i >= 0) { return strategyLabel(s.slice(0, i)) + ' · ' + modeLabel(s.slice(i + 1)); }
    return strategyNames[s] || s;
  }
  function platformName(p) { return platformNames[p] || p; }
  function capitalize(s) { return s ? s.charAt(0).toUpperCase() + s.slice(1) : s; }
  function outcomeLabel(o) { return o === 1 || o === 'NO' ? 'NO' : 'YES'; }
  function sideLabel(s) { return s === 1 || s === 'SELL' ? 'SELL' : 'BUY'; }

  function pad(n) { return n < 10 ? '0' + n : String(n); }
  // fmtTime matches the server's format: UTC, to the second.
  function fmtTime(iso) {
    if (!iso) { return 'never'; }
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ''; }
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds()) + ' UTC';
  }

  var months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  // clock is the server's short format, "Nov 28, 12:19:05", in the
  // browser's time zone (the server renders UTC; the title keeps UTC).
  function clock(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ''; }
    return months[d.getMonth()] + ' ' + d.getDate() + ', ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  // initNavToggle folds the main nav behind the Menu button (shown on
  // phones only, by the stylesheet).
  function initNavToggle() {
    var btn = byId('nav-toggle');
    var nav = byId('main-nav');
    if (!btn || !nav) { return; }
    btn.addEventListener('click', function () {
      var open = !nav.classList.contains('is-open');
      nav.classList.toggle('is-open', open);
      btn.setAttribute('aria-expanded', String(open));
    });
  }

  // cardTable lets a table become cards on a phone: every cell is labelled
  // with its column's heading (data-label), now and whenever rows change.
  function cardTable(table) {
    var heads = $$('thead th', table).map(function (th) { return th.textContent.trim(); });
    if (!heads.length) { return; }
    table.classList.add('cards');
    var label = function () {
      $$('tbody tr', table).forEach(function (tr) {
        if (tr.classList.contains('empty-row')) { return; }
        Array.prototype.forEach.call(tr.children, function (td, i) {
          if (heads[i] && !td.hasAttribute('data-label')) { td.setAttribute('data-label', heads[i]); }
        });
      });
    };
    label();
    var body = $('tbody', table);
    if (body && window.MutationObserver) { new MutationObserver(label).observe(body, { childList: true }); }
  }

  function zoneName() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time'; } catch (e) { return 'local time'; }
  }

  // localTimes shows the server-rendered table times in the browser's time
  // zone, named in the column headers, with UTC on hover.
  function localTimes(root) {
    $$('td time[datetime]', root).forEach(function (t) {
      var iso = t.getAttribute('datetime');
      t.setAttribute('title', fmtTime(iso));
      t.textContent = clock(iso);
    });
    $$('.tz-name', root).forEach(function (el) { el.textContent = zoneName(); });
  }

  var labels = {};
  function instrumentLabel(inst) {
    if (!inst) { return ''; }
    var key = inst.token || inst.market;
    if (labels[key]) { return labels[key]; }
    if (inst.token) { return 'token ' + (inst.token.length > 10 ? '…' + inst.token.slice(-8) : inst.token); }
    return inst.market || '';
  }
  function instrumentKey(inst, mode) {
    var k = inst.token ? inst.venue + ':' + inst.token : inst.venue + ':' + inst.market + ':' + outcomeLabel(inst.outcome);
    return k + '/' + mode;
  }

  // ------------------------------------------------------------- toast

  var toastTimer = null;
  function toast(msg, kind) {
    var t = byId('toast');
    if (!t) { return; }
    t.textContent = msg;
    t.className = 'toast' + (kind ? ' toast-' + kind : '');
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { t.hidden = true; }, 5000);
  }

  // ------------------------------------------------------------ dialog

  // confirmAction asks in the page's <dialog>; it resolves true on confirm.
  function confirmAction(title, message, okLabel) {
    var dlg = byId('confirm-dialog');
    if (!dlg || typeof dlg.showModal !== 'function') {
      return Promise.resolve(window.confirm(message));
    }
    byId('confirm-title').textContent = title;
    byId('confirm-message').textContent = message;
    byId('confirm-ok').textContent = okLabel || 'Confirm';
    return new Promise(function (resolve) {
      dlg.returnValue = '';
      // A dialog's close event is dispatched after it closed: asked again
      // at once, this question would hear the previous answer's close
      // (the dialog open again) and resolve before the user answers.
      function onClose() {
        if (dlg.open) {
          dlg.addEventListener('close', onClose, { once: true });
          return;
        }
        resolve(dlg.returnValue === 'ok');
      }
      dlg.addEventListener('close', onClose, { once: true });
      dlg.showModal();
      byId('confirm-cancel').focus();
    });
  }

  // ------------------------------------------------------------- forms

  function fieldInput(form, name) {
    return byId(form.id + '-' + name);
  }

  function fieldLabel(form, name) {
    var input = byId(form.id + '-' + name);
    var text = '';
    if (input && input.tagName === 'FIELDSET') {
      var lg = $('legend', input);
      text = lg ? lg.textContent : '';
    } else if (input && input.id) {
      var lb = $('label[for="' + input.id + '"]');
      if (lb && lb.firstChild) { text = lb.firstChild.textContent; }
    }
    text = text.trim();
    return text || name.replace(/_/g, ' ');
  }

  function clearErrors(form) {
    $$('[data-error-for]', form).forEach(function (el) { el.textContent = ''; });
    $$('[aria-invalid]', form).forEach(function (el) { el.removeAttribute('aria-invalid'); });
    var fe = byId(form.id + '-error');
    if (fe) { fe.textContent = ''; }
  }

  // showErrors puts each of the API's field errors next to its field.
  function showErrors(form, err) {
    clearErrors(form);
    var fields = err.fields || {};
    var names = Object.keys(fields);
    var unmatched = [];
    var first = null;
    names.forEach(function (name) {
      var slot = byId(form.id + '-' + name + '-error');
      if (!slot) {
        unmatched.push(name + ' ' + fields[name]);
        return;
      }
      // A field may word its error itself (data-message); otherwise the
      // API's message follows the field's label.
      slot.textContent = slot.dataset.message || fieldMessage(fieldLabel(form, name), fields[name]);
      var input = fieldInput(form, name);
      if (input) {
        var det = input.closest('details');
        if (det) { det.open = true; }
        input.setAttribute('aria-invalid', 'true');
        if (!first) { first = input.tagName === 'FIELDSET' ? $('input', input) : input; }
      }
    });
    var fe = byId(form.id + '-error');
    if (fe) {
      if (names.length && !unmatched.length) {
        fe.textContent = names.length === 1 ? 'Please correct the highlighted field.' : 'Please correct the ' + names.length + ' highlighted fields.';
      } else {
        fe.textContent = capitalize(err.message) + (unmatched.length ? ' (' + unmatched.join('; ') + ')' : '');
      }
    }
    if (first && typeof first.focus === 'function') { first.focus(); }
  }

  // fieldMessage words a field error: a full sentence from the API (it
  // starts with a capital) stands alone; a fragment follows the label.
  function fieldMessage(label, msg) {
    msg = String(msg || '');
    if (/^[A-Z]/.test(msg)) { return msg; }
    return label + ' ' + msg + '.';
  }

  function jsonEqual(a, b) {
    try { return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b)); } catch (e) { return a.trim() === b.trim(); }
  }

  // formBody builds the JSON body from the inputs' data-type. With
  // data-changed-only, only fields that differ from data-initial are sent.
  function formBody(form) {
    var changedOnly = form.dataset.changedOnly === 'true';
    var body = {};
    var lists = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.dataset.ignore === 'true' || el.type === 'submit' || el.type === 'button' || el.type === 'reset') { return; }
      var type = el.dataset.type || 'string';
      var initial = el.dataset.initial;
      var value;
      var changed = true;
      switch (type) {
        case 'bool':
          value = el.checked;
          changed = initial === undefined || String(el.checked) !== initial;
          break;
        case 'bool-hidden':
          value = el.value === 'true';
          break;
        case 'int':
          value = el.value.trim() === '' ? el.value : Number(el.value);
          if (typeof value === 'number' && !Number.isInteger(value)) { value = el.value; } // the API explains
          break;
        case 'list':
          var l = lists[el.name] || (lists[el.name] = { values: [], changed: false });
          if (el.checked) { l.values.push(el.value); }
          if (initial !== undefined && String(el.checked) !== initial) { l.changed = true; }
          return;
        case 'decimal':
        case 'text':
          value = el.value.trim();
          changed = initial === undefined || value !== initial;
          break;
        case 'json':
          var raw = el.value.trim();
          try { value = JSON.parse(raw); } catch (e) { value = raw; } // the API explains what is wrong
          changed = initial === undefined || !jsonEqual(raw, initial);
          break;
        default:
          if (el.type === 'radio' || el.type === 'checkbox') {
            if (!el.checked) { return; }
          }
          value = el.value;
      }
      if (changedOnly && !changed) { return; }
      body[el.name] = value;
    });
    Object.keys(lists).forEach(function (name) {
      if (!changedOnly || lists[name].changed) { body[name] = lists[name].values; }
    });
    return body;
  }

  // markSaved makes the current values the new baseline of a changed-only form.
  function markSaved(form) {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.dataset.initial === undefined) { return; }
      var type = el.dataset.type;
      if (type === 'bool' || type === 'list') {
        el.dataset.initial = String(el.checked);
        el.defaultChecked = el.checked;
      } else {
        el.dataset.initial = el.value.trim();
        el.defaultValue = el.value;
      }
    });
  }

  function setBusy(form, busy) {
    $$('button[type="submit"]', form).forEach(function (b) {
      b.disabled = busy;
      if (busy) { b.setAttribute('aria-busy', 'true'); } else { b.removeAttribute('aria-busy'); }
    });
  }

  function localPath(p) {
    return typeof p === 'string' && p.charAt(0) === '/' && p.charAt(1) !== '/' && p.charAt(1) !== '\\';
  }

  // Per-form steps run before (confirm) and after (then) a successful call.
  var formHooks = {
    'config-form': {
      confirm: function (body) {
        if (body.dry_run === false) {
          return confirmAction('Switch to live trading?', 'Your bot will send real orders to the venues with your live keys, within your limits. You can switch back to dry-run at any time.', 'Trade live');
        }
        return Promise.resolve(true);
      },
      then: configSaved
    },
    // Onboarding's last step: the config is saved, then onboarding is
    // marked done (and the form's data-next opens the dashboard).
    'initial-config-form': {
      then: function () {
        return api('PATCH', '/api/v1/profile', { onboarding_completed: true });
      }
    },
    'token-form': {
      then: function (form, resp) {
        form.reset();
        var once = byId('token-once');
        var val = byId('token-once-value');
        val.value = resp.token;
        once.hidden = false;
        val.focus();
        val.select();
        addTokenRow(resp.api_token);
      }
    },
    'hook-form': {
      then: function (form, resp) {
        form.reset();
        var url = location.origin + resp.hook.url;
        byId('hook-once-secret').value = resp.secret;
        byId('hook-once-curl').textContent = hookCurl(url, resp.secret);
        byId('hook-once').hidden = false;
        byId('hook-once-secret').focus();
        byId('hook-once-secret').select();
        addHookRow(resp.hook);
      }
    },
    'feed-form': {
      then: function (form, resp) {
        form.reset();
        addFeedRow(resp);
        toast('Feed added: PolyBot polls it every ' + resp.every_seconds + ' seconds.', 'ok');
      }
    },
    'password-form': {
      then: function (form, resp) {
        form.reset();
        var n = resp && resp.other_sessions_signed_out || 0;
        formStatus(form, 'Password changed.' + (n ? ' ' + n + (n === 1 ? ' other session was' : ' other sessions were') + ' signed out.' : ''), 'saved');
        $$('.session-row[data-current="false"]').forEach(function (row) { row.remove(); });
      }
    },
    'halt-form': {
      confirm: function (body) {
        if (body.state && body.state !== 'active') {
          return confirmAction('Change trading for every user?', body.state === 'halted' ? 'Halting stops every new order on the whole platform.' : 'Reducing-only lets bots close positions but open none, on the whole platform.', 'Apply to everyone');
        }
        return Promise.resolve(true);
      },
      then: function (form, resp) {
        var b = byId('global-halt-state');
        if (b) {
          b.dataset.state = resp.state;
          b.textContent = { active: 'Active', reducing_only: 'Reducing only', halted: 'Halted' }[resp.state] || resp.state;
        }
        var ks = byId('kill-switch');
        if (ks) { ks.dataset.state = resp.state; }
        toast('Global trading state: ' + b.textContent + '.', 'ok');
      }
    }
  };

  async function submitAPIForm(form) {
    var spec = (form.dataset.api || '').split(' ');
    var method = spec[0];
    var path = spec[1];
    var body = formBody(form);
    var hooks = formHooks[form.id] || {};
    clearErrors(form);
    if (form.dataset.changedOnly === 'true' && Object.keys(body).length === 0) {
      formStatus(form, 'Nothing to save: no field has changed.', 'idle');
      return;
    }
    if (hooks.confirm && !(await hooks.confirm(body))) { return; }
    setBusy(form, true);
    var resp;
    try {
      resp = await api(method, path, body);
    } catch (err) {
      setBusy(form, false);
      showErrors(form, err);
      formStatus(form, '', 'error');
      return;
    }
    setBusy(form, false);
    if (hooks.then) {
      try {
        await hooks.then(form, resp, body);
      } catch (err) {
        showErrors(form, err);
        return;
      }
    }
    var next = form.dataset.next;
    if (next && localPath(next)) { location.assign(next); }
  }

  function formStatus(form, msg, state) {
    var st = byId(form.id.replace(/-form$/, '') + '-status');
    if (st) {
      st.textContent = msg;
      st.dataset.state = state;
    }
  }

  async function configSaved(form, cfg) {
    markSaved(form);
    var upd = byId('config-updated');
    if (upd && cfg.updated_at) {
      upd.setAttribute('datetime', cfg.updated_at);
      upd.textContent = fmtTime(cfg.updated_at);
    }
    formStatus(form, 'Saved. Checking that your bot picked it up…', 'saved');
    try {
      var bot = await api('GET', '/api/v1/bot');
      var applied = bot.config_updated_at && new Date(bot.config_updated_at).getTime() >= new Date(cfg.updated_at).getTime();
      if (applied) {
        formStatus(form, 'Saved and applied: your running bot uses the new settings.', 'applied');
      } else if (bot.state === 'stopped') {
        formStatus(form, 'Saved. Your bot is stopped; it will use these settings when it starts.', 'saved');
      } else {
        formStatus(form, 'Saved. Your bot picks the new settings up within seconds.', 'saved');
      }
    } catch (err) {
      formStatus(form, 'Saved.', 'saved');
    }
  }

  // ---------------------------------------------------------- API keys

  var secretFields = ['api_key', 'api_secret', 'private_key', 'passphrase'];

  function slotFor(platform, paper) {
    return byId('key-' + platform + '-' + (paper ? 'paper' : 'live'));
  }

  function updateCardState(platform) {
    var badge = byId('key-card-' + platform + '-state');
    if (!badge) { return; }
    var stored = false;
    var valid = false;
    $$('.key-slot', byId('key-slots-' + platform)).forEach(function (s) {
      if (s.dataset.stored === 'true') {
        stored = true;
        if ($('[data-key="status"]', s).dataset.status === 'valid') { valid = true; }
      }
    });
    badge.dataset.state = valid ? 'valid' : (stored ? 'stored' : 'none');
    badge.textContent = valid ? 'Connected' : (stored ? 'Stored' : 'Not connected');
  }

  function fillSlot(meta, problems) {
    var slot = slotFor(meta.platform, meta.is_paper);
    if (!slot) { return; }
    slot.hidden = false;
    slot.dataset.stored = 'true';
    var st = $('[data-key="status"]', slot);
    st.dataset.status = meta.validation_status;
    st.textContent = capitalize(meta.validation_status);
    $('[data-key="fingerprint"]', slot).textContent = meta.fingerprint;
    $('[data-key="validated"]', slot).textContent = fmtTime(meta.last_validated_at);
    $('[data-key="fields"]', slot).textContent = (meta.fields || []).join(', ');
    var pr = $('[data-key="problems"]', slot);
    var msgs = Object.keys(problems || {}).map(function (k) { return fieldMessage(k.replace(/_/g, ' '), problems[k]); });
    pr.textContent = msgs.length ? 'Not valid: ' + msgs.join(' ') : '';
    updateCardState(meta.platform);
  }

  function clearSecrets(form) {
    secretFields.forEach(function (name) {
      var el = form.elements[name];
      if (el) { el.value = ''; el.defaultValue = ''; }
    });
  }

  async function submitKeyForm(form) {
    var platform = form.dataset.platform;
    var modeInput = $('input[name="is_paper"]:checked', form);
    var paper = !modeInput || modeInput.value === 'true';
    var body = { platform: platform, is_paper: paper };
    secretFields.forEach(function (name) {
      var el = form.elements[name];
      if (el && el.value.trim() !== '') { body[name] = el.value; }
    });
    clearErrors(form);
    setBusy(form, true);
    var meta;
    try {
      meta = await api('POST', '/api/v1/secrets', body);
    } catch (err) {
      setBusy(form, false);
      showErrors(form, err);
      return;
    }
    body = null;
    fillSlot(meta);
    try {
      var v = await api('POST', '/api/v1/secrets/' + encodeURIComponent(platform) + '/validate?paper=' + paper);
      fillSlot(v.secret, v.fields);
      if (v.valid) {
        // Stored and valid: the key leaves the page for good. (A key the
        // venue refused stays in the form, so the user can correct it.)
        clearSecrets(form);
        var wrap = byId('key-form-wrap-' + platform);
        if (wrap) {
          wrap.open = false;
          $('summary', wrap).textContent = 'Add or replace a key';
        }
        toast(platformName(platform) + ' ' + (paper ? 'paper' : 'live') + ' key saved and valid.', 'ok');
      } else {
        showErrors(form, { message: 'The key was saved but is not valid. Correct it and save again to replace it.', fields: v.fields });
      }
    } catch (err) {
      showErrors(form, err);
    }
    setBusy(form, false);
  }

  // generateKey asks the server for simulator keys (serve --sim only),
  // then validates them like a saved key.
  async function generateKey(btn) {
    var platform = btn.dataset.platform;
    var errEl = byId('sim-keys-' + platform + '-error');
    if (errEl) { errEl.textContent = ''; }
    var form = byId('key-form-' + platform);
    var modeInput = form && $('input[name="is_paper"]:checked', form);
    var paper = !modeInput || modeInput.value === 'true';
    btn.disabled = true;
    btn.setAttribute('aria-busy', 'true');
    try {
      var meta = await api('POST', '/api/v1/secrets/' + encodeURIComponent(platform) + '/simulator', { is_paper: paper });
      fillSlot(meta);
      var v = await api('POST', '/api/v1/secrets/' + encodeURIComponent(platform) + '/validate?paper=' + paper);
      fillSlot(v.secret, v.fields);
      if (form) { clearErrors(form); }
      if (v.valid) {
        var wrap = byId('key-form-wrap-' + platform);
        if (wrap) {
          wrap.open = false;
          $('summary', wrap).textContent = 'Add or replace a key';
        }
        toast(platformName(platform) + ' simulator key generated and valid.', 'ok');
      } else if (errEl) {
        errEl.textContent = 'The simulator key was stored but did not validate. Try again.';
      }
    } catch (err) {
      if (errEl) { errEl.textContent = err.message; }
    }
    btn.disabled = false;
    btn.removeAttribute('aria-busy');
  }

  async function keyAction(btn) {
    var platform = btn.dataset.platform;
    var paper = btn.dataset.paper === 'true';
    var mode = paper ? 'paper' : 'live';
    var action = btn.dataset.action;
    var slot = slotFor(platform, paper);
    if (action === 'rotate-key') {
      var wrap = byId('key-form-wrap-' + platform);
      if (wrap) { wrap.open = true; }
      var radio = byId('key-form-' + platform + '-paper-' + paper);
      if (radio) { radio.checked = true; }
      var firstInput = $('#key-form-' + platform + ' .field input, #key-form-' + platform + ' .field textarea');
      if (firstInput) { firstInput.focus(); }
      toast('Enter the new ' + mode + ' key for ' + platform + '; saving it replaces the old one.');
      return;
    }
    if (action === 'validate-key') {
      btn.disabled = true;
      try {
        var v = await api('POST', '/api/v1/secrets/' + encodeURIComponent(platform) + '/validate?paper=' + paper);
        fillSlot(v.secret, v.fields);
        toast(v.valid ? 'The key is valid.' : 'The key is not valid.', v.valid ? 'ok' : 'error');
      } catch (err) {
        toast(err.message, 'error');
      }
      btn.disabled = false;
      return;
    }
    if (action === 'delete-key') {
      var ok = await confirmAction('Delete this key?', 'The ' + mode + ' key for ' + platformName(platform) + ' will be deleted. Your bot stops using it at once. This cannot be undone.', 'Delete key');
      if (!ok) { return; }
      try {
        await api('DELETE', '/api/v1/secrets/' + encodeURIComponent(platform) + '?paper=' + paper);
      } catch (err) {
        toast(err.message, 'error');
        return;
      }
      if (slot) {
        slot.hidden = true;
        slot.dataset.stored = 'false';
        $$('[data-key]', slot).forEach(function (el) { el.textContent = ''; });
        $('[data-key="status"]', slot).dataset.status = '';
      }
      updateCardState(platform);
      toast('Key deleted.', 'ok');
    }
  }

  // ---------------------------------------------------------- dashboard

  function setText(id, text) {
    var el = byId(id);
    if (el) { el.textContent = text; }
    return el;
  }

  function renderStatus(st) {
    if (!st || !st.state) { return; }
    var badge = setText('bot-state', stateNames[st.state] || capitalize(st.state));
    if (badge) { badge.dataset.state = st.state; }
    setText('bot-reason', st.reason || '');
    var mode = setText('bot-mode', modeLabel(st.mode));
    if (mode) { mode.dataset.mode = st.mode || ''; }
    setText('bot-strategies', (st.strategies || []).map(strategyLabel).join(', ') || 'none');
    setText('bot-platforms', (st.platforms || []).map(platformName).join(', ') || 'none');
    var started = byId('bot-started');
    if (started) {
      started.textContent = st.started_at ? fmtTime(st.started_at) : '—';
    }
    var c = st.counters || {};
    $$('#bot-counters [data-counter]').forEach(function (el) {
      var k = el.dataset.counter;
      if (c[k] !== undefined) { el.textContent = String(c[k]); }
    });
    setText('bot-error', st.last_error || '');
    if (st.today) { setText('bot-today', st.today.summary); }
    var running = st.state !== 'stopped';
    var start = byId('bot-start');
    var stop = byId('bot-stop');
    if (start) { start.disabled = running; }
    if (stop) { stop.disabled = !running; }
  }

  function cell(text, cls) {
    var td = doc.createElement('td');
    td.textContent = text;
    if (cls) { td.className = cls; }
    return td;
  }

  function timeCell(iso) {
    var td = doc.createElement('td');
    td.className = 'nowrap';
    var t = doc.createElement('time');
    t.setAttribute('datetime', iso);
    t.setAttribute('title', fmtTime(iso));
    t.textContent = clock(iso);
    td.appendChild(t);
    return td;
  }

  function clearEmpty(tbody) {
    $$('.empty-row', tbody).forEach(function (r) { r.remove(); });
  }

  function tradeRow(f) {
    var tr = doc.createElement('tr');
    tr.className = 'trade-row';
    tr.dataset.tradeId = f.trade_id;
    tr.appendChild(timeCell(f.time));
    tr.appendChild(cell(instrumentLabel(f.instrument)));
    tr.appendChild(cell(platformName(f.venue), 'opt'));
    tr.appendChild(cell(sideLabel(f.side) + ' ' + outcomeLabel(f.instrument && f.instrument.outcome), 'nowrap'));
    tr.appendChild(cell(f.price, 'num'));
    tr.appendChild(cell(sizeFmt(f.size), 'num'));
    tr.appendChild(cell(usd(f.fee), 'num opt'));
    tr.appendChild(cell(strategyLabel(f.strategy), 'opt'));
    tr.appendChild(cell(modeLabel(f.mode), 'opt'));
    return tr;
  }

  function addTrade(f) {
    var tbody = $('#trades tbody');
    if (!tbody || !f || !f.trade_id) { return; }
    if ($$('tr.trade-row', tbody).some(function (r) { return r.dataset.tradeId === f.trade_id; })) { return; }
    clearEmpty(tbody);
    var tr = tradeRow(f);
    tr.classList.add('is-new');
    tbody.insertBefore(tr, tbody.firstChild);
    $$('tr.trade-row', tbody).slice(50).forEach(function (r) { r.remove(); });
  }

  // renderTrades shows GET /api/v1/trades's page, and points Older trades
  // at the Trades page after its last row.
  function renderTrades(r) {
    var list = r && r.trades;
    var tbody = $('#trades tbody');
    if (!tbody || !list) { return; }
    var older = byId('trades-older');
    if (older) {
      older.hidden = !r.next_before;
      if (r.next_before) { older.setAttribute('href', '/trades?before=' + encodeURIComponent(r.next_before)); }
    }
    if (!list.length) { return; }
    tbody.textContent = '';
    list.forEach(function (f) { tbody.appendChild(tradeRow(f)); });
  }

  // legName matches the server's Labeler.LegName: the leg's label without
  // its set's name in front, its outcome and its venue.
  function legName(set, inst) {
    var label = instrumentLabel(inst);
    if (set && label.indexOf(set + ': ') === 0) { label = label.slice(set.length + 2); }
    if (label === set) { return platformName(inst.venue) + ' ' + outcomeLabel(inst.outcome); }
    return platformName(inst.venue) + ' ' + label + ' ' + outcomeLabel(inst.outcome);
  }
  var setKindNames = {market: 'YES + NO', pair: 'Matched pair', rebalance_long: 'Every outcome YES',
    rebalance_short: 'Every outcome NO', implication: 'Implication'};
  function oppMarket(o) {
    if (o.strategy === 'overlapping_arb') { return labels[o.pair_id] || o.pair_id || ''; }
    return o.legs && o.legs.length ? instrumentLabel(o.legs[0].instrument) : '';
  }
  function oppLegs(o) {
    var set = oppMarket(o);
    return (o.legs || []).map(function (l) {
      if (o.strategy === 'overlapping_arb') { return legName(set, l.instrument) + ' @ ' + l.price; }
      return platformName(l.instrument.venue) + ' ' + outcomeLabel(l.instrument.outcome) + ' @ ' + l.price;
    }).join(' + ');
  }

  function addOpportunity(o) {
    var tbody = $('#opportunities tbody');
    if (!tbody || !o || !o.id) { return; }
    clearEmpty(tbody);
    var tr = doc.createElement('tr');
    tr.className = 'opportunity-row is-new';
    tr.dataset.opportunityId = o.id;
    tr.appendChild(timeCell(o.detected_at));
    tr.appendChild(cell(oppMarket(o)));
    tr.appendChild(cell(strategyLabel(o.strategy), 'opt'));
    tr.appendChild(cell(oppLegs(o)));
    tr.appendChild(cell(sizeFmt(o.size), 'num opt'));
    tr.appendChild(cell(o.cost, 'num opt'));
    tr.appendChild(cell(o.net_edge, 'num opt'));
    tr.appendChild(cell(money(o.profit_pct) + '%', 'num pos'));
    tbody.insertBefore(tr, tbody.firstChild);
    $$('tr.opportunity-row', tbody).slice(20).forEach(function (r) { r.remove(); });
  }

  function renderPositions(list) {
    var tbody = $('#positions tbody');
    if (!tbody || !list) { return; }
    tbody.textContent = '';
    if (!list.length) {
      var tr = doc.createElement('tr');
      tr.className = 'empty-row';
      var td = cell('No open positions.');
      td.colSpan = 9;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    list.forEach(function (p) {
      var tr = doc.createElement('tr');
      tr.className = 'position-row';
      tr.dataset.instrument = instrumentKey(p.instrument, p.mode);
      tr.appendChild(cell(instrumentLabel(p.instrument)));
      tr.appendChild(cell(platformName(p.instrument.venue), 'opt'));
      tr.appendChild(cell(outcomeLabel(p.instrument.outcome)));
      tr.appendChild(cell(modeLabel(p.mode), 'opt'));
      tr.appendChild(cell(sizeFmt(p.size), 'num'));
      tr.appendChild(cell(sizeFmt(p.in_sets), 'num'));
      tr.appendChild(cell(p.avg_price, 'num opt'));
      tr.appendChild(cell(p.mark != null ? p.mark : '—', 'num'));
      tr.appendChild(p.unrealized_pnl != null ? cell(usd(p.unrealized_pnl), 'num ' + signClass(p.unrealized_pnl)) : cell('—', 'num'));
      tbody.appendChild(tr);
    });
  }

  function renderPnL(p) {
    if (!p) { return; }
    Object.keys(p.net || {}).forEach(function (mode) {
      var el = byId('pnl-net-' + mode);
      if (el) {
        el.textContent = usd(p.net[mode].total);
        el.className = 'num ' + signClass(p.net[mode].total);
      }
    });
    Object.keys(p.locked_total || {}).forEach(function (mode) {
      var el = byId('pnl-locked-' + mode);
      if (el) {
        el.textContent = usd(p.locked_total[mode]);
        el.className = 'num ' + signClass(p.locked_total[mode]);
      }
    });
    var lbody = $('#pnl-locked tbody');
    if (lbody && p.locked) {
      lbody.textContent = '';
      if (!p.locked.length) {
        var er = doc.createElement('tr');
        er.className = 'empty-row';
        var ec = cell('No complete sets held.');
        ec.colSpan = 6;
        er.appendChild(ec);
        lbody.appendChild(er);
      }
      p.locked.forEach(function (l) {
        var tr = doc.createElement('tr');
        tr.className = 'locked-row';
        var name = labels[l.market] || (l.market.length > 20 ? 'token …' + l.market.slice(-8) : l.market);
        var nc = cell(name);
        var sub = doc.createElement('div');
        sub.className = 'muted small set-legs';
        sub.textContent = (setKindNames[l.kind] || l.kind) + ': ' + (l.legs || []).map(function (i) { return legName(name, i); }).join(' + ');
        nc.appendChild(sub);
        tr.appendChild(nc);
        tr.appendChild(cell(modeLabel(l.mode)));
        tr.appendChild(cell(sizeFmt(l.sets), 'num'));
        tr.appendChild(cell(l.payout, 'num'));
        tr.appendChild(cell(l.cost, 'num'));
        tr.appendChild(cell(usd(l.edge), 'num ' + signClass(l.edge)));
        lbody.appendChild(tr);
      });
    }
    var tbody = $('#pnl-by-strategy tbody');
    if (tbody && p.by_strategy && p.by_strategy.length) {
      tbody.textContent = '';
      p.by_strategy.forEach(function (s) {
        var tr = doc.createElement('tr');
        tr.dataset.strategy = s.strategy + '/' + s.mode;
        tr.appendChild(cell(strategyLabel(s.strategy)));
        tr.appendChild(cell(modeLabel(s.mode)));
        tr.appendChild(cell(usd(s.realized), 'num ' + signClass(s.realized)));
        tr.appendChild(cell(usd(s.fees), 'num'));
        tr.appendChild(cell(String(s.fills), 'num opt'));
        tbody.appendChild(tr);
      });
    }
    chartState.series = p.series || [];
    drawChart();
  }

  var SVG = 'http://www.w3.org/2000/svg';
  function svgEl(name, attrs, text) {
    var el = doc.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined) { el.textContent = text; }
    return el;
  }

  // ------------------------------------------------------------- chart
  //
  // drawChart redraws the P&L chart from /api/v1/pnl's series with the
  // server's rules (internal/web/chart.go): step series that hold each
  // total until the next point, money ticks at round whole-cent steps,
  // time ticks at round steps (here in the browser's time zone), exact
  // BigInt arithmetic for values and positions in integer hundredths. At
  // the server's width and in UTC both draw the same picture.

  var chartState = { series: null, range: 'all', hidden: {}, geo: null, at: -1 };
  var rangeSpans = { '1h': 3600000, '1d': 86400000, '7d': 604800000, all: 0 };
  var timeSteps = [1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5, 1728e5, 6048e5];
  var TICK_SPACING = 120;
  var Y_INTERVALS = 4n;

  // niceMoneyStep: the smallest of $0.01, $0.02, $0.05, $0.10, $0.20,
  // $0.25, $0.50, $1 … (BigInt micros) cutting span into at most n.
  function niceMoneyStep(span, n) {
    var need = (span + n - 1n) / n;
    for (var p = 10000n; p < 100000000000000000n; p *= 10n) {
      var ms = [10n, 20n, 25n, 50n];
      for (var i = 0; i < ms.length; i++) {
        if (ms[i] === 25n && p === 10000n) { continue; }
        var c = p * ms[i] / 10n;
        if (c >= need) { return c; }
      }
    }
    return 100000000000000000n;
  }

  function niceTimeStep(span, n) {
    var need = Math.ceil(span / n);
    for (var i = 0; i < timeSteps.length; i++) {
      if (timeSteps[i] >= need) { return timeSteps[i]; }
    }
    var s = timeSteps[timeSteps.length - 1];
    while (s < need) { s *= 2; }
    return s;
  }

  function floorStep(v, step) {
    var r = v % step;
    if (r < 0n) { r += step; }
    return v - r;
  }
  function ceilStep(v, step) {
    var f = floorStep(v, step);
    return f === v ? f : f + step;
  }

  // hundredths formats BigInt n/100 with two decimals.
  function hundredths(n) {
    var neg = n < 0n;
    if (neg) { n = -n; }
    var c = String(n % 100n);
    return (neg ? '-' : '') + String(n / 100n) + '.' + (c.length < 2 ? '0' + c : c);
  }

  // timeLabel formats an x tick in the browser's time zone.
  function timeLabel(ms, step, span) {
    var d = new Date(ms);
    var hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
    if (step >= 86400000) { return months[d.getMonth()] + ' ' + d.getDate(); }
    if (span >= 86400000) { return months[d.getMonth()] + ' ' + d.getDate() + ' ' + hm; }
    if (step < 60000) { return hm + ':' + pad(d.getSeconds()); }
    return hm;
  }

  // chartWidth is the width to draw at: the chart's own width on screen, so
  // text stays legible on a phone (the server draws at 720 units).
  function chartWidth(svg) {
    var w = Math.round(svg.getBoundingClientRect().width);
    return w >= 280 ? w : +svg.dataset.width;
  }

  // seriesValue is a series' total at ms: its last point at or before ms.
  function seriesValue(line, ms) {
    var v = line.start;
    for (var i = 0; i < line.pts.length && line.pts[i].t <= ms; i++) { v = line.pts[i].v; }
    return v;
  }

  function drawChart() {
    var svg = byId('pnl-chart');
    var series = chartState.series;
    if (!svg || !series || !series.length) { return; }
    var ds = svg.dataset;
    var width = chartWidth(svg);
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + ds.height);
    var left = +ds.left, right = width - (+ds.width - +ds.right), top = +ds.top, bottom = +ds.bottom, height = +ds.height;
    var plotW = right - left, plotH = bottom - top;

    var keys = [];
    var lines = {};
    var first = Infinity, last = -Infinity;
    series.forEach(function (p) {
      var t = Date.parse(p.time);
      if (t < first) { first = t; }
      if (t > last) { last = t; }
    });
    var ms1 = Math.max(last, Date.now());
    var span = rangeSpans[chartState.range] || 0;
    var ms0 = span ? ms1 - span : first;
    if (ms1 <= ms0) { ms1 = ms0 + 60000; }
    series.forEach(function (p) {
      var l = lines[p.strategy];
      if (!l) {
        l = lines[p.strategy] = { start: 0n, pts: [] };
        keys.push(p.strategy);
      }
      var t = Date.parse(p.time);
      if (t < ms0) { l.start = micros(p.total); } else { l.pts.push({ t: t, v: micros(p.total) }); }
    });
    keys.sort();
    var shown = keys.filter(function (k) { return !chartState.hidden[k]; });
    var lo = 0n, hi = 0n;
    shown.forEach(function (k) {
      var l = lines[k];
      [l.start].concat(l.pts.map(function (p) { return p.v; })).forEach(function (v) {
        if (v < lo) { lo = v; }
        if (v > hi) { hi = v; }
      });
    });
    if (lo === hi) { hi = lo + 1000000n; }
    var step = niceMoneyStep(hi - lo, Y_INTERVALS);
    lo = floorStep(lo, step);
    hi = ceilStep(hi, step);
    var vspan = hi - lo;
    var y = function (v) { return BigInt(top) * 100n + (hi - v) * BigInt(plotH * 100) / vspan; };
    var dt = BigInt(ms1 - ms0);
    var x = function (ms) { return BigInt(left) * 100n + BigInt(ms - ms0) * BigInt(plotW * 100) / dt; };

    var grid = $('.chart-grid', svg);
    var xaxis = $('.chart-x', svg);
    var lineGroup = $('.chart-lines', svg);
    grid.textContent = '';
    xaxis.textContent = '';
    lineGroup.textContent = '';
    var empty = $('.chart-empty', svg);
    if (empty) { empty.remove(); }
    for (var v = hi; v >= lo; v -= step) {
      var yy = hundredths(y(v));
      grid.appendChild(svgEl('line', { 'class': 'gridline' + (v === 0n ? ' zero' : ''), x1: left, x2: right, y1: yy, y2: yy }));
      grid.appendChild(svgEl('text', { 'class': 'tick tick-y', x: left - 8, y: yy }, usdMicros(v)));
    }
    var n = Math.max(3, Math.floor(plotW / TICK_SPACING));
    var tstep = niceTimeStep(ms1 - ms0, n);
    var off = -new Date(ms0).getTimezoneOffset() * 60000;
    for (var ms = Math.ceil((ms0 + off) / tstep) * tstep - off; ms <= ms1; ms += tstep) {
      var px = x(ms);
      var anchor = px > BigInt(right - TICK_SPACING / 3) * 100n ? 'end' : (px < BigInt(left + TICK_SPACING / 3) * 100n ? 'start' : 'middle');
      xaxis.appendChild(svgEl('line', { 'class': 'tickmark', x1: hundredths(px), x2: hundredths(px), y1: bottom, y2: bottom + 5 }));
      xaxis.appendChild(svgEl('text', { 'class': 'tick tick-x anchor-' + anchor, x: hundredths(px), y: bottom + 20 }, timeLabel(ms, tstep, ms1 - ms0)));
    }
    var xt = byId('pnl-chart-xtitle');
    if (xt) {
      xt.setAttribute('x', String(Math.floor((left + right) / 2)));
      xt.setAttribute('y', String(height - 6));
      xt.textContent = 'Time (' + zoneName() + ')';
    }

    var legend = byId('pnl-legend');
    if (legend) { legend.textContent = ''; }
    var summary = [];
    var drawn = { flat: [], moving: [] };
    keys.forEach(function (k, i) {
      var l = lines[k];
      l.cls = 'series-' + (i % 6);
      var cur = l.start;
      var flat = true;
      var pts = [hundredths(x(ms0)) + ',' + hundredths(y(cur))];
      l.pts.forEach(function (p) {
        if (p.v === cur) { return; }
        flat = false;
        var px = hundredths(x(p.t));
        pts.push(px + ',' + hundredths(y(cur)));
        cur = p.v;
        pts.push(px + ',' + hundredths(y(cur)));
      });
      pts.push(hundredths(x(ms1)) + ',' + hundredths(y(cur)));
      var hidden = !!chartState.hidden[k];
      if (!hidden) {
        drawn[flat ? 'flat' : 'moving'].push(svgEl('polyline', { 'class': 'line ' + (flat ? 'flat ' : '') + l.cls, 'data-strategy': k, points: pts.join(' ') }));
        summary.push(strategyLabel(k) + ': ' + usdMicros(cur));
      }
      if (legend) {
        var li = doc.createElement('li');
        li.dataset.strategy = k;
        var b = doc.createElement('button');
        b.type = 'button';
        b.className = 'legend-toggle';
        b.dataset.action = 'toggle-series';
        b.dataset.strategy = k;
        b.setAttribute('aria-pressed', String(!hidden));
        var sw = doc.createElement('span');
        sw.className = 'swatch ' + l.cls;
        sw.setAttribute('aria-hidden', 'true');
        b.appendChild(sw);
        b.appendChild(doc.createTextNode(strategyLabel(k) + ' '));
        var amt = doc.createElement('span');
        amt.className = 'num ' + (cur > 0n ? 'pos' : (cur < 0n ? 'neg' : 'zero'));
        amt.textContent = usdMicros(cur);
        b.appendChild(amt);
        li.appendChild(b);
        legend.appendChild(li);
      }
    });
    // Flat series go underneath, so a $0 line never hides one that moves.
    drawn.flat.concat(drawn.moving).forEach(function (el) { lineGroup.appendChild(el); });
    lineGroup.appendChild(svgEl('rect', { 'class': 'chart-hit', x: left, y: top, width: plotW, height: plotH }));

    var times = [];
    shown.forEach(function (k) { lines[k].pts.forEach(function (p) { times.push(p.t); }); });
    times.push(ms1);
    times = times.sort(function (a, b) { return a - b; }).filter(function (t, i, a) { return i === 0 || t !== a[i - 1]; });
    chartState.geo = { ms0: ms0, ms1: ms1, left: left, right: right, top: top, bottom: bottom, x: x, y: y, lines: lines, shown: shown, times: times };
    ds.empty = 'false';
    ds.series = String(keys.length);
    ds.range = chartState.range;
    var desc = byId('pnl-chart-desc');
    if (desc) {
      desc.textContent = 'Cumulative P&L (realised by strategy, and locked-in sets) from ' + fmtTime(new Date(ms0).toISOString()) + ' to ' +
        fmtTime(new Date(ms1).toISOString()) + '. ' + summary.join('; ') + '.';
    }
    if (chartState.at >= 0) { showChartAt(chartState.at, false); } else { hideChartHover(); }
  }

  // showChartAt puts the crosshair on the point time nearest ms and reads
  // every shown series' total there (in the tooltip and, for screen
  // readers, in #pnl-chart-readout).
  function showChartAt(ms, snap) {
    var g = chartState.geo;
    var svg = byId('pnl-chart');
    if (!g || !svg) { return; }
    var t = g.times[0];
    g.times.forEach(function (c) { if (Math.abs(c - ms) < Math.abs(t - ms)) { t = c; } });
    if (snap === false) { t = Math.min(Math.max(ms, g.ms0), g.ms1); }
    chartState.at = t;
    var hover = $('.chart-hover', svg);
    hover.textContent = '';
    hover.removeAttribute('hidden');
    var px = hundredths(g.x(t));
    hover.appendChild(svgEl('line', { 'class': 'crosshair', x1: px, x2: px, y1: g.top, y2: g.bottom }));
    var iso = new Date(t).toISOString();
    var rows = [clock(iso)];
    var parts = [];
    g.shown.forEach(function (k) {
      var l = g.lines[k];
      var v = seriesValue(l, t);
      hover.appendChild(svgEl('circle', { 'class': 'dot ' + l.cls, cx: px, cy: hundredths(g.y(v)), r: 4 }));
      rows.push(strategyLabel(k) + ': ' + usdMicros(v));
      parts.push(strategyLabel(k) + ' ' + usdMicros(v));
    });
    var box = svgEl('rect', { 'class': 'tip-box', rx: 4, ry: 4 });
    hover.appendChild(box);
    var texts = rows.map(function (r, i) {
      var el = svgEl('text', { 'class': 'tip-text' + (i === 0 ? ' tip-time' : ''), y: g.top + 18 + i * 16 }, r);
      hover.appendChild(el);
      return el;
    });
    var w = 0;
    texts.forEach(function (el) { w = Math.max(w, el.getComputedTextLength ? el.getComputedTextLength() : el.textContent.length * 7); });
    w = Math.ceil(w) + 16;
    // Beside the crosshair, on the right if it fits, else on the left;
    // never outside the chart (on a phone it may cover the axis labels).
    var cx = Number(g.x(t)) / 100;
    var vw = svg.viewBox.baseVal.width;
    var bx = cx + 10;
    if (bx + w > vw - 2) { bx = cx - 10 - w; }
    if (bx < 2) { bx = Math.max(2, vw - 2 - w); }
    box.setAttribute('x', String(bx));
    box.setAttribute('y', String(g.top + 4));
    box.setAttribute('width', String(w));
    box.setAttribute('height', String(rows.length * 16 + 8));
    texts.forEach(function (el) { el.setAttribute('x', String(bx + 8)); });
    var out = byId('pnl-chart-readout');
    if (out) {
      out.textContent = clock(iso) + ' (' + fmtTime(iso) + '): ' + parts.join('; ');
      out.dataset.at = iso;
    }
  }

  function hideChartHover() {
    var svg = byId('pnl-chart');
    var hover = svg && $('.chart-hover', svg);
    if (hover) {
      hover.setAttribute('hidden', '');
      hover.textContent = '';
    }
    chartState.at = -1;
  }

  function initChartHover(svg) {
    var msAt = function (ev) {
      var g = chartState.geo;
      var r = svg.getBoundingClientRect();
      var vb = svg.viewBox.baseVal;
      var sx = (ev.clientX - r.left) * (vb.width / r.width);
      return g.ms0 + (sx - g.left) / (g.right - g.left) * (g.ms1 - g.ms0);
    };
    svg.addEventListener('pointermove', function (ev) {
      if (chartState.geo) { showChartAt(msAt(ev)); }
    });
    svg.addEventListener('pointerleave', function () {
      if (doc.activeElement !== svg) { hideChartHover(); }
    });
    svg.addEventListener('focus', function () {
      var g = chartState.geo;
      if (g) { showChartAt(g.times[g.times.length - 1]); }
    });
    svg.addEventListener('blur', hideChartHover);
    svg.addEventListener('keydown', function (ev) {
      var g = chartState.geo;
      if (!g) { return; }
      var i = g.times.indexOf(chartState.at);
      if (i < 0) { i = g.times.length - 1; }
      var next = { ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: g.times.length - 1 }[ev.key];
      if (ev.key === 'Escape') {
        hideChartHover();
        return;
      }
      if (next === undefined) { return; }
      ev.preventDefault();
      showChartAt(g.times[Math.min(Math.max(next, 0), g.times.length - 1)]);
    });
  }

  // setChartRange redraws the chart over another range from the same series.
  function setChartRange(key) {
    if (rangeSpans[key] === undefined) { return; }
    chartState.range = key;
    $$('#pnl-range [data-range]').forEach(function (b) { b.setAttribute('aria-pressed', String(b.dataset.range === key)); });
    if (window.history && history.replaceState) {
      history.replaceState(null, '', location.pathname + (key === 'all' ? '' : '?range=' + key) + '#pnl-card');
    }
    drawChart();
  }

  // toggleSeries hides or shows a series (the legend's buttons); one stays.
  function toggleSeries(key) {
    if (!chartState.series) { return; }
    if (!chartState.hidden[key]) {
      var svg = byId('pnl-chart');
      var shown = svg ? $$('.chart-lines polyline', svg).length : 0;
      if (shown <= 1) { return; }
    }
    chartState.hidden[key] = !chartState.hidden[key];
    drawChart();
    var b = $('#pnl-legend button[data-strategy="' + key.replace(/"/g, '') + '"]');
    if (b) { b.focus(); }
  }

  var refreshTimer = null;
  var refreshing = false;
  function scheduleRefresh() {
    if (refreshTimer) { return; }
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      refresh(false);
    }, 1200);
  }

  async function refresh(all) {
    if (refreshing) { scheduleRefresh(); return; }
    refreshing = true;
    var jobs = [
      api('GET', '/api/v1/bot').then(renderStatus),
      api('GET', '/api/v1/pnl').then(renderPnL),
      api('GET', '/api/v1/positions').then(function (r) { renderPositions(r.positions); })
    ];
    if (all) {
      jobs.push(api('GET', '/api/v1/trades?limit=20').then(renderTrades));
      jobs.push(api('GET', '/api/v1/opportunities?limit=20').then(function (r) {
        (r.opportunities || []).slice().reverse().forEach(addOpportunity);
      }));
    }
    await Promise.all(jobs.map(function (j) { return j.catch(function () {}); }));
    refreshing = false;
  }

  function setLive(state, text) {
    var el = byId('live-indicator');
    if (!el) { return; }
    el.dataset.live = state;
    $('.live-text', el).textContent = text;
  }

  function parseEvent(e) {
    try {
      var d = JSON.parse(e.data);
      // The stream's first status is the bare status; later events are {type, time, data}.
      return d && d.type && d.data !== undefined ? d.data : d;
    } catch (err) {
      return null;
    }
  }

  function connectEvents() {
    if (!window.EventSource) {
      setLive('off', 'Live updates unavailable');
      return;
    }
    var dropped = false;
    var es = new EventSource('/api/v1/events');
    es.addEventListener('open', function () {
      setLive('on', 'Live');
      if (dropped) { refresh(true); }
      dropped = false;
    });
    es.addEventListener('error', function () {
      dropped = true;
      if (es.readyState === EventSource.CLOSED) {
        setLive('off', 'Live updates unavailable');
      } else {
        setLive('off', 'Reconnecting…');
      }
    });
    es.addEventListener('status', function (e) { renderStatus(parseEvent(e)); });
    es.addEventListener('fill', function (e) {
      addTrade(parseEvent(e));
      scheduleRefresh();
    });
    es.addEventListener('opportunity', function (e) {
      addOpportunity(parseEvent(e));
      var c = $('#bot-counters [data-counter="opportunities"]');
      if (c) { c.textContent = String((parseInt(c.textContent, 10) || 0) + 1); }
    });
    es.addEventListener('pnl', scheduleRefresh);
    es.addEventListener('intent', scheduleRefresh);
    window.addEventListener('pagehide', function () { es.close(); });
  }

  async function botAction(btn) {
    var path = btn.dataset.action === 'bot-start' ? '/api/v1/bot/start' : '/api/v1/bot/stop';
    if (btn.dataset.action === 'bot-stop') {
      var ok = await confirmAction('Stop your bot?', 'It stops looking for opportunities and sends no new orders until you start it again. Open positions are kept.', 'Stop bot');
      if (!ok) { return; }
    }
    btn.disabled = true;
    try {
      var st = await api('POST', path);
      renderStatus(st);
      if (btn.dataset.action === 'bot-stop') {
        toast('Bot stopped.', 'ok');
      } else if (st.state === 'running' || st.state === 'starting') {
        toast('Bot started.', 'ok');
      } else {
        toast('The bot did not start: ' + (st.reason || stateNames[st.state] || st.state), 'error');
      }
    } catch (err) {
      btn.disabled = false;
      toast(err.message, 'error');
    }
  }

  function initDashboard() {
    var l = byId('instrument-labels');
    if (l) {
      try { labels = JSON.parse(l.textContent) || {}; } catch (e) { labels = {}; }
    }
    var svg = byId('pnl-chart');
    if (svg) {
      chartState.range = rangeSpans[svg.dataset.range] !== undefined ? svg.dataset.range : 'all';
      initChartHover(svg);
      if (svg.dataset.empty === 'false') {
        // The series, for hover, ranges and the browser's time zone.
        api('GET', '/api/v1/pnl').then(renderPnL).catch(function () {});
      }
    }
    var resizeTimer = null;
    window.addEventListener('resize', function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(drawChart, 150);
    });
    if (byId('bot-card') && byId('bot-card').dataset.available === 'true') {
      connectEvents();
    } else {
      setLive('off', 'Live updates unavailable');
    }
  }

  // -------------------------------------------------------- onboarding

  function showPanel(name) {
    var wiz = byId('platform-wizard');
    if (!wiz) { return; }
    wiz.dataset.panel = name;
    $$('.wizard-panel', wiz).forEach(function (p) { p.hidden = p.dataset.panel !== name; });
    $$('.wizard-tabs [data-wizard]', wiz).forEach(function (b) {
      if (b.dataset.wizard === name) { b.setAttribute('aria-current', 'step'); } else { b.removeAttribute('aria-current'); }
    });
    var panel = byId('wizard-' + name);
    var h = panel && $('h2', panel);
    if (h) {
      h.setAttribute('tabindex', '-1');
      h.focus();
    }
  }

  function initOnboarding() {
    $$('input[name="preset"]').forEach(function (r) {
      r.addEventListener('change', function () {
        var form = r.form;
        ['min_profit_pct', 'max_trade_size_usd', 'max_daily_loss_usd'].forEach(function (f) {
          var el = byId(form.id + '-' + f);
          if (el && r.dataset[f] !== undefined) { el.value = r.dataset[f]; }
        });
      });
    });
  }

  // --------------------------------------------------------------- plan

  async function chooseTier(btn) {
    var chooser = byId('plan-chooser');
    var msg = byId('tier-message');
    var name = btn.dataset.tierName;
    if (chooser && chooser.dataset.billing === 'on') {
      await changePlan(btn, msg);
      return;
    }
    if (!chooser || chooser.dataset.admin !== 'true') {
      if (msg) {
        msg.textContent = 'Billing is off: online payments are not configured on this server. Ask your administrator to move your account to the ' + name + ' plan; the change applies at once.';
        msg.dataset.state = 'info';
      }
      return;
    }
    var ok = await confirmAction('Switch to ' + name + '?', 'Your account moves to the ' + name + ' plan with its limits and features, at once.', 'Switch plan');
    if (!ok) { return; }
    try {
      await api('PUT', '/api/v1/admin/users/' + encodeURIComponent(chooser.dataset.userId) + '/tier', { tier: btn.dataset.tier });
      location.reload();
    } catch (err) {
      if (msg) {
        msg.textContent = err.message;
        msg.dataset.state = 'error';
      }
    }
  }

  // Billing on: price the change first (Stripe's upcoming-invoice
  // preview), confirm, then change; a first subscription goes on to
  // Stripe Checkout.
  async function changePlan(btn, msg) {
    var say = function (text, state) {
      if (msg) { msg.textContent = text; msg.dataset.state = state; }
    };
    var tier = btn.dataset.tier;
    var name = btn.dataset.tierName;
    var pv;
    try {
      pv = await api('POST', '/api/v1/billing/preview', { tier: tier });
    } catch (err) {
      say(err.message, 'error');
      return;
    }
    var text;
    if (pv.when === 'checkout') {
      text = 'The ' + name + ' plan costs ' + usd(pv.amount_due) + ' now and then every month. You pay on Stripe\'s secure page.';
    } else if (pv.when === 'now') {
      text = 'You pay ' + usd(pv.amount_due) + ' now for the rest of this period (prorated), and the ' + name + ' plan applies at once.';
    } else {
      text = 'Your plan moves to ' + name + (pv.period_end ? ' on ' + fmtTime(pv.period_end) : ' at the end of the period') + '; until then you keep your current plan. Nothing is charged now.';
    }
    say(text, 'info');
    var verb = btn.dataset.direction === 'upgrade' ? 'Upgrade' : 'Downgrade';
    var ok = await confirmAction(verb + ' to ' + name + '?', text, pv.when === 'checkout' ? 'Continue to payment' : verb);
    if (!ok) { return; }
    try {
      var res = await api('POST', '/api/v1/billing/change', { tier: tier });
      if (res.checkout_url) {
        say('Opening the payment page…', 'info');
        location.assign(res.checkout_url);
        return;
      }
      say(res.message, 'ok');
    } catch (err) {
      say(err.message, 'error');
    }
  }

  async function setPrice(btn) {
    var err = byId('billing-prices-error');
    if (err) { err.textContent = ''; }
    var input = byId('price-' + btn.dataset.tier);
    try {
      var saved = await api('PUT', '/api/v1/admin/billing/prices/' + encodeURIComponent(btn.dataset.tier), { price_id: input.value.trim() });
      toast(saved.price_id ? 'The ' + saved.tier + ' plan sells as ' + saved.price_id + '.' : 'The ' + saved.tier + ' plan is no longer sold online.', 'ok');
    } catch (e) {
      if (err) { err.textContent = e.message; }
      toast(e.message, 'error');
    }
  }

  async function billingPortal(btn) {
    btn.disabled = true;
    try {
      var res = await api('POST', '/api/v1/billing/portal');
      location.assign(res.url);
    } catch (err) {
      btn.disabled = false;
      var msg = byId('tier-message');
      if (msg) { msg.textContent = err.message; msg.dataset.state = 'error'; }
    }
  }

  // ---------------------------------------------------------- API tokens

  function addTokenRow(t) {
    var tbody = $('#tokens-table tbody');
    if (!tbody || !t) { return; }
    var tr = doc.createElement('tr');
    tr.className = 'token-row is-new';
    tr.id = 'token-' + t.id;
    tr.dataset.tokenId = t.id;
    [['name', t.name], ['prefix', t.prefix + '…'], ['created', fmtTime(t.created_at)], ['last-used', fmtTime(t.last_used_at)],
      ['expires', t.expires_at ? fmtTime(t.expires_at) : 'never']].forEach(function (c) {
      var td = doc.createElement('td');
      td.dataset.key = c[0];
      if (c[0] === 'prefix') { td.className = 'mono'; }
      td.textContent = c[1];
      tr.appendChild(td);
    });
    var td = doc.createElement('td');
    var b = doc.createElement('button');
    b.type = 'button';
    b.className = 'btn btn-sm btn-danger-ghost';
    b.dataset.action = 'revoke-token';
    b.dataset.tokenId = t.id;
    b.dataset.tokenName = t.name;
    b.id = 'token-' + t.id + '-revoke';
    b.textContent = 'Revoke';
    td.appendChild(b);
    tr.appendChild(td);
    var empty = byId('tokens-empty');
    if (empty) { empty.hidden = true; }
    tbody.insertBefore(tr, empty ? empty.nextSibling : tbody.firstChild);
  }

  async function tokenAction(btn) {
    var action = btn.dataset.action;
    if (action === 'copy-token') {
      var val = byId('token-once-value');
      val.select();
      try {
        await navigator.clipboard.writeText(val.value);
        toast('Token copied.', 'ok');
      } catch (e) {
        toast('Press Ctrl+C (or ⌘C) to copy the selected token.');
      }
      return;
    }
    if (action === 'dismiss-token') {
      byId('token-once-value').value = '';
      byId('token-once').hidden = true;
      return;
    }
    var ok = await confirmAction('Revoke this token?', 'Scripts using "' + btn.dataset.tokenName + '" will be refused from now on. This cannot be undone.', 'Revoke token');
    if (!ok) { return; }
    btn.disabled = true;
    try {
      await api('DELETE', '/api/v1/tokens/' + encodeURIComponent(btn.dataset.tokenId));
    } catch (err) {
      btn.disabled = false;
      toast(err.message, 'error');
      return;
    }
    var row = byId('token-' + btn.dataset.tokenId);
    if (row) { row.remove(); }
    if (!$('#tokens-table tr.token-row')) {
      var empty = byId('tokens-empty');
      if (empty) { empty.hidden = false; }
    }
    toast('Token revoked.', 'ok');
  }

  // -------------------------------------------------------------- admin

  async function adminAction(el) {
    var action = el.dataset.action;
    var err = byId(action.indexOf('pair') >= 0 ? 'pairs-error' : 'users-error');
    if (err) { err.textContent = ''; }
    try {
      if (action === 'set-tier') {
        var sel = byId('user-' + el.dataset.userId + '-tier');
        if (sel.value === sel.dataset.initial) {
          toast(el.dataset.email + ' is already on the ' + sel.value + ' plan.');
          return;
        }
        await api('PUT', '/api/v1/admin/users/' + encodeURIComponent(el.dataset.userId) + '/tier', { tier: sel.value });
        sel.dataset.initial = sel.value;
        toast(el.dataset.email + ' moved to the ' + sel.value + ' plan.', 'ok');
      } else if (action === 'set-disabled') {
        var disable = el.dataset.disabled !== 'true';
        if (disable && !(await confirmAction('Disable this account?', el.dataset.email + ' will be signed out of every request and their bot will stop trading.', 'Disable account'))) { return; }
        await api('PUT', '/api/v1/admin/users/' + encodeURIComponent(el.dataset.userId) + '/disabled', { disabled: disable });
        el.dataset.disabled = String(disable);
        el.textContent = disable ? 'Enable' : 'Disable';
        el.classList.toggle('btn-danger-ghost', !disable);
        toast(disable ? 'Account disabled.' : 'Account enabled.', 'ok');
      } else if (action === 'approve-pair' || action === 'reject-pair') {
        var approve = action === 'approve-pair';
        var row = byId('pair-' + el.dataset.pairId);
        if (!approve && !(await confirmAction('Reject this pair?', 'Cross-platform arbitrage stops trading "' + JSON.parse(row.dataset.pair).name + '" at once.', 'Reject pair'))) { return; }
        var pair = JSON.parse(row.dataset.pair);
        pair.approved = approve;
        var saved = await api('PUT', '/api/v1/admin/market-pairs/' + encodeURIComponent(pair.id), pair);
        row.dataset.pair = JSON.stringify(saved);
        row.dataset.approved = String(saved.approved);
        var st = byId('pair-' + pair.id + '-status');
        st.dataset.state = saved.approved ? 'approved' : 'pending';
        st.textContent = saved.approved ? 'Approved' : 'Not approved';
        byId('pair-' + pair.id + '-approve').disabled = saved.approved;
        byId('pair-' + pair.id + '-reject').disabled = !saved.approved;
        toast(saved.approved ? 'Pair approved.' : 'Pair rejected.', 'ok');
      }
    } catch (e) {
      if (err) { err.textContent = e.message; }
      toast(e.message, 'error');
    }
  }

  var overlapKinds = {
    set: { path: '/api/v1/admin/outcome-sets/', noun: 'outcome set', error: 'sets-error', cols: 7, empty: 'No outcome sets yet.' },
    relation: { path: '/api/v1/admin/relations/', noun: 'relation', error: 'relations-error', cols: 5, empty: 'No relations yet.' }
  };

  // overlapAction approves, rejects or deletes an entry of the overlap
  // registry ("approve-set", "delete-relation", …): a PUT of the row's
  // record with approved set, as for pairs, or a DELETE; rejecting and
  // deleting ask first, since they stop trading at once.
  async function overlapAction(el) {
    var parts = el.dataset.action.split('-');
    var verb = parts[0], kindName = parts[1], kind = overlapKinds[kindName];
    var id = el.dataset.id;
    var row = byId(kindName + '-' + id);
    var err = byId(kind.error);
    if (err) { err.textContent = ''; }
    try {
      var rec = JSON.parse(row.dataset[kindName]);
      if (verb === 'delete') {
        if (!(await confirmAction('Delete this ' + kind.noun + '?', '"' + rec.name + '" leaves the registry and stops trading at once. This cannot be undone.', 'Delete ' + kind.noun))) { return; }
        await api('DELETE', kind.path + encodeURIComponent(id));
        var body = row.parentNode;
        row.remove();
        if (!$('tr.' + kindName + '-row', body)) {
          var tr = doc.createElement('tr');
          tr.className = 'empty-row';
          var td = doc.createElement('td');
          td.colSpan = kind.cols;
          td.textContent = kind.empty;
          tr.appendChild(td);
          body.appendChild(tr);
        }
        toast(capitalize(kind.noun) + ' deleted.', 'ok');
        return;
      }
      var approve = verb === 'approve';
      if (!approve && !(await confirmAction('Reject this ' + kind.noun + '?', 'Overlapping arbitrage stops trading "' + rec.name + '" at once.', 'Reject ' + kind.noun))) { return; }
      rec.approved = approve;
      var saved = await api('PUT', kind.path + encodeURIComponent(id), rec);
      row.dataset[kindName] = JSON.stringify(saved);
      row.dataset.approved = String(saved.approved);
      var st = byId(kindName + '-' + id + '-status');
      st.dataset.state = saved.approved ? 'approved' : 'pending';
      st.textContent = saved.approved ? 'Approved' : 'Not approved';
      byId(kindName + '-' + id + '-approve').disabled = saved.approved;
      byId(kindName + '-' + id + '-reject').disabled = !saved.approved;
      toast(capitalize(kind.noun) + (saved.approved ? ' approved.' : ' rejected.'), 'ok');
    } catch (e) {
      if (err) { err.textContent = e.message; }
      toast(e.message, 'error');
    }
  }

  // ------------------------------------------------------------ account

  async function sessionAction(el) {
    var err = byId('sessions-error');
    if (err) { err.textContent = ''; }
    try {
      if (el.dataset.action === 'sign-out-everywhere') {
        if (!(await confirmAction('Sign out everywhere?', 'Every session of this account ends, this one too. API tokens keep working until you delete them.', 'Sign out everywhere'))) { return; }
        await api('DELETE', '/api/v1/auth/sessions');
        location.assign('/login');
        return;
      }
      var current = el.dataset.current === 'true';
      if (current && !(await confirmAction('Sign out here?', 'This session ends and you go back to the login page.', 'Sign out'))) { return; }
      await api('DELETE', '/api/v1/auth/sessions/' + encodeURIComponent(el.dataset.sessionId));
      if (current) {
        location.assign('/login');
        return;
      }
      var row = byId('session-' + el.dataset.sessionId);
      if (row) { row.remove(); }
      toast('Session signed out.', 'ok');
    } catch (e) {
      if (err) { err.textContent = e.message; }
      toast(e.message, 'error');
    }
  }

  // -------------------------------------------------------------- news

  function splitList(s) {
    return String(s || '').split(',').map(function (x) { return x.trim(); }).filter(function (x) { return x !== ''; });
  }

  // marketsFromText reads the rule editor's markets, one a line:
  // "kalshi TICKER" or "polymarket CONDITION_ID YES_TOKEN NO_TOKEN".
  function marketsFromText(text) {
    var out = [];
    var bad = null;
    String(text || '').split('\n').forEach(function (line, i) {
      var t = line.trim().split(/\s+/).filter(function (x) { return x !== ''; });
      if (!t.length) { return; }
      var venue = t[0].toLowerCase();
      if (venue === 'kalshi' && t.length === 2) {
        out.push({ yes: { venue: 'kalshi', market: t[1], outcome: 0 }, no: { venue: 'kalshi', market: t[1], outcome: 1 } });
      } else if (venue === 'polymarket' && t.length === 4) {
        out.push({ yes: { venue: 'polymarket', market: t[1], token: t[2], outcome: 0 }, no: { venue: 'polymarket', market: t[1], token: t[3], outcome: 1 } });
      } else if (!bad) {
        bad = 'line ' + (i + 1) + ' is not "kalshi TICKER" or "polymarket CONDITION_ID YES_TOKEN NO_TOKEN"';
      }
    });
    if (bad) { throw new APIError(400, { code: 'invalid', message: 'invalid markets', fields: { markets: bad } }); }
    return out;
  }

  // equityFromText reads an equity order, "alpaca SYMBOL buy|sell SHARES
  // PRICE", for the field named field: null when empty.
  function equityFromText(text, field) {
    var t = String(text || '').trim().split(/\s+/).filter(function (x) { return x !== ''; });
    if (!t.length) { return null; }
    if (t.length !== 5) {
      var f = {};
      f[field] = 'write it as "alpaca SYMBOL buy|sell SHARES PRICE"';
      throw new APIError(400, { code: 'invalid', message: 'invalid ' + field, fields: f });
    }
    return { venue: t[0].toLowerCase(), symbol: t[1], side: t[2].toLowerCase(), quantity: t[3], max_price: t[4] };
  }

  function equityToText(o) {
    return o ? [o.venue, o.symbol, o.side, sizeFmt(o.quantity).replace(/,/g, ''), o.max_price].join(' ') : '';
  }

  function marketsToText(ms) {
    return (ms || []).map(function (m) {
      return m.yes.venue === 'polymarket' ? ['polymarket', m.yes.market, m.yes.token, m.no.token].join(' ') : m.yes.venue + ' ' + m.yes.market;
    }).join('\n');
  }

  // secondsValue is a seconds input as the API takes it: empty is 0 (the
  // default), anything not a whole number goes as typed (the API says so).
  function secondsValue(el) {
    var v = el.value.trim();
    if (v === '') { return 0; }
    var n = Number(v);
    return Number.isInteger(n) ? n : v;
  }

  function ruleBody(form) {
    var v = function (name) { return byId('rule-form-' + name); };
    var equity = v('mode').value === 'equity';
    return {
      name: v('name').value.trim(),
      enabled: v('enabled').checked,
      all_of: splitList(v('all_of').value),
      any_of: splitList(v('any_of').value),
      none_of: splitList(v('none_of').value),
      regex: v('regex').value.trim(),
      sources: splitList(v('sources').value),
      mode: v('mode').value,
      outcome: v('outcome').value,
      pairs: splitList(v('pairs').value),
      markets: marketsFromText(v('markets').value),
      max_price: v('max_price').value.trim() || (equity ? '0' : ''),
      max_size: v('max_size').value.trim() || (equity ? '0' : ''),
      equity: equityFromText(v('equity').value, 'equity'),
      hedge: equityFromText(v('hedge').value, 'hedge'),
      threshold: v('threshold').value.trim() || '0',
      window_seconds: secondsValue(v('window_seconds')),
      cooldown_seconds: secondsValue(v('cooldown_seconds')),
      take_profit: v('take_profit').value.trim() || '0',
      stop_loss: v('stop_loss').value.trim() || '0',
      time_stop_seconds: secondsValue(v('time_stop_seconds'))
    };
  }

  function fillRuleForm(rule) {
    var form = byId('rule-form');
    if (!form) { return; }
    clearErrors(form);
    var v = function (name) { return byId('rule-form-' + name); };
    var zero = function (d) { return d && !/^0(\.0*)?$/.test(d) ? d : ''; };
    form.dataset.ruleId = rule ? rule.id : '';
    v('name').value = rule ? rule.name : '';
    v('enabled').checked = rule ? rule.enabled : true;
    v('all_of').value = rule ? (rule.all_of || []).join(', ') : '';
    v('any_of').value = rule ? (rule.any_of || []).join(', ') : '';
    v('none_of').value = rule ? (rule.none_of || []).join(', ') : '';
    v('regex').value = rule ? rule.regex || '' : '';
    v('sources').value = rule ? (rule.sources || []).join(', ') : '';
    v('mode').value = rule ? rule.mode : 'direct';
    v('outcome').value = rule ? rule.outcome : 'YES';
    v('pairs').value = rule ? (rule.pairs || []).join(', ') : '';
    v('markets').value = rule ? marketsToText(rule.markets) : '';
    var equity = rule && rule.mode === 'equity';
    v('max_price').value = rule && !equity ? rule.max_price : '';
    v('max_size').value = rule && !equity ? sizeFmt(rule.max_size).replace(/,/g, '') : '';
    v('equity').value = rule ? equityToText(rule.equity) : '';
    v('hedge').value = rule ? equityToText(rule.hedge) : '';
    v('threshold').value = rule ? zero(rule.threshold) : '';
    v('window_seconds').value = rule ? String(rule.window_seconds) : '';
    v('cooldown_seconds').value = rule && rule.cooldown_seconds ? String(rule.cooldown_seconds) : '';
    v('take_profit').value = rule ? zero(rule.take_profit) : '';
    v('stop_loss').value = rule ? zero(rule.stop_loss) : '';
    v('time_stop_seconds').value = rule ? String(rule.time_stop_seconds) : '';
    setText('rule-editor-title', rule ? 'Edit rule' : 'New rule');
    setText('rule-editor-id', rule ? 'id ' + rule.id : '');
  }

  // ruleErrors files the API's errors of list items under their list:
  // "any_of[1]" under any_of as "term 2: …", "markets[0].no" under markets
  // as "line 1: …".
  function ruleErrors(err) {
    var fields = {};
    Object.keys(err.fields || {}).forEach(function (k) {
      var eq = /^(equity|hedge)\.(.+)$/.exec(k);
      if (eq) {
        if (!fields[eq[1]]) { fields[eq[1]] = eq[2].replace(/_/g, ' ') + ': ' + err.fields[k]; }
        return;
      }
      var m = /^([a-z_]+)\[(\d+)\](?:\.(.*))?$/.exec(k);
      if (!m) { fields[k] = err.fields[k]; return; }
      var n = Number(m[2]) + 1;
      var what = m[1] === 'markets' ? 'line ' + n + (m[3] ? ' (' + m[3] + ')' : '') : (m[1] === 'sources' || m[1] === 'pairs' ? 'id ' + n : 'term ' + n);
      if (!fields[m[1]]) { fields[m[1]] = what + ': ' + err.fields[k]; }
    });
    var e = new APIError(err.status, { code: err.code, message: err.message, fields: fields });
    return e;
  }

  function ruleMatches(r) {
    var q = function (l) { return l.map(function (t) { return '“' + t + '”'; }).join(', '); };
    var parts = [];
    if ((r.all_of || []).length) { parts.push('all of ' + q(r.all_of)); }
    if ((r.any_of || []).length) { parts.push('any of ' + q(r.any_of)); }
    if ((r.none_of || []).length) { parts.push('none of ' + q(r.none_of)); }
    if (r.regex) { parts.push('regex /' + r.regex + '/'); }
    if ((r.sources || []).length) { parts.push('from ' + r.sources.join(', ')); }
    return parts.join('; ');
  }

  function button(label, cls, attrs) {
    var b = doc.createElement('button');
    b.type = 'button';
    b.className = cls;
    Object.keys(attrs).forEach(function (k) {
      if (k === 'id') { b.id = attrs[k]; } else { b.dataset[k] = attrs[k]; }
    });
    b.textContent = label;
    return b;
  }

  // upsertRuleRow shows a saved rule in the rules table.
  function upsertRuleRow(r) {
    var tbody = $('#rules-table tbody');
    if (!tbody) { return; }
    var tr = byId('rule-' + r.id);
    var fresh = !tr;
    if (fresh) {
      tr = doc.createElement('tr');
      tr.className = 'rule-row is-new';
      tr.id = 'rule-' + r.id;
      tr.dataset.ruleId = r.id;
    }
    tr.dataset.rule = JSON.stringify(r);
    tr.textContent = '';
    var td = doc.createElement('td');
    var name = doc.createElement('span');
    name.className = 'strong';
    name.dataset.key = 'name';
    name.textContent = r.name;
    var mode = doc.createElement('span');
    mode.className = 'badge';
    mode.dataset.key = 'mode';
    mode.textContent = r.mode;
    td.appendChild(name);
    td.appendChild(doc.createTextNode(' '));
    td.appendChild(mode);
    tr.appendChild(td);
    var m = cell(ruleMatches(r), 'small');
    m.dataset.key = 'matches';
    tr.appendChild(m);
    var d = cell(r.does || '', 'small');
    d.dataset.key = 'does';
    tr.appendChild(d);
    td = doc.createElement('td');
    var sw = doc.createElement('input');
    sw.type = 'checkbox';
    sw.className = 'switch';
    sw.setAttribute('role', 'switch');
    sw.id = 'rule-' + r.id + '-enabled';
    sw.dataset.action = 'toggle-rule';
    sw.dataset.ruleId = r.id;
    sw.setAttribute('aria-label', 'Rule ' + r.name + ' is on');
    sw.checked = !!r.enabled;
    td.appendChild(sw);
    tr.appendChild(td);
    td = doc.createElement('td');
    td.className = 'row-actions';
    td.appendChild(button('Edit', 'btn btn-sm', { action: 'edit-rule', ruleId: r.id, id: 'rule-' + r.id + '-edit' }));
    td.appendChild(doc.createTextNode(' '));
    td.appendChild(button('Test', 'btn btn-sm', { action: 'test-rule', ruleId: r.id, id: 'rule-' + r.id + '-test' }));
    td.appendChild(doc.createTextNode(' '));
    td.appendChild(button('Delete', 'btn btn-sm btn-danger-ghost', { action: 'delete-rule', ruleId: r.id, ruleName: r.name, id: 'rule-' + r.id + '-delete' }));
    tr.appendChild(td);
    var empty = byId('rules-empty');
    if (empty) { empty.hidden = true; }
    if (fresh) { tbody.insertBefore(tr, empty || null); }
    // cardTable labels new rows; a row rebuilt in place needs it again.
    var heads = $$('#rules-table thead th').map(function (th) { return th.textContent.trim(); });
    Array.prototype.forEach.call(tr.children, function (c, i) { if (heads[i]) { c.setAttribute('data-label', heads[i]); } });
  }

  async function submitRuleForm(form) {
    clearErrors(form);
    var body;
    try {
      body = ruleBody(form);
    } catch (err) {
      showErrors(form, err);
      return;
    }
    var id = form.dataset.ruleId;
    setBusy(form, true);
    var saved;
    try {
      saved = id ? await api('PUT', '/api/v1/news/rules/' + encodeURIComponent(id), body) : await api('POST', '/api/v1/news/rules', body);
    } catch (err) {
      setBusy(form, false);
      showErrors(form, ruleErrors(err));
      return;
    }
    setBusy(form, false);
    upsertRuleRow(saved);
    fillRuleForm(saved);
    toast(id ? 'Rule saved.' : 'Rule created.', 'ok');
  }

  function ruleOf(id) {
    var row = byId('rule-' + id);
    return row ? JSON.parse(row.dataset.rule) : null;
  }

  // renderRuleTest shows a replay: which headlines would have fired.
  function renderRuleTest(resp) {
    var box = byId('rule-test-results');
    var tbody = $('#rule-test-table tbody');
    if (!box || !tbody) { return; }
    var hits = resp.hits || [];
    var quiet = hits.length - resp.fired;
    setText('rule-test-title', 'Test of “' + resp.rule.name + '”');
    setText('rule-test-summary', 'Replayed the latest ' + resp.replayed + ' headline' + (resp.replayed === 1 ? '' : 's') + ': ' +
      (resp.fired ? resp.fired + ' would have fired' : 'none would have fired') +
      (quiet > 0 ? ', and ' + quiet + ' more matched inside the cooldown.' : '.') +
      (resp.fired ? ' ' + resp.rule.does + '.' : ''));
    tbody.textContent = '';
    hits.slice().reverse().forEach(function (h) {
      var tr = doc.createElement('tr');
      tr.className = 'test-row';
      tr.dataset.fired = String(h.fired);
      tr.dataset.headlineId = h.headline.id;
      tr.appendChild(timeCell(h.headline.received));
      tr.appendChild(cell(h.headline.source_name || h.headline.source));
      tr.appendChild(headlineCell(h.headline.title, h.headline.link));
      var td = doc.createElement('td');
      var b = doc.createElement('span');
      b.className = 'badge';
      b.dataset.state = h.fired ? 'approved' : 'pending';
      b.textContent = h.fired ? 'Would fire' : 'Cooldown';
      td.appendChild(b);
      if (h.reason) {
        var r = doc.createElement('span');
        r.className = 'muted small';
        r.textContent = ' ' + h.reason;
        td.appendChild(r);
      }
      tr.appendChild(td);
      tr.appendChild(cell(h.fired ? h.outcome + ' up to ' + h.max_price + ' × ' + sizeFmt(h.max_size) : '—', 'small'));
      tbody.appendChild(tr);
    });
    if (!hits.length) {
      var tr = doc.createElement('tr');
      tr.className = 'empty-row';
      var td = doc.createElement('td');
      td.colSpan = 5;
      td.textContent = resp.replayed ? 'No headline matched.' : 'There are no headlines to test on yet.';
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
    box.hidden = false;
  }

  function testSize() {
    var n = byId('rule-test-n');
    return n ? Number(n.value) : 50;
  }

  async function ruleAction(el) {
    var action = el.dataset.action;
    var form = byId('rule-form');
    var err = byId('rules-error');
    if (err) { err.textContent = ''; }
    if (action === 'new-rule') {
      fillRuleForm(null);
      byId('rule-form-name').focus();
      return;
    }
    if (action === 'test-form-rule') {
      clearErrors(form);
      var body;
      try {
        body = ruleBody(form);
      } catch (e) {
        showErrors(form, e);
        return;
      }
      el.disabled = true;
      try {
        renderRuleTest(await api('POST', '/api/v1/news/rules/test', { rule: body, n: testSize() }));
        byId('rule-test-summary').focus();
      } catch (e) {
        showErrors(form, ruleErrors(e));
      } finally {
        el.disabled = false;
      }
      return;
    }
    var id = el.dataset.ruleId;
    var rule = ruleOf(id);
    try {
      if (action === 'edit-rule') {
        fillRuleForm(rule);
        byId('rule-editor').scrollIntoView({ block: 'start' });
        byId('rule-form-name').focus();
      } else if (action === 'test-rule') {
        fillRuleForm(rule);
        renderRuleTest(await api('POST', '/api/v1/news/rules/' + encodeURIComponent(id) + '/test', { n: testSize() }));
        byId('rule-test-results').scrollIntoView({ block: 'start' });
      } else if (action === 'toggle-rule') {
        rule.enabled = el.checked;
        var saved = await api('PUT', '/api/v1/news/rules/' + encodeURIComponent(id), rule);
        upsertRuleRow(saved);
        byId('rule-' + id + '-enabled').focus();
        if (form.dataset.ruleId === id) { byId('rule-form-enabled').checked = saved.enabled; }
        toast('“' + saved.name + '” is ' + (saved.enabled ? 'on.' : 'off.'), 'ok');
      } else if (action === 'delete-rule') {
        if (!(await confirmAction('Delete this rule?', '“' + el.dataset.ruleName + '” stops matching headlines at once. This cannot be undone.', 'Delete rule'))) { return; }
        await api('DELETE', '/api/v1/news/rules/' + encodeURIComponent(id));
        var row = byId('rule-' + id);
        if (row) { row.remove(); }
        if (!$('#rules-table tr.rule-row')) { byId('rules-empty').hidden = false; }
        if (form.dataset.ruleId === id) { fillRuleForm(null); }
        toast('Rule deleted.', 'ok');
      }
    } catch (e) {
      if (action === 'toggle-rule') { el.checked = !el.checked; }
      if (err) { err.textContent = e.message; }
      toast(e.message, 'error');
    }
  }

  function headlineCell(title, link) {
    var td = doc.createElement('td');
    td.className = 'headline-title';
    if (link && /^https?:\/\//i.test(link)) {
      var a = doc.createElement('a');
      a.href = link;
      a.rel = 'noopener noreferrer nofollow';
      a.target = '_blank';
      a.textContent = title;
      td.appendChild(a);
    } else {
      td.textContent = title;
    }
    return td;
  }

  function headlineRow(h) {
    var tr = doc.createElement('tr');
    tr.className = 'headline-row';
    tr.dataset.headlineId = h.id;
    tr.appendChild(timeCell(h.received));
    tr.appendChild(cell(h.source_name || h.source));
    tr.appendChild(headlineCell(h.title, h.link));
    if (h.published) {
      var td = timeCell(h.published);
      td.className = 'nowrap opt';
      tr.appendChild(td);
    } else {
      tr.appendChild(cell('—', 'nowrap opt'));
    }
    return tr;
  }

  // latencyMS writes microseconds as "1.834 ms".
  function latencyMS(us) {
    if (!us || us <= 0) { return '—'; }
    var frac = String(us % 1000);
    return group(String(Math.floor(us / 1000))) + '.' + '000'.slice(frac.length) + frac + ' ms';
  }

  function fireRow(f) {
    var tr = doc.createElement('tr');
    tr.className = 'fire-row';
    tr.appendChild(timeCell(f.at));
    tr.appendChild(cell(f.rule_name || f.rule_id));
    if (f.headline_title) {
      tr.appendChild(headlineCell(f.headline_title, f.headline_link));
    } else {
      tr.appendChild(cell('an older headline', 'muted'));
    }
    var td = doc.createElement('td');
    var b = doc.createElement('span');
    b.className = 'badge badge-fire';
    b.dataset.action = f.action;
    b.textContent = f.action;
    td.appendChild(b);
    if (f.error) {
      var e = doc.createElement('span');
      e.className = 'muted small';
      e.textContent = ' ' + f.error;
      td.appendChild(e);
    }
    tr.appendChild(td);
    tr.appendChild(cell(latencyMS(f.latency_micros), 'num'));
    td = doc.createElement('td');
    if (f.opportunity_id) {
      var a = doc.createElement('a');
      a.href = '/orders?opportunity=' + encodeURIComponent(f.opportunity_id);
      a.textContent = 'Orders';
      td.appendChild(a);
    } else {
      td.textContent = '—';
    }
    tr.appendChild(td);
    return tr;
  }

  // fillTable replaces a table's rows, or shows its empty row.
  function fillTable(id, list, row, emptyText, cols) {
    var tbody = $('#' + id + ' tbody');
    if (!tbody) { return; }
    tbody.textContent = '';
    list.forEach(function (x) { tbody.appendChild(row(x)); });
    if (!list.length) {
      var tr = doc.createElement('tr');
      tr.className = 'empty-row';
      var td = doc.createElement('td');
      td.colSpan = cols;
      td.textContent = emptyText;
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
  }

  var newsTimer = null;
  async function refreshNews() {
    if (doc.hidden) { return; }
    try {
      var res = await Promise.all([api('GET', '/api/v1/news/headlines?limit=50'), api('GET', '/api/v1/news/fires?limit=50')]);
      fillTable('headlines-table', res[0].headlines || [], headlineRow, 'No headlines yet.', 4);
      fillTable('fires-table', res[1].fires || [], fireRow, 'None of your rules has matched a headline yet.', 6);
      setText('news-live', 'Updated ' + clock(new Date().toISOString()));
    } catch (e) {
      setText('news-live', 'Could not update: ' + e.message);
    }
  }

  function hookCurl(url, secret) {
    return "SECRET='" + secret + "'\n" +
      "BODY='{\"headlines\":[{\"title\":\"Fed holds rates steady\",\"link\":\"https://example.com/story\"}]}'\n" +
      'TS=$(date +%s)\n' +
      'SIG=$(printf \'%s.%s\' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed \'s/^.* //\')\n' +
      "curl -X POST '" + url + "' \\\n" +
      '  -H "X-PolyBot-Timestamp: $TS" -H "X-PolyBot-Signature: $SIG" \\\n' +
      "  -H 'Content-Type: application/json' --data \"$BODY\"";
  }

  function addHookRow(h) {
    var tbody = $('#hooks-table tbody');
    if (!tbody) { return; }
    var tr = doc.createElement('tr');
    tr.className = 'hook-row is-new';
    tr.id = 'hook-' + h.id;
    tr.dataset.hookId = h.id;
    tr.appendChild(cell(h.name));
    var u = cell(location.origin + h.url, 'mono small hook-url');
    u.dataset.path = h.url;
    tr.appendChild(u);
    tr.appendChild(cell(fmtTime(h.created_at)));
    var td = doc.createElement('td');
    td.appendChild(button('Delete', 'btn btn-sm btn-danger-ghost', { action: 'delete-hook', hookId: h.id, hookName: h.name, id: 'hook-' + h.id + '-delete' }));
    tr.appendChild(td);
    var empty = byId('hooks-empty');
    if (empty) { empty.hidden = true; }
    tbody.insertBefore(tr, tbody.firstChild);
  }

  function addFeedRow(f) {
    var tbody = $('#feeds-table tbody');
    if (!tbody) { return; }
    var tr = doc.createElement('tr');
    tr.className = 'feed-row is-new';
    tr.id = 'feed-' + f.id;
    tr.dataset.feedId = f.id;
    var td = doc.createElement('td');
    td.appendChild(doc.createTextNode(f.name));
    td.appendChild(doc.createElement('br'));
    var idEl = doc.createElement('span');
    idEl.className = 'mono small muted';
    idEl.textContent = f.id;
    td.appendChild(idEl);
    tr.appendChild(td);
    tr.appendChild(cell(f.url, 'mono small feed-url'));
    tr.appendChild(cell(f.every_seconds + ' s', 'num'));
    td = doc.createElement('td');
    td.appendChild(button('Delete', 'btn btn-sm btn-danger-ghost', { action: 'delete-feed', feedId: f.id, feedName: f.name, id: 'feed-' + f.id + '-delete' }));
    tr.appendChild(td);
    var empty = byId('feeds-empty');
    if (empty) { empty.hidden = true; }
    tbody.insertBefore(tr, tbody.firstChild);
  }

  async function newsSourceAction(el) {
    var action = el.dataset.action;
    if (action === 'copy-hook') {
      var val = byId('hook-once-secret');
      val.select();
      try {
        await navigator.clipboard.writeText(val.value);
        toast('Secret copied.', 'ok');
      } catch (e) {
        toast('Press Ctrl+C (or ⌘C) to copy the selected secret.');
      }
      return;
    }
    if (action === 'dismiss-hook') {
      byId('hook-once-secret').value = '';
      byId('hook-once-curl').textContent = '';
      byId('hook-once').hidden = true;
      return;
    }
    var hook = action === 'delete-hook';
    var id = hook ? el.dataset.hookId : el.dataset.feedId;
    var name = hook ? el.dataset.hookName : el.dataset.feedName;
    var ok = await confirmAction(hook ? 'Delete this webhook?' : 'Delete this feed?',
      hook ? 'Deliveries to “' + name + '” will be refused from now on. This cannot be undone.' : 'PolyBot stops polling “' + name + '”.',
      hook ? 'Delete webhook' : 'Delete feed');
    if (!ok) { return; }
    el.disabled = true;
    try {
      await api('DELETE', (hook ? '/api/v1/news/hooks/' : '/api/v1/news/feeds/') + encodeURIComponent(id));
    } catch (e) {
      el.disabled = false;
      toast(e.message, 'error');
      return;
    }
    var row = byId((hook ? 'hook-' : 'feed-') + id);
    if (row) { row.remove(); }
    var kind = hook ? 'hook' : 'feed';
    if (!$('#' + kind + 's-table tr.' + kind + '-row')) { byId(kind + 's-empty').hidden = false; }
    toast(hook ? 'Webhook deleted.' : 'Feed deleted.', 'ok');
  }

  function initNews() {
    $$('.hook-url[data-path]').forEach(function (td) { td.textContent = location.origin + td.dataset.path; });
    newsTimer = setInterval(refreshNews, 10000);
    doc.addEventListener('visibilitychange', function () { if (!doc.hidden) { refreshNews(); } });
  }

  // -------------------------------------------------------------- copy trading

  // shiftDecimal moves a decimal string's point: shiftDecimal("2", -2) is
  // "0.02", shiftDecimal("0.025", 2) is "2.5". Exact, on the digits.
  function shiftDecimal(s, places) {
    s = String(s || '').trim();
    var m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(s);
    if (!m || (m[2] === '' && !m[3])) { return s; }
    var digits = (m[2] || '0') + (m[3] || '');
    var point = (m[2] || '0').length + places;
    while (point <= 0) { digits = '0' + digits; point++; }
    while (point > digits.length) { digits += '0'; }
    var ip = digits.slice(0, point).replace(/^0+(?=\d)/, '');
    var fp = digits.slice(point).replace(/0+$/, '');
    return m[1] + ip + (fp ? '.' + fp : '');
  }

  var leaderDecimals = ['multiplier', 'fixed_usd', 'balance_pct', 'max_trade_usd', 'max_market_usd', 'max_day_usd', 'min_leader_usd'];

  function leaderBody(form) {
    var body = {
      address: fieldInput(form, 'address').value.trim(),
      label: fieldInput(form, 'label').value,
      enabled: fieldInput(form, 'enabled').checked,
      mode: fieldInput(form, 'mode').value
    };
    leaderDecimals.forEach(function (k) {
      var v = fieldInput(form, k).value.trim();
      if (v !== '') { body[k] = v; }
    });
    var guard = fieldInput(form, 'price_guard').value.trim();
    if (guard !== '') { body.price_guard = shiftDecimal(guard, -2); }
    var age = fieldInput(form, 'max_age_seconds').value.trim();
    if (age !== '') {
      if (!/^\d+$/.test(age)) { throw new APIError(400, { message: 'Check the staleness.', fields: { max_age_seconds: 'must be a whole number of seconds' } }); }
      body.max_age_seconds = Number(age);
    }
    return body;
  }

  function fillLeaderForm(l) {
    var form = byId('leader-form');
    clearErrors(form);
    form.dataset.leaderId = l ? l.id : '';
    setText('leader-editor-title', l ? 'Edit ' + (l.label || l.address) : 'Follow a wallet');
    setText('leader-editor-id', l ? l.id : '');
    fieldInput(form, 'address').value = l ? l.address : '';
    fieldInput(form, 'label').value = l ? l.label : '';
    fieldInput(form, 'enabled').checked = l ? l.enabled : true;
    fieldInput(form, 'mode').value = l ? l.mode : 'proportional';
    leaderDecimals.forEach(function (k) {
      var v = l ? String(l[k] || '') : '';
      fieldInput(form, k).value = /^0(\.0*)?$/.test(v) ? '' : v;
    });
    var g = l ? shiftDecimal(l.price_guard, 2) : '';
    fieldInput(form, 'price_guard').value = g === '0' ? '' : g;
    fieldInput(form, 'max_age_seconds').value = l ? String(l.max_age_seconds) : '';
  }

  async function submitLeaderForm(form) {
    clearErrors(form);
    var body;
    try {
      body = leaderBody(form);
    } catch (err) {
      showErrors(form, err);
      return;
    }
    var id = form.dataset.leaderId;
    setBusy(form, true);
    try {
      if (id) {
        await api('PUT', '/api/v1/copy/leaders/' + encodeURIComponent(id), body);
      } else {
        await api('POST', '/api/v1/copy/leaders', body);
      }
    } catch (err) {
      setBusy(form, false);
      if (err.fields && err.fields.price_guard) { err.fields.price_guard = 'must be at least 0 cents and below 100'; }
      if (err.fields && err.fields.leaders) { err.fields = {}; }
      showErrors(form, err);
      return;
    }
    location.reload();
  }

  async function leaderAction(el) {
    var action = el.dataset.action;
    var err = byId('leaders-error');
    if (err) { err.textContent = ''; }
    if (action === 'new-leader') {
      fillLeaderForm(null);
      byId('leader-form-address').focus();
      return;
    }
    if (action === 'copy-address') {
      try {
        await navigator.clipboard.writeText(el.dataset.address);
        toast('Address copied.', 'ok');
      } catch (e) {
        toast(el.dataset.address);
      }
      return;
    }
    var id = el.dataset.leaderId;
    var row = byId('leader-' + id);
    var l = row ? JSON.parse(row.dataset.leader) : null;
    try {
      if (action === 'edit-leader') {
        fillLeaderForm(l);
        byId('leader-editor').scrollIntoView({ block: 'start' });
        byId('leader-form-address').focus();
      } else if (action === 'toggle-leader') {
        l.enabled = el.checked;
        var saved = await api('PUT', '/api/v1/copy/leaders/' + encodeURIComponent(id), l);
        row.dataset.leader = JSON.stringify(saved);
        toast((saved.label || saved.address) + (saved.enabled ? ' is followed.' : ' is paused.'), 'ok');
      } else if (action === 'delete-leader') {
        if (!(await confirmAction('Stop following this wallet?', '“' + el.dataset.leaderName + '” is no longer copied, and its copy history is deleted. What you hold stays yours.', 'Delete leader'))) { return; }
        await api('DELETE', '/api/v1/copy/leaders/' + encodeURIComponent(id));
        location.reload();
      }
    } catch (e) {
      if (action === 'toggle-leader') { el.checked = !el.checked; }
      if (err) { err.textContent = e.message; }
      toast(e.message, 'error');
    }
  }

  // -------------------------------------------------------------- theme

  function currentTheme() {
    var t = doc.documentElement.getAttribute('data-theme');
    if (t) { return t; }
    return window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }

  function syncThemeButton() {
    var b = byId('theme-toggle');
    if (b) { b.setAttribute('aria-pressed', String(currentTheme() === 'dark')); }
  }

  function toggleTheme() {
    var next = currentTheme() === 'dark' ? 'light' : 'dark';
    doc.documentElement.setAttribute('data-theme', next);
    try { window.localStorage.setItem('polybot-theme', next); } catch (e) { /* not remembered */ }
    syncThemeButton();
  }

  // -------------------------------------------------------------- wiring

  doc.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || form.getAttribute('method') === 'dialog') { return; }
    if (form.classList.contains('key-form')) {
      ev.preventDefault();
      submitKeyForm(form);
    } else if (form.id === 'rule-form') {
      ev.preventDefault();
      submitRuleForm(form);
    } else if (form.id === 'leader-form') {
      ev.preventDefault();
      submitLeaderForm(form);
    } else if (form.dataset.api) {
      ev.preventDefault();
      submitAPIForm(form);
    }
    // Other forms (log out) post natively with their hidden CSRF field.
  });

  doc.addEventListener('reset', function (ev) {
    var form = ev.target;
    if (form instanceof HTMLFormElement && form.id) {
      clearErrors(form);
      formStatus(form, '', 'idle');
    }
  });

  doc.addEventListener('click', function (ev) {
    var el = ev.target.closest('[data-action], [data-wizard], #theme-toggle');
    if (!el) { return; }
    if (el.id === 'theme-toggle') { toggleTheme(); return; }
    if (el.dataset.wizard) { showPanel(el.dataset.wizard); return; }
    var action = el.dataset.action;
    if (action === 'generate-key') {
      generateKey(el);
    } else if (/-key$/.test(action)) {
      keyAction(el);
    } else if (/-token$/.test(action)) {
      tokenAction(el);
    } else if (action === 'bot-start' || action === 'bot-stop') {
      botAction(el);
    } else if (action === 'choose-tier') {
      chooseTier(el);
    } else if (action === 'billing-portal') {
      billingPortal(el);
    } else if (action === 'set-price') {
      setPrice(el);
    } else if (/^(approve|reject|delete)-(set|relation)$/.test(action)) {
      overlapAction(el);
    } else if (action === 'set-tier' || action === 'set-disabled' || /-pair$/.test(action)) {
      adminAction(el);
    } else if (/-rule$/.test(action)) {
      ruleAction(el);
    } else if (/-leader$/.test(action) || action === 'copy-address') {
      leaderAction(el);
    } else if (/^(copy|dismiss|delete)-hook$/.test(action) || action === 'delete-feed') {
      newsSourceAction(el);
    } else if (action === 'revoke-session' || action === 'sign-out-everywhere') {
      sessionAction(el);
    } else if (action === 'chart-range') {
      if (chartState.series) {
        ev.preventDefault();
        setChartRange(el.dataset.range);
      }
    } else if (action === 'toggle-series') {
      toggleSeries(el.dataset.strategy);
    }
  });

  function init() {
    syncThemeButton();
    if (window.matchMedia) {
      var mq = window.matchMedia('(prefers-color-scheme: dark)');
      if (mq.addEventListener) { mq.addEventListener('change', syncThemeButton); }
    }
    var page = doc.body.dataset.page;
    localTimes(doc);
    initNavToggle();
    $$('table.table').forEach(cardTable);
    if (page === 'dashboard') { initDashboard(); }
    if (page === 'onboarding') { initOnboarding(); }
    if (page === 'news') { initNews(); }
    doc.documentElement.dataset.js = 'ready';
  }

  if (doc.readyState === 'loading') {
    doc.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
