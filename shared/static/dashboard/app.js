// The organization console: plain JavaScript, no dependencies, no build step.
//
// Talks to the API of the same origin only. The API prefix is taken from the page's
// own path, so the console works at /dashboard, /api/v1/dashboard and behind an API
// Gateway stage (/dev/dashboard, /dev/api/v1/dashboard) alike.
// The token lives in memory and in sessionStorage (this tab only): never in a cookie,
// never in the URL. API data reaches the page through textContent only.
(function () {
  'use strict';

  const STORE_KEY = 'org-console.session';
  const ITEM_MAX_BYTES = 64 * 1024;
  const NAME_RE = /^[A-Za-z0-9_-]{3,50}$/;
  const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

  /** "/api/v1/dashboard" -> "/api/v1"; "/dashboard" -> ""; "/dev/dashboard/" -> "/dev". */
  function apiBase(pathname) {
    const at = pathname.lastIndexOf('/dashboard');
    return at >= 0 ? pathname.slice(0, at) : '';
  }
  const API = apiBase(window.location.pathname);

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ errors

  /** A failed API call, or a check that failed before any call. */
  class ConsoleError extends Error {
    constructor(message, { status = 0, fields = [], retryAfter = null } = {}) {
      super(message);
      this.status = status;
      this.fields = fields; // [{ field, msg }]
      this.retryAfter = retryAfter;
    }
  }

  /** A client-side check: one message for one field. */
  function invalid(field, msg) {
    return new ConsoleError(msg, { fields: [{ field, msg }] });
  }

  /** The field a 422 `loc` names: ["body", "password"] -> "password"; ["body"] -> "body". */
  function fieldOfLoc(loc) {
    if (!Array.isArray(loc) || loc.length === 0) return '';
    const parts = loc.map(String);
    const rest = parts[0] === 'body' || parts[0] === 'query' || parts[0] === 'path' ? parts.slice(1) : parts;
    return rest.length ? rest.join('.') : parts[0];
  }

  function errorOf(res, data) {
    const detail = data && typeof data === 'object' ? data.detail : undefined;
    if (res.status === 429) {
      const after = (res.headers.get('Retry-After') || '').trim();
      const seconds = /^\d+$/.test(after) ? Number(after) : null;
      const wait = seconds === null
        ? 'try again later'
        : `try again in ${seconds} second${seconds === 1 ? '' : 's'}`;
      const why = typeof detail === 'string' && detail ? detail.replace(/\.$/, '') : 'Too many attempts';
      // The server's text may already say when; the header is what counts.
      const text = why.includes(wait) ? why : `${why} (${wait})`;
      return new ConsoleError(`${text}.`, { status: 429, retryAfter: seconds });
    }
    if (Array.isArray(detail)) {
      const fields = detail.map((d) => ({
        field: fieldOfLoc(d && d.loc),
        msg: d && d.msg !== undefined ? String(d.msg) : 'Invalid value',
      }));
      return new ConsoleError('The server refused some values.', { status: res.status, fields });
    }
    if (typeof detail === 'string' && detail) {
      return new ConsoleError(detail, { status: res.status });
    }
    return new ConsoleError(`Unexpected answer from the server (HTTP ${res.status}).`, { status: res.status });
  }

  // ------------------------------------------------------------------ API

  let session = null; // { token, organizationName, organizationId, email, expiresAt }
  let expiryTimer = null;

  /** Calls the API; resolves with the JSON body (null for 204), rejects with ConsoleError. */
  async function api(method, path, { body, auth = false } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth) {
      if (!session) throw new ConsoleError('You are not logged in.', { status: 401 });
      headers.Authorization = `Bearer ${session.token}`;
    }
    let res;
    try {
      res = await fetch(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
        referrerPolicy: 'no-referrer',
      });
    } catch (_) {
      throw new ConsoleError('Cannot reach the server. Check the connection and try again.');
    }
    let data = null;
    const text = res.status === 204 ? '' : await res.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = null;
      }
    }
    if (res.ok) return data;
    const err = errorOf(res, data);
    if (auth && res.status === 401) {
      // Expired or revoked (logout elsewhere, password change): start again.
      endSession(`Your session has ended (${err.message.replace(/\.$/, '')}). Please log in again.`, 'error');
    }
    throw err;
  }

  // ------------------------------------------------------------------ session

  function saveSession() {
    try {
      if (session) window.sessionStorage.setItem(STORE_KEY, JSON.stringify(session));
      else window.sessionStorage.removeItem(STORE_KEY);
    } catch (_) {
      // Storage refused (private mode): the session stays in memory only.
    }
  }

  function loadSession() {
    try {
      const raw = window.sessionStorage.getItem(STORE_KEY);
      const s = raw ? JSON.parse(raw) : null;
      if (s && typeof s.token === 'string' && typeof s.organizationName === 'string' && s.expiresAt > Date.now()) {
        return s;
      }
    } catch (_) {
      // Unreadable: ignore.
    }
    return null;
  }

  function armExpiry() {
    window.clearTimeout(expiryTimer);
    if (!session) return;
    const left = Math.max(0, session.expiresAt - Date.now());
    // setTimeout holds at most ~24.8 days; tokens live far less.
    expiryTimer = window.setTimeout(() => endSession('Your session expired. Please log in again.', 'error'), Math.min(left, 2 ** 31 - 1));
  }

  // ------------------------------------------------------------------ messages

  function notice(text, kind) {
    const box = $('notice');
    box.textContent = text || '';
    box.classList.toggle('notice-error', kind === 'error');
    box.classList.toggle('notice-ok', kind !== 'error');
  }

  function region(form, role) {
    return form.querySelector(`[data-role="${role}"]`);
  }

  function labelOf(control) {
    const label = control && control.id ? document.querySelector(`label[for="${control.id}"]`) : null;
    return label ? label.textContent.replace(/\s+/g, ' ').trim() : '';
  }

  function clearMessages(form) {
    for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const error = region(form, 'error');
    if (error) error.replaceChildren();
    const success = region(form, 'success');
    if (success) success.textContent = '';
  }

  /** Shows an error next to the form (and each field's message next to its field). */
  function showError(form, err, fieldAliases = {}) {
    const box = region(form, 'error');
    const lines = []; // what no field of the form shows
    const marked = []; // labels of the fields that show their message
    let firstInvalid = null;
    if (err.fields && err.fields.length) {
      for (const { field, msg } of err.fields) {
        const name = fieldAliases[field] || fieldAliases[field.split('.')[0]] || fieldAliases['*'] || field;
        const control = form.elements.namedItem(name);
        const target = control && control.id ? $(`${control.id}-error`) : null;
        if (target) {
          target.textContent = target.textContent ? `${target.textContent} ${msg}` : msg;
          control.setAttribute('aria-invalid', 'true');
          firstInvalid = firstInvalid || control;
          const label = labelOf(control);
          if (!marked.includes(label)) marked.push(label);
        } else {
          lines.push(field ? `${field}: ${msg}` : msg);
        }
      }
      if (marked.length) {
        lines.unshift(`Check the field${marked.length > 1 ? 's' : ''} marked above: ${listOf(marked)}.`);
      }
    } else {
      lines.push(err.message);
    }
    if (box && lines.length === 1) {
      box.textContent = lines[0];
    } else if (box) {
      const list = document.createElement('ul');
      for (const line of lines) {
        const li = document.createElement('li');
        li.textContent = line;
        list.append(li);
      }
      box.replaceChildren(list);
    }
    if (firstInvalid) firstInvalid.focus();
  }

  function showSuccess(form, text) {
    const box = region(form, 'success');
    if (box) box.textContent = text;
  }

  /** Runs `work` on submit: one request at a time, messages cleared, errors shown. */
  function onSubmit(form, work, fieldAliases) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (form.getAttribute('aria-busy') === 'true') return;
      clearMessages(form);
      form.setAttribute('aria-busy', 'true');
      // Disabling the focused submit button drops focus: give it back afterwards.
      const focused = document.activeElement;
      const buttons = form.querySelectorAll('button');
      for (const b of buttons) b.disabled = true;
      try {
        await work(form);
      } catch (err) {
        if (!(err instanceof ConsoleError)) {
          console.error(err);
          showError(form, new ConsoleError('Something went wrong in the console. Reload the page and try again.'));
        } else if (!(err.status === 401 && !session && form.closest('#signed-in-view'))) {
          // (A 401 on a signed-in form has already ended the session and said so.)
          showError(form, err, fieldAliases);
        }
      } finally {
        form.removeAttribute('aria-busy');
        for (const b of buttons) b.disabled = false;
        updatePager();
        const lost = !document.activeElement || document.activeElement === document.body;
        if (lost && focused && focused.isConnected && focused.getClientRects().length > 0) focused.focus();
      }
    });
  }

  // ------------------------------------------------------------------ checks

  function passwordRules(password) {
    const bytes = new TextEncoder().encode(password).length;
    return {
      length: bytes >= 8 && bytes <= 72,
      upper: /[A-Z]/.test(password),
      lower: /[a-z]/.test(password),
      digit: /[0-9]/.test(password),
    };
  }

  /** Marks each rule of a list met or not met, in words as well as in colour. */
  function renderRules(list, password) {
    const state = passwordRules(password);
    for (const li of list.querySelectorAll('li[data-rule]')) {
      const met = Boolean(state[li.dataset.rule]);
      li.classList.toggle('met', met && password.length > 0);
      li.classList.toggle('unmet', !met && password.length > 0);
      let status = li.querySelector('.rule-state');
      if (!status) {
        status = document.createElement('span');
        status.className = 'visually-hidden rule-state';
        li.append(status);
      }
      status.textContent = password.length === 0 ? '' : met ? ' (met)' : ' (not met)';
    }
  }

  function checkPassword(field, password) {
    const state = passwordRules(password);
    const chars = [];
    if (!state.upper) chars.push('an uppercase letter');
    if (!state.lower) chars.push('a lowercase letter');
    if (!state.digit) chars.push('a digit');
    const parts = [];
    if (!state.length) parts.push('be 8 to 72 bytes long');
    if (chars.length) parts.push(`contain ${listOf(chars)}`);
    if (parts.length) throw invalid(field, `The password must ${parts.join(' and ')}.`);
  }

  /** ["a", "b", "c"] -> "a, b and c". */
  function listOf(words) {
    return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
  }

  function checkName(field, name) {
    if (!NAME_RE.test(name)) {
      throw invalid(field, 'Use 3 to 50 characters: letters, digits, _ or -.');
    }
  }

  function checkEmail(field, email) {
    if (!EMAIL_RE.test(email)) throw invalid(field, 'Enter a valid email address, such as admin@example.com.');
  }

  // ------------------------------------------------------------------ views

  function showSignedOut() {
    $('signed-in-view').hidden = true;
    $('session-bar').hidden = true;
    $('signed-out-view').hidden = false;
  }

  function showSignedIn() {
    $('signed-out-view').hidden = true;
    $('signed-in-view').hidden = false;
    $('session-bar').hidden = false;
    renderSessionBar();
  }

  function renderSessionBar() {
    $('session-email').textContent = session ? session.email || '' : '';
    $('password-username').value = session ? session.email || '' : '';
    $('session-org').textContent = session ? session.organizationName : '';
  }

  /** "2026-01-01T10:30:00.123Z" -> "2026-01-01 10:30:00 UTC": unambiguous everywhere. */
  function formatTime(value) {
    if (!value) return 'never';
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  }

  function renderOrg(org) {
    for (const dd of $('org-details').querySelectorAll('dd[data-field]')) {
      const key = dd.dataset.field;
      const value = org ? org[key] : '';
      if (key === 'created_at' || key === 'updated_at') {
        dd.replaceChildren();
        if (org) {
          const time = document.createElement('time');
          if (value) time.dateTime = String(value);
          time.textContent = formatTime(value);
          dd.append(time);
        }
      } else {
        dd.textContent = value == null ? '' : String(value);
      }
    }
    $('org-title-name').textContent = org ? org.organization_name : '';
    $('delete-name').textContent = org ? org.organization_name : '';
    document.title = org ? `${org.organization_name} · Organization console` : 'Organization console';
  }

  /** Forgets the token and every piece of the organization's data on the page. */
  function endSession(message, kind) {
    const email = session && session.email;
    session = null;
    saveSession();
    window.clearTimeout(expiryTimer);
    renderOrg(null);
    renderSessionBar();
    items.cursors = [null];
    items.page = 0;
    items.next = null;
    $('items-list').replaceChildren();
    $('items-status').textContent = '';
    $('items-error').textContent = '';
    for (const form of $('signed-in-view').querySelectorAll('form')) {
      form.reset();
      clearMessages(form);
    }
    renderRules($('password-new-rules'), '');
    $('login-password').value = '';
    if (email) $('login-email').value = email;
    notice(message || '', kind);
    showSignedOut();
    ($('login-email').value ? $('login-password') : $('login-email')).focus();
  }

  async function loadOrg() {
    const org = await api('GET', `/org/get?organization_name=${encodeURIComponent(session.organizationName)}`);
    // Only ever show the signed-in organization's own record.
    if (!org || org.id !== session.organizationId) {
      throw new ConsoleError('The organization found under this name is not yours: log in again.');
    }
    session.email = org.email;
    saveSession();
    renderSessionBar();
    renderOrg(org);
    return org;
  }

  async function enterConsole() {
    showSignedIn();
    armExpiry();
    renderSessionBar();
    $('org-title').focus();
    const refresh = $('refresh-form');
    clearMessages(refresh);
    try {
      await loadOrg();
    } catch (err) {
      if (session) showError(refresh, err);
      return;
    }
    await loadItems();
  }

  // ------------------------------------------------------------------ items

  const items = { cursors: [null], page: 0, next: null, limit: 10, count: 0, loading: false };

  function updatePager() {
    $('pager').hidden = items.page === 0 && !items.next;
    $('page-first').disabled = items.loading || items.page === 0;
    $('page-prev').disabled = items.loading || items.page === 0;
    $('page-next').disabled = items.loading || !items.next;
  }

  function renderItems(list) {
    const ol = $('items-list');
    ol.replaceChildren();
    for (const item of list) {
      const li = document.createElement('li');
      li.className = 'item';
      li.dataset.id = String(item.id);

      const meta = document.createElement('p');
      meta.className = 'item-meta';
      const idLabel = document.createElement('span');
      idLabel.textContent = 'ID ';
      const id = document.createElement('code');
      id.className = 'item-id';
      id.textContent = String(item.id);
      const created = document.createElement('span');
      created.className = 'item-created';
      created.textContent = ` · added ${formatTime(item.created_at)}`;
      meta.append(idLabel, id, created);

      const pre = document.createElement('pre');
      pre.className = 'item-data';
      pre.textContent = JSON.stringify(item.data, null, 2);

      const del = document.createElement('button');
      del.type = 'button';
      del.className = 'button danger small';
      del.textContent = 'Delete';
      del.setAttribute('aria-label', `Delete item ${item.id}`);
      del.addEventListener('click', () => deleteItem(String(item.id), del));

      li.append(meta, pre, del);
      ol.append(li);
    }
    items.count = list.length;
    const start = items.page * items.limit + 1;
    $('items-status').textContent = list.length === 0
      ? (items.page === 0 ? 'No items yet.' : `Page ${items.page + 1}: no items.`)
      : `Page ${items.page + 1}: items ${start} to ${start + list.length - 1}${items.next ? ', more on the next page' : ''}.`;
  }

  async function loadItems() {
    const errorBox = $('items-error');
    errorBox.textContent = '';
    items.loading = true;
    updatePager();
    const after = items.cursors[items.page];
    const query = `limit=${items.limit}` + (after ? `&after=${encodeURIComponent(after)}` : '');
    try {
      const page = await api('GET', `/org/items?${query}`, { auth: true });
      items.next = page && page.next ? String(page.next) : null;
      renderItems(page && Array.isArray(page.items) ? page.items : []);
    } catch (err) {
      if (session) errorBox.textContent = itemsErrorText(err);
    } finally {
      items.loading = false;
      updatePager();
    }
  }

  function itemsErrorText(err) {
    if (err.fields && err.fields.length) return err.fields.map((f) => `${f.field}: ${f.msg}`).join(' ');
    return err.message;
  }

  async function deleteItem(id, button) {
    const errorBox = $('items-error');
    errorBox.textContent = '';
    button.disabled = true;
    try {
      await api('DELETE', `/org/items/${encodeURIComponent(id)}`, { auth: true });
    } catch (err) {
      if (session) {
        errorBox.textContent = `Item ${id} could not be deleted: ${itemsErrorText(err)}`;
        button.disabled = false;
        button.focus();
      }
      return;
    }
    $('items-status').textContent = `Item ${id} deleted.`;
    if (items.count === 1 && items.page > 0) items.page -= 1;
    await loadItems();
    const status = $('items-status');
    status.textContent = `Item ${id} deleted. ${status.textContent}`;
    $('items-title').setAttribute('tabindex', '-1');
    $('items-title').focus();
  }

  // ------------------------------------------------------------------ wiring

  function wirePasswordRules() {
    for (const list of document.querySelectorAll('ul.rules[data-rules-for]')) {
      const input = $(list.dataset.rulesFor);
      const update = () => renderRules(list, input.value);
      input.addEventListener('input', update);
      update();
    }
  }

  function wireForms() {
    onSubmit($('login-form'), async (form) => {
      const email = form.elements.email.value.trim();
      const password = form.elements.password.value;
      if (!email) throw invalid('email', 'Enter your admin email.');
      if (!password) throw invalid('password', 'Enter your password.');
      const data = await api('POST', '/admin/login', { body: { email, password } });
      session = {
        token: String(data.access_token),
        organizationName: String(data.organization_name),
        organizationId: String(data.organization_id),
        email,
        expiresAt: Date.now() + Math.max(0, Number(data.expires_in) || 0) * 1000,
      };
      saveSession();
      form.elements.password.value = '';
      notice('');
      items.cursors = [null];
      items.page = 0;
      await enterConsole();
    });

    onSubmit($('create-form'), async (form) => {
      const name = form.elements.organization_name.value.trim();
      const email = form.elements.email.value.trim();
      const password = form.elements.password.value;
      checkName('organization_name', name);
      checkEmail('email', email);
      checkPassword('password', password);
      const org = await api('POST', '/org/create', {
        body: { organization_name: name, email, password },
      });
      form.reset();
      renderRules($('create-password-rules'), '');
      showSuccess(form, `Organization “${org.organization_name}” created (collection ${org.collection_name}). You can log in now.`);
      $('login-email').value = org.email;
    });

    onSubmit($('refresh-form'), async () => {
      await loadOrg();
      await loadItems();
    });

    onSubmit($('item-form'), async (form) => {
      const text = form.elements.data.value;
      if (!text.trim()) throw invalid('data', 'Enter a JSON object, such as {"name": "value"}.');
      let value;
      try {
        value = JSON.parse(text);
      } catch (e) {
        throw invalid('data', `This is not valid JSON (${e.message}).`);
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw invalid('data', 'An item must be a JSON object, such as {"name": "value"}.');
      }
      if (new TextEncoder().encode(JSON.stringify(value)).length > ITEM_MAX_BYTES) {
        throw invalid('data', 'This item is larger than 64 KiB.');
      }
      const item = await api('POST', '/org/items', { body: value, auth: true });
      form.elements.data.value = '';
      showSuccess(form, `Item ${item.id} added.`);
      await loadItems();
    }, { '*': 'data' });

    onSubmit($('page-form'), async (form) => {
      const raw = form.elements.limit.value.trim();
      const limit = Number(raw);
      if (!/^\d+$/.test(raw) || limit < 1 || limit > 100) {
        throw invalid('limit', 'Enter a whole number from 1 to 100.');
      }
      items.limit = limit;
      items.cursors = [null];
      items.page = 0;
      await loadItems();
    });

    $('page-next').addEventListener('click', async () => {
      if (!items.next) return;
      items.cursors[items.page + 1] = items.next;
      items.page += 1;
      await loadItems();
    });
    $('page-prev').addEventListener('click', async () => {
      if (items.page === 0) return;
      items.page -= 1;
      await loadItems();
    });
    $('page-first').addEventListener('click', async () => {
      items.page = 0;
      await loadItems();
    });

    onSubmit($('rename-form'), async (form) => {
      const name = form.elements.organization_name.value.trim();
      checkName('organization_name', name);
      const org = await api('PUT', '/org/update', { body: { organization_name: name }, auth: true });
      session.organizationName = org.organization_name;
      saveSession();
      renderSessionBar();
      renderOrg(org);
      form.reset();
      showSuccess(form, `Renamed to “${org.organization_name}”. The items now live in collection ${org.collection_name}.`);
      await loadItems();
    });

    onSubmit($('email-form'), async (form) => {
      const email = form.elements.email.value.trim();
      checkEmail('email', email);
      const org = await api('PUT', '/org/update', { body: { email }, auth: true });
      session.email = org.email;
      saveSession();
      renderSessionBar();
      renderOrg(org);
      form.reset();
      showSuccess(form, `The admin email is now ${org.email}. Use it to log in.`);
    });

    onSubmit($('password-form'), async (form) => {
      const password = form.elements.password.value;
      checkPassword('password', password);
      if (form.elements.password_confirm.value !== password) {
        throw invalid('password_confirm', 'The two passwords differ.');
      }
      await api('PUT', '/org/update', { body: { password }, auth: true });
      endSession('Password changed. Every session has ended: log in again with your new password.', 'ok');
    });

    onSubmit($('delete-form'), async (form) => {
      const typed = form.elements.confirm.value;
      const name = session.organizationName;
      if (typed !== name) {
        throw invalid('confirm', `Type the organization name exactly as shown: ${name}`);
      }
      await api('DELETE', `/org/delete?organization_name=${encodeURIComponent(name)}`, { auth: true });
      endSession(`Organization “${name}” and all its data were deleted.`, 'ok');
    });

    $('logout-button').addEventListener('click', async () => {
      const button = $('logout-button');
      button.disabled = true;
      let message = 'You are logged out.';
      try {
        await api('POST', '/admin/logout', { auth: true });
      } catch (err) {
        if (!session) {
          // A 401: the token was dead already, and endSession has run.
          notice('You are logged out.', 'ok');
          return;
        }
        message = `You are logged out in this tab, but the server could not revoke the token (${err.message}).`;
      } finally {
        button.disabled = false;
      }
      endSession(message, 'ok');
    });
  }

  function start() {
    wirePasswordRules();
    wireForms();
    updatePager();
    session = loadSession();
    if (session) {
      enterConsole();
    } else {
      saveSession();
      showSignedOut();
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
