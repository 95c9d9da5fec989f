// The Notifications page's script: plain JavaScript of our own. Its forms
// write through /api/v1/notifications and /api/v1/config with the
// session's CSRF token, show field errors next to each field, and reload
// the page to show the new state.
(function () {
  'use strict';
  var doc = document;
  function byId(id) { return doc.getElementById(id); }
  function csrf() { var m = doc.querySelector('meta[name="csrf-token"]'); return m ? m.getAttribute('content') : ''; }

  async function call(method, path, body) {
    var init = { method: method, credentials: 'same-origin', headers: { 'Accept': 'application/json', 'X-CSRF-Token': csrf() } };
    if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    var res = await fetch(path, init);
    var text = await res.text();
    var data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!res.ok) {
      var err = new Error((data && data.message) || ('HTTP ' + res.status));
      err.fields = (data && data.fields) || {};
      throw err;
    }
    return data;
  }

  function showError(form, err) {
    var shown = false;
    Object.keys(err.fields || {}).forEach(function (f) {
      var el = byId(form.id + '-' + f + '-error');
      if (el) { el.textContent = err.fields[f]; shown = true; }
      var input = byId(form.id + '-' + f);
      if (input) { input.setAttribute('aria-invalid', 'true'); }
    });
    var box = byId(form.id + '-error');
    if (box) { box.textContent = shown ? '' : err.message; }
    if (!box && !shown) { alert(err.message); }
  }

  function clearErrors(form) {
    form.querySelectorAll('.field-error, .form-error').forEach(function (el) { el.textContent = ''; });
    form.querySelectorAll('[aria-invalid]').forEach(function (el) { el.removeAttribute('aria-invalid'); });
  }

  function checked(form, name) {
    return Array.prototype.slice.call(form.querySelectorAll('input[name="' + name + '"]:checked')).map(function (el) { return el.value; });
  }

  function syncChannel() {
    var sel = byId('notify-add-form-channel');
    if (!sel) { return; }
    doc.querySelectorAll('#notify-add-form [data-channel]').forEach(function (el) {
      el.hidden = el.dataset.channel.split(' ').indexOf(sel.value) < 0;
    });
  }

  doc.addEventListener('change', function (ev) { if (ev.target.id === 'notify-add-form-channel') { syncChannel(); } });

  doc.addEventListener('submit', async function (ev) {
    var form = ev.target;
    if (!form.classList || !form.classList.contains('notify-form')) { return; }
    ev.preventDefault();
    clearErrors(form);
    try {
      if (form.id === 'notify-events-form') {
        await call('PUT', '/api/v1/config', {
          notify_on_trade: byId('notify-on-trade').checked,
          notify_on_opportunity: byId('notify-on-opportunity').checked,
          notify_daily_summary: byId('notify-daily-summary').checked,
          notification_channels: checked(form, 'notification_channels')
        });
        byId('notify-events-status').textContent = 'Saved.';
        return;
      }
      if (form.id === 'notify-add-form') {
        var ch = byId('notify-add-form-channel').value;
        var body = { channel: ch, name: byId('notify-add-form-name').value, events: checked(form, 'events') };
        if (ch === 'email') { body.email = byId('notify-add-form-email').value; }
        if (ch === 'telegram') { body.chat_id = byId('notify-add-form-chat_id').value; body.bot_token = byId('notify-add-form-bot_token').value; }
        if (ch === 'discord' || ch === 'webhook') { body.url = byId('notify-add-form-url').value; }
        var out = await call('POST', '/api/v1/notifications/destinations', body);
        if (out.signing_secret) {
          byId('notify-secret-once').hidden = false;
          byId('notify-secret-once-value').value = out.signing_secret;
          form.reset();
          return;
        }
        location.reload();
        return;
      }
      var id = form.dataset.destId;
      if (form.classList.contains('notify-verify-form')) {
        await call('POST', '/api/v1/notifications/destinations/' + encodeURIComponent(id) + '/verify', { code: form.querySelector('input[name="code"]').value });
        location.reload();
        return;
      }
      if (form.classList.contains('notify-dest-events-form')) {
        var evs = checked(form, 'events');
        await call('PATCH', '/api/v1/notifications/destinations/' + encodeURIComponent(id), {
          events: evs.length === form.querySelectorAll('input[name="events"]').length ? [] : evs,
          enabled: byId('dest-' + id + '-enabled').checked
        });
        location.reload();
      }
    } catch (err) {
      showError(form, err);
    }
  });

  doc.addEventListener('click', async function (ev) {
    var el = ev.target.closest('[data-action^="notify-"]');
    if (!el) { return; }
    var id = el.dataset.destId;
    var result = id ? byId('dest-' + id + '-result') : byId('notify-events-status');
    var path = '/api/v1/notifications/destinations/' + encodeURIComponent(id || '');
    el.disabled = true;
    try {
      switch (el.dataset.action) {
        case 'notify-test':
          var t = await call('POST', path + '/test');
          result.textContent = t.destination.verified_at ? 'Sent.' : 'Sent: enter the code it carries.';
          if (t.destination.verified_at) { location.reload(); }
          break;
        case 'notify-rotate':
          if (!confirm('Make a new signing secret? Deliveries are signed with it from now on.')) { break; }
          var r = await call('POST', path + '/rotate-secret');
          byId('notify-secret-once').hidden = false;
          byId('notify-secret-once-value').value = r.signing_secret;
          break;
        case 'notify-delete':
          if (!confirm('Delete this destination and its delivery log?')) { break; }
          await call('DELETE', path);
          location.reload();
          break;
        case 'notify-redeliver':
          await call('POST', '/api/v1/notifications/deliveries/' + el.dataset.deliveryId + '/redeliver');
          location.reload();
          break;
        case 'notify-summary':
          var s = await call('POST', '/api/v1/notifications/summary');
          result.textContent = s.queued ? 'Queued.' : 'No verified destination takes the summary.';
          break;
      }
    } catch (err) {
      if (result) { result.textContent = err.message + ' ' + Object.values(err.fields || {}).join(' '); }
    } finally {
      el.disabled = false;
    }
  });

  syncChannel();
})();
