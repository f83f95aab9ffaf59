// The organization console: plain JavaScript, no dependencies, no build step.
//
// Talks to the API of the same origin only. The API prefix is taken from the page's
// own path, so the console works at /dashboard, /api/v1/dashboard and behind an API
// Gateway stage (/dev/dashboard, /dev/api/v1/dashboard) alike.
// The token lives in memory and in sessionStorage (this tab only): never in a cookie,
// never in the URL; no password is ever kept. API data reaches the page through
// textContent only.
//
// Roles (owner, admin, member): the console offers only what the signed-in role may
// do (the table below mirrors the API's); the server still decides, and its 403 or
// 409 is shown when it refuses.
(function () {
  'use strict';

  const STORE_KEY = 'org-console.session';
  const ITEM_MAX_BYTES = 64 * 1024;
  const NAME_RE = /^[A-Za-z0-9_-]{3,50}$/;
  const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  const ROLES = ['owner', 'admin', 'member'];
  const TOKEN_RE = /^[A-Za-z0-9_-]{16,512}$/;
  const PAGE_MAX = 100; // the API's largest page
  const PAGES_MAX = 50; // members and invitations: at most this many pages are read
  const AUDIT_LIMITS = [10, 20, 50, 100]; // the audit view's page sizes (the API's default: 20)
  // The actions of the audit log, grouped as the filter offers them. The last group is
  // only ever seen refused (outcome denied): reads that the role may not make.
  const AUDIT_ACTIONS = [
    ['Organization', ['organization.created', 'organization.renamed', 'organization.deleted']],
    ['Accounts', ['user.login_succeeded', 'user.login_failed', 'user.logged_out', 'user.email_changed', 'user.email_change_requested', 'user.email_verified', 'user.password_changed', 'user.password_reset', 'user.verification_requested']],
    ['Members', ['member.role_changed', 'member.removed', 'member.left']],
    ['Invitations', ['invitation.created', 'invitation.resent', 'invitation.revoked', 'invitation.accepted']],
    ['Items', ['item.created', 'item.deleted']],
    ['Webhooks', ['webhook.created', 'webhook.updated', 'webhook.deleted', 'webhook.secret_rotated', 'webhook.disabled']],
    ['API keys', ['api_key.created', 'api_key.revoked']],
    ['Refused reads', ['invitation.listed', 'audit.read', 'event.listed', 'webhook.listed', 'webhook.read', 'webhook.tested', 'webhook.deliveries_listed', 'webhook.delivery_retried', 'api_key.listed']],
  ];
  const WEBHOOKS_MAX = 10; // endpoints an organization may have
  const WEBHOOK_TYPES_MAX = 50; // event types an endpoint may name
  const WEBHOOK_TYPE_RE = /^[A-Za-z0-9._-]{1,100}$/; // and a dot, as the API checks
  const DELIVERIES_LIMIT = 20; // the deliveries shown, newest first
  const RETRY_REFRESH_MS = 1500; // after a retry, the deliveries are read again this much later
  const API_KEYS_ACTIVE_MAX = 50; // active keys an organization may have
  const API_KEY_NAME_MAX = 100; // characters of a key's name
  const API_KEY_DAYS_MAX = 365; // the longest a key may live (none: no expiry)

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

  // { token, organizationName, organizationId, userId, email, role, organizations, expiresAt }
  let session = null;
  let expiryTimer = null;

  /** Sends one request to the API; resolves with its Response whatever the status,
   *  rejects with ConsoleError when there is no answer. */
  async function send(method, path, { body, auth = false, accept = 'application/json' } = {}) {
    const headers = { Accept: accept };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth) {
      if (!session) throw new ConsoleError('You are not logged in.', { status: 401 });
      headers.Authorization = `Bearer ${session.token}`;
    }
    try {
      return await fetch(API + path, {
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
  }

  /** The JSON body of an answer, or null. */
  async function jsonOf(res) {
    const text = res.status === 204 ? '' : await res.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (_) {
      return null;
    }
  }

  /** What a member of a suspended organization is told (at login, or when it happens). */
  const SUSPENDED =
    'Your organization is suspended by the service\'s operators: nobody can sign in to it or use its API keys until it is resumed. Contact your provider.';

  /** The ConsoleError of an answer that is not 2xx; a 401 to a signed-in call ends the
   *  session, and so does a 403 that says the organization is suspended. */
  function failure(res, data, auth) {
    const err = errorOf(res, data);
    if (auth && res.status === 401) {
      // Expired or revoked (logout elsewhere, password change): start again.
      endSession(`Your session has ended (${err.message.replace(/\.$/, '')}). Please log in again.`, 'error');
    } else if (res.status === 403 && err.message === 'Organization suspended') {
      // The service's operators suspended the organization: nothing works until they
      // resume it (a login says so; a session ends with the same words).
      err.message = SUSPENDED;
      if (auth) endSession(SUSPENDED, 'error');
    }
    return err;
  }

  /** Calls the API; resolves with the JSON body (null for 204), rejects with ConsoleError. */
  async function api(method, path, { body, auth = false } = {}) {
    const res = await send(method, path, { body, auth });
    const data = await jsonOf(res);
    if (res.ok) return data;
    throw failure(res, data, auth);
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
        s.role = roleOf(s.role); // checked against the server at once (GET /org/me)
        if (!Array.isArray(s.organizations)) s.organizations = [];
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

  // ------------------------------------------------------------------ roles

  /** What a role may do: the API's permission table, for what the console offers. */
  const may = {
    rename: (role) => role === 'owner',
    deleteOrganization: (role) => role === 'owner',
    manageInvitations: (role) => role === 'owner' || role === 'admin',
    readAudit: (role) => role === 'owner' || role === 'admin',
    manageWebhooks: (role) => role === 'owner' || role === 'admin',
    manageApiKeys: (role) => role === 'owner' || role === 'admin',
    /** The roles a key made by `role` may have: not above its own, and never owner. */
    keyRoles: (role) => (role === 'owner' || role === 'admin' ? ['member', 'admin'] : []),
    /** Invite as `as` (and resend or revoke an invitation for that role). */
    invite: (role, as) => role === 'owner' || (role === 'admin' && as !== 'owner'),
    /** The roles a member who is `from` can be given by `role` (none: not changeable). */
    rolesFor: (role, from) => {
      if (role === 'owner') return ROLES;
      if (role === 'admin' && from !== 'owner') return ['admin', 'member'];
      return [];
    },
    /** Remove someone else who is `target`. */
    remove: (role, target) => role === 'owner' || (role === 'admin' && target !== 'owner'),
  };

  function roleOf(value) {
    return ROLES.includes(value) ? value : 'member'; // unknown: the least one
  }

  /** The session of a login answer (also the answer of an accepted invitation). */
  function sessionOf(data, email) {
    const organizations = Array.isArray(data.organizations)
      ? data.organizations
        .filter((o) => o && typeof o.organization_name === 'string')
        .map((o) => ({ organization_name: o.organization_name, role: roleOf(o.role) }))
      : [];
    return {
      token: String(data.access_token),
      organizationName: String(data.organization_name),
      organizationId: String(data.organization_id),
      userId: data.admin_id ? String(data.admin_id) : '',
      email: email || '',
      role: roleOf(data.role),
      organizations,
      expiresAt: Date.now() + Math.max(0, Number(data.expires_in) || 0) * 1000,
    };
  }

  /** Keeps the session's list of organizations in step with the current one. */
  function syncMembership(oldName) {
    if (!session) return;
    if (!Array.isArray(session.organizations)) session.organizations = [];
    const mine = session.organizations.find((o) => o.organization_name === oldName || o.organization_name === session.organizationName);
    if (mine) {
      mine.organization_name = session.organizationName;
      mine.role = session.role;
    } else {
      session.organizations.push({ organization_name: session.organizationName, role: session.role });
    }
  }

  // ------------------------------------------------------------------ views

  /** Hides the views a link opens (accept, reset) and the forgotten-password one. */
  function hideLinkViews() {
    $('accept-view').hidden = true;
    $('forgot-view').hidden = true;
    $('reset-view').hidden = true;
  }

  function showSignedOut() {
    hideLinkViews();
    $('signed-in-view').hidden = true;
    $('session-bar').hidden = true;
    $('signed-out-view').hidden = false;
  }

  function showSignedIn() {
    hideLinkViews();
    $('signed-out-view').hidden = true;
    $('signed-in-view').hidden = false;
    $('session-bar').hidden = false;
    renderSessionBar();
  }

  /** The "verify your email" banner, while the caller's address is not verified. */
  function renderVerifyBanner() {
    const unverified = Boolean(session) && session.emailVerified === false;
    $('verify-banner-email').textContent = unverified ? session.email : '';
    $('verify-banner').hidden = !unverified;
  }

  function renderSessionBar() {
    $('session-email').textContent = session ? session.email || '' : '';
    $('password-username').value = session ? session.email || '' : '';
    $('session-org').textContent = session ? session.organizationName : '';
    $('session-role').textContent = session ? session.role : '';
    $('me-role').textContent = session ? session.role : '';
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
    forgetPeople();
    forgetAudit();
    forgetWebhooks();
    forgetApiKeys();
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

  /** Who the caller is (email, role, as stored now) and its organization (its name may
   *  have changed by another owner's rename). */
  async function loadOrg() {
    const me = await api('GET', '/org/me', { auth: true });
    const org = me && me.organization;
    // Only ever show the signed-in organization's own record.
    if (!org || org.id !== session.organizationId) {
      throw new ConsoleError('The organization found is not the one you logged in to: log in again.');
    }
    const oldName = session.organizationName;
    session.email = String(me.email || '');
    if (me.user_id) session.userId = String(me.user_id);
    session.role = roleOf(me.role);
    session.emailVerified = me.email_verified === true;
    session.organizationName = String(org.organization_name);
    syncMembership(oldName);
    saveSession();
    renderSessionBar();
    renderVerifyBanner();
    renderOrg(org);
    applyRole();
    return org;
  }

  /** Shows and hides what the signed-in role may use. */
  function applyRole() {
    const role = session ? session.role : 'member';
    $('rename-form').hidden = !may.rename(role);
    $('delete-card').hidden = !may.deleteOrganization(role);
    const inviting = may.manageInvitations(role);
    if (!inviting) {
      hideInviteLink();
      invitations.list = [];
      $('invitations-list').replaceChildren();
      $('invitations-status').textContent = '';
    }
    $('invitations-card').hidden = !inviting;
    $('signed-in-view').querySelector('.console').classList.toggle('no-invitations', !inviting);
    const auditing = may.readAudit(role);
    if (!auditing) forgetAudit();
    $('audit-card').hidden = !auditing;
    const hooking = may.manageWebhooks(role);
    if (!hooking) forgetWebhooks();
    $('webhooks-card').hidden = !hooking;
    const keying = may.manageApiKeys(role);
    if (!keying) forgetApiKeys();
    $('api-keys-card').hidden = !keying;
    const keyRole = $('api-key-role');
    const keyChosen = keyRole.value;
    const keyRoles = may.keyRoles(role);
    keyRole.replaceChildren(...keyRoles.map((r) => option(r, r)));
    keyRole.value = keyRoles.includes(keyChosen) ? keyChosen : 'member';
    const select = $('invite-role');
    const chosen = select.value;
    const offered = ['member', 'admin', 'owner'].filter((r) => may.invite(role, r));
    select.replaceChildren(...offered.map((r) => option(r, r)));
    select.value = offered.includes(chosen) ? chosen : 'member';
    renderSessionBar();
    renderSwitcher();
    renderMembers();
    renderInvitations();
  }

  function option(value, text) {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = text;
    return o;
  }

  async function enterConsole() {
    showSignedIn();
    armExpiry();
    applyRole();
    $('org-title').focus();
    const refresh = $('refresh-form');
    clearMessages(refresh);
    try {
      await loadOrg();
    } catch (err) {
      if (session) showError(refresh, err);
      return;
    }
    await Promise.all([loadItems(), loadMembers(), loadInvitations(), loadAudit(), loadWebhooks(), loadApiKeys()]);
  }

  /** A new session from a login answer (login, switch, accepted invitation). */
  async function startSession(data, email, message) {
    forgetPeople();
    forgetAudit();
    forgetWebhooks();
    forgetApiKeys();
    session = sessionOf(data, email);
    saveSession();
    notice(message || '', 'ok');
    items.cursors = [null];
    items.page = 0;
    await enterConsole();
  }

  /** The other organizations of the user, to switch to by logging in again. */
  function renderSwitcher() {
    const form = $('switch-form');
    const orgs = session && Array.isArray(session.organizations) ? session.organizations : [];
    const current = session ? session.organizationName : '';
    const others = orgs.filter((o) => o.organization_name !== current);
    form.hidden = others.length === 0;
    const list = $('switch-list');
    list.replaceChildren();
    for (const o of orgs) {
      const li = document.createElement('li');
      const name = document.createElement('strong');
      name.textContent = o.organization_name;
      li.append(name, ` · ${o.role}${o.organization_name === current ? ' (this one)' : ''}`);
      list.append(li);
    }
    const select = $('switch-org');
    const chosen = select.value;
    select.replaceChildren(...others.map((o) => option(o.organization_name, `${o.organization_name} (${o.role})`)));
    if (others.some((o) => o.organization_name === chosen)) select.value = chosen;
    $('switch-username').value = session ? session.email || '' : '';
  }

  /** After the server refused a change: a 403 may mean that the role changed meanwhile,
   *  a 404 that the member or invitation is gone: look again. */
  async function afterRefusal(err) {
    if (!session || ![403, 404, 409].includes(err.status)) return;
    const before = session.role;
    if (err.status === 403) {
      try {
        await loadOrg();
      } catch (_) {
        return;
      }
      if (session && session.role !== before) {
        notice(`The server refused: ${err.message.replace(/\.$/, '')}. Your role in this organization is now ${session.role}: the console shows only what it allows.`, 'error');
      }
    }
    await Promise.all([loadMembers(), loadInvitations()]);
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

  // ------------------------------------------------------------------ members

  const members = { list: [] };
  const invitations = { list: [], status: '' };

  /** Forgets every member, invitation and link on the page. */
  function forgetPeople() {
    members.list = [];
    invitations.list = [];
    $('members-list').replaceChildren();
    $('members-table').hidden = true;
    $('invitations-table').hidden = true;
    $('members-status').textContent = '';
    $('members-error').textContent = '';
    $('invitations-list').replaceChildren();
    $('invitations-status').textContent = '';
    $('invitations-error').textContent = '';
    hideInviteLink();
  }

  /** Reads every page of a list (members, invitations); rejects with ConsoleError. */
  async function readAll(path, key, query = '') {
    const all = [];
    let after = null;
    for (let i = 0; i < PAGES_MAX; i += 1) {
      const q = `limit=${PAGE_MAX}${query}${after ? `&after=${encodeURIComponent(after)}` : ''}`;
      const page = await api('GET', `${path}?${q}`, { auth: true });
      all.push(...(page && Array.isArray(page[key]) ? page[key] : []));
      after = page && page.next ? String(page.next) : null;
      if (!after) break;
    }
    return all;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function smallButton(text, kind, label) {
    const b = el('button', `button ${kind} small`, text);
    b.type = 'button';
    if (label) b.setAttribute('aria-label', label);
    return b;
  }

  /** A date for a table cell, the full time on hover and for assistive technology. */
  function dateCell(value) {
    const td = el('td', 'date');
    if (!value) return td;
    const time = el('time', '', formatTime(value).slice(0, 10));
    time.dateTime = String(value);
    time.title = formatTime(value);
    td.append(time);
    return td;
  }

  async function loadMembers() {
    if (!session) return;
    try {
      members.list = await readAll('/org/members', 'members');
      renderMembers();
    } catch (err) {
      if (session) $('members-error').textContent = `The members could not be loaded: ${itemsErrorText(err)}`;
    }
  }

  function membersSaid(text) {
    const n = members.list.length;
    const count = `${n} member${n === 1 ? '' : 's'}.`;
    $('members-status').textContent = text ? `${text} ${count}` : count;
  }

  function renderMembers() {
    const tbody = $('members-list');
    tbody.replaceChildren();
    if (!session) return;
    const role = session.role;
    for (const m of members.list) {
      const id = String(m.user_id);
      const email = String(m.email);
      const current = roleOf(m.role);
      const self = id === session.userId;
      const tr = el('tr');
      tr.dataset.userId = id;
      tr.dataset.email = email;

      const who = el('td', 'person', email);
      if (self) who.append(el('span', 'you', ' (you)'));
      who.append(' ', m.email_verified === true
        ? el('span', 'badge verified', 'verified')
        : el('span', 'badge unverified', 'unverified'));

      const roleCell = el('td', 'role');
      const options = may.rolesFor(role, current);
      if (options.length) {
        const select = el('select');
        select.id = `member-role-${id}`;
        select.setAttribute('aria-label', `Role of ${email}`);
        select.append(...options.map((r) => option(r, r)));
        select.value = current;
        const change = smallButton('Change', 'secondary', `Change the role of ${email}`);
        change.disabled = true;
        select.addEventListener('change', () => {
          change.disabled = select.value === current;
        });
        change.addEventListener('click', () => changeRole(m, select, change));
        const wrap = el('div', 'role-edit');
        wrap.append(select, change);
        roleCell.append(wrap);
      } else {
        roleCell.textContent = current;
      }

      const actions = el('td', 'actions');
      if (self) {
        const leave = smallButton('Leave', 'danger', 'Leave the organization');
        leave.addEventListener('click', () => confirmIn(actions,
          `Leave “${session.organizationName}”? You lose access to it at once.`, 'Yes, leave',
          () => removeMember(m, true)));
        actions.append(leave);
      } else if (may.remove(role, current)) {
        const remove = smallButton('Remove', 'danger', `Remove ${email}`);
        remove.addEventListener('click', () => confirmIn(actions,
          `Remove ${email} from the organization?`, 'Yes, remove', () => removeMember(m, false)));
        actions.append(remove);
      }
      tr.append(who, roleCell, dateCell(m.joined_at), actions);
      tbody.append(tr);
    }
    $('members-table').hidden = members.list.length === 0;
    membersSaid('');
    renderAuditActors();
  }

  /** Asks in place before a removal: `work` resolves true when it is done. Cancelling
   *  puts the cell back and focuses `opener` (by default the cell's first control). */
  function confirmIn(cell, question, yesText, work, opener) {
    const before = [...cell.childNodes];
    const box = el('div', 'confirm');
    const yes = smallButton(yesText, 'danger');
    const no = smallButton('Cancel', 'secondary');
    const back = () => {
      cell.replaceChildren(...before);
      const target = opener && opener.isConnected ? opener : before[0];
      if (target && target.focus) target.focus();
    };
    no.addEventListener('click', back);
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      no.disabled = true;
      const done = await work();
      if (!done && box.isConnected) back();
    });
    box.append(el('p', 'confirm-question', question), yes, no);
    cell.replaceChildren(box);
    yes.focus();
  }

  async function changeRole(m, select, button) {
    const box = $('members-error');
    box.textContent = '';
    const id = String(m.user_id);
    const email = String(m.email);
    const to = select.value;
    select.disabled = true;
    button.disabled = true;
    let updated;
    try {
      updated = await api('PATCH', `/org/members/${encodeURIComponent(id)}`, { body: { role: to }, auth: true });
    } catch (err) {
      if (session) {
        box.textContent = `The role of ${email} could not be changed: ${itemsErrorText(err)}`;
        select.disabled = false;
        button.disabled = false;
        await afterRefusal(err);
      }
      return;
    }
    if (id === session.userId) await loadOrg().catch(() => {});
    await loadMembers();
    membersSaid(`${email} is now ${roleOf(updated && updated.role)}.`);
    const again = $(`member-role-${id}`);
    (again || $('members-title')).focus();
  }

  async function removeMember(m, self) {
    const box = $('members-error');
    box.textContent = '';
    const email = String(m.email);
    const name = session.organizationName;
    try {
      await api('DELETE', `/org/members/${encodeURIComponent(String(m.user_id))}`, { auth: true });
    } catch (err) {
      if (session) {
        box.textContent = self
          ? `You could not leave: ${itemsErrorText(err)}`
          : `${email} could not be removed: ${itemsErrorText(err)}`;
        await afterRefusal(err);
      }
      return false;
    }
    if (self) {
      endSession(`You left organization “${name}”. Log in again for your other organizations, if any.`, 'ok');
      return true;
    }
    await loadMembers();
    membersSaid(`${email} was removed.`);
    $('members-title').focus();
    return true;
  }

  // ------------------------------------------------------------------ invitations

  /** Loads the invitations (of the chosen status). Leaves the error box alone: it may
   *  hold why an action was just refused. */
  async function loadInvitations() {
    if (!session || !may.manageInvitations(session.role)) return;
    const box = $('invitations-error');
    const status = invitations.status;
    try {
      invitations.list = await readAll('/org/invitations', 'invitations', status ? `&status=${encodeURIComponent(status)}` : '');
      renderInvitations();
    } catch (err) {
      if (session) box.textContent = `The invitations could not be loaded: ${itemsErrorText(err)}`;
    }
  }

  function invitationsSaid(text) {
    const n = invitations.list.length;
    const kind = invitations.status ? `${invitations.status} ` : '';
    const count = n === 0 ? `No ${kind}invitations.` : `${n} ${kind}invitation${n === 1 ? '' : 's'}.`;
    $('invitations-status').textContent = text ? `${text} ${count}` : count;
  }

  function renderInvitations() {
    const tbody = $('invitations-list');
    tbody.replaceChildren();
    if (!session || !may.manageInvitations(session.role)) return;
    const role = session.role;
    for (const inv of invitations.list) {
      const id = String(inv.id);
      const email = String(inv.email);
      const status = String(inv.status);
      const tr = el('tr');
      tr.dataset.id = id;
      tr.dataset.email = email;
      const statusCell = el('td');
      statusCell.append(el('span', `status status-${status.replace(/[^a-z]/g, '')}`, status));
      const actions = el('td', 'actions');
      if (status === 'pending' && may.invite(role, roleOf(inv.role))) {
        const resend = smallButton('Resend', 'secondary', `Resend the invitation for ${email}`);
        resend.addEventListener('click', () => resendInvitation(inv, resend));
        const revoke = smallButton('Revoke', 'danger', `Revoke the invitation for ${email}`);
        revoke.addEventListener('click', () => revokeInvitation(inv, revoke));
        actions.append(resend, revoke);
      }
      tr.append(el('td', 'person', email), el('td', 'role', String(inv.role)), statusCell, dateCell(inv.expires_at), actions);
      tbody.append(tr);
    }
    $('invitations-table').hidden = invitations.list.length === 0;
    invitationsSaid('');
  }

  /** The accept link of a token: this page, whatever its path (/dashboard, /api/v1/dashboard). */
  function acceptLink(token) {
    return `${window.location.origin}${window.location.pathname}#accept=${encodeURIComponent(token)}`;
  }

  /** Shows the link of a new or resent invitation (the only time its token is seen). */
  function showInviteLink(inv, resent) {
    const email = String(inv.email);
    $('invite-link-title').textContent = resent ? `New invitation link for ${email}` : `Invitation link for ${email}`;
    $('invite-link-label').textContent = `Link for ${email} (${inv.role}, until ${formatTime(inv.expires_at)})`;
    $('invite-link-url').value = acceptLink(String(inv.token));
    $('invite-link-status').textContent = resent ? 'The earlier link no longer works.' : '';
    $('invite-link').hidden = false;
    $('invite-link-url').focus();
    $('invite-link-url').select();
  }

  function hideInviteLink() {
    $('invite-link-url').value = '';
    $('invite-link-status').textContent = '';
    $('invite-link').hidden = true;
  }

  /** Copies a read-only field (`what`: "link", "secret", "key") to the clipboard, or selects it
   *  for the person to copy; says which in `status`. */
  async function copyField(input, status, what) {
    status.textContent = '';
    try {
      if (!navigator.clipboard || typeof navigator.clipboard.writeText !== 'function') throw new Error('no clipboard');
      await navigator.clipboard.writeText(input.value);
      status.textContent = `${what[0].toUpperCase()}${what.slice(1)} copied to the clipboard.`;
    } catch (_) {
      // No clipboard access (permission, older browser): the field is selected instead.
      input.focus();
      input.select();
      status.textContent = `The browser did not let the console copy: the ${what} is selected, press Ctrl+C (⌘C on a Mac) to copy it.`;
    }
  }

  async function copyInviteLink() {
    await copyField($('invite-link-url'), $('invite-link-status'), 'link');
  }

  async function resendInvitation(inv, button) {
    const box = $('invitations-error');
    box.textContent = '';
    const email = String(inv.email);
    button.disabled = true;
    let fresh;
    try {
      fresh = await api('POST', `/org/invitations/${encodeURIComponent(String(inv.id))}/resend`, { auth: true });
    } catch (err) {
      if (session) {
        box.textContent = `The invitation for ${email} could not be resent: ${itemsErrorText(err)}`;
        button.disabled = false;
        await afterRefusal(err);
      }
      return;
    }
    if (!fresh.token) {
      await loadInvitations();
      invitationsSaid(`A new invitation email is on its way to ${email}; the earlier link no longer works.`);
      return;
    }
    showInviteLink(fresh, true);
    await loadInvitations();
    invitationsSaid(`A new link for ${email} is shown above.`);
  }

  async function revokeInvitation(inv, button) {
    const box = $('invitations-error');
    box.textContent = '';
    const email = String(inv.email);
    button.disabled = true;
    try {
      await api('DELETE', `/org/invitations/${encodeURIComponent(String(inv.id))}`, { auth: true });
    } catch (err) {
      if (session) {
        box.textContent = `The invitation for ${email} could not be revoked: ${itemsErrorText(err)}`;
        button.disabled = false;
        await afterRefusal(err);
      }
      return;
    }
    await loadInvitations();
    invitationsSaid(`The invitation for ${email} is revoked.`);
    $('invitations-title').setAttribute('tabindex', '-1');
    $('invitations-title').focus();
  }

  // ------------------------------------------------------------------ audit log

  // The filters and page size of the page shown (what the selects held when "Show
  // events" was pressed), the cursors of the pages seen (cursors[0]: the newest page).
  const audit = {
    action: '', actorId: '', actorEmail: '', limit: 20,
    cursors: [null], page: 0, next: null, count: 0, loading: false, seq: 0,
  };

  /** The action filter: "any action", then every known action by group. */
  function renderAuditActions() {
    const select = $('audit-action');
    const groups = AUDIT_ACTIONS.map(([label, actions]) => {
      const group = document.createElement('optgroup');
      group.label = label;
      group.append(...actions.map((a) => option(a, a)));
      return group;
    });
    select.replaceChildren(option('', 'any action'), ...groups);
    select.value = audit.action;
  }

  /** The actor filter: "any actor", then the members by email. An actor chosen who is no
   *  longer a member stays offered while it is the filter of the page shown. */
  function renderAuditActors() {
    const select = $('audit-actor');
    const chosen = select.value;
    const people = [...members.list]
      .map((m) => ({ id: String(m.user_id), email: String(m.email), role: roleOf(m.role) }))
      .sort((a, b) => a.email.localeCompare(b.email));
    const options = [option('', 'any actor'), ...people.map((p) => option(p.id, `${p.email} (${p.role})`))];
    if (audit.actorId && !people.some((p) => p.id === audit.actorId)) {
      options.push(option(audit.actorId, `${audit.actorEmail || audit.actorId} (no longer a member)`));
    }
    select.replaceChildren(...options);
    select.value = options.some((o) => o.value === chosen) ? chosen : '';
  }

  /** Forgets every event on the page and the filters (a new session starts afresh). */
  function forgetAudit() {
    audit.seq += 1; // an answer still on its way is dropped
    Object.assign(audit, { action: '', actorId: '', actorEmail: '', limit: 20, cursors: [null], page: 0, next: null, count: 0, loading: false });
    $('audit-card').removeAttribute('aria-busy');
    $('audit-list').replaceChildren();
    $('audit-table').hidden = true;
    $('audit-status').textContent = '';
    $('audit-error').textContent = '';
    $('audit-download-status').textContent = '';
    $('audit-action').value = '';
    $('audit-actor').value = '';
    $('audit-limit').value = String(audit.limit);
    updateAuditPager();
  }

  function updateAuditPager() {
    $('audit-pager').hidden = audit.page === 0 && !audit.next;
    $('audit-first').disabled = audit.loading || audit.page === 0;
    $('audit-prev').disabled = audit.loading || audit.page === 0;
    $('audit-next').disabled = audit.loading || !audit.next;
    $('audit-download').disabled = audit.loading || audit.count === 0;
  }

  /** The query of the page shown: its filters, size and cursor. */
  function auditQuery() {
    const q = new URLSearchParams();
    q.set('limit', String(audit.limit));
    if (audit.action) q.set('action', audit.action);
    if (audit.actorId) q.set('actor_id', audit.actorId);
    const after = audit.cursors[audit.page];
    if (after) q.set('after', after);
    return q.toString();
  }

  /** "action item.created, actor a@example.com" (the filters of the page shown). */
  function auditFilters() {
    const parts = [];
    if (audit.action) parts.push(`action ${audit.action}`);
    if (audit.actorId) parts.push(`actor ${audit.actorEmail || audit.actorId}`);
    return parts.join(', ');
  }

  /** One line per target: "user a@example.com", "item 6650…". */
  function targetsCell(targets) {
    const td = el('td', 'targets');
    for (const t of Array.isArray(targets) ? targets : []) {
      if (!t || typeof t !== 'object') continue;
      const line = el('span', 'target');
      line.append(el('span', 'target-type', `${String(t.type || '')} `));
      const name = t.name !== undefined && t.name !== null && t.name !== '' ? String(t.name) : String(t.id || '');
      line.append(el(t.name ? 'span' : 'code', 'target-name', name));
      if (t.id) line.title = `${String(t.type || '')} ${String(t.id)}`;
      td.append(line);
    }
    return td;
  }

  /** "from: admin, to: member" of an event's metadata. */
  function metadataText(metadata) {
    if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) return '';
    return Object.entries(metadata)
      .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(', ');
  }

  function renderAudit(events) {
    const tbody = $('audit-list');
    tbody.replaceChildren();
    for (const e of events) {
      if (!e || typeof e !== 'object') continue;
      const tr = el('tr');
      const action = String(e.action || '');
      const outcome = String(e.outcome || '');
      tr.dataset.id = String(e.id || '');
      tr.dataset.action = action;
      tr.dataset.outcome = outcome;

      const when = el('td', 'date');
      const time = el('time', '', formatTime(e.occurred_at));
      if (e.occurred_at) time.dateTime = String(e.occurred_at);
      when.append(time);

      const what = el('td', 'action');
      what.append(el('code', '', action));
      const meta = metadataText(e.metadata);
      if (meta) what.append(el('span', 'audit-meta', meta));

      const result = el('td');
      result.append(el('span', `status status-${outcome.replace(/[^a-z]/g, '')}`, outcome));

      const actor = e.actor && typeof e.actor === 'object' ? e.actor : {};
      const who = el('td', 'person');
      if (actor.email) {
        who.textContent = String(actor.email);
        if (actor.type === 'anonymous') who.append(el('span', 'you', ' (not logged in)'));
        else if (session && actor.id && String(actor.id) === session.userId) who.append(el('span', 'you', ' (you)'));
      } else if (actor.type === 'api_key') {
        who.textContent = `API key “${String(actor.name || actor.id || '')}”`;
        if (actor.id) who.title = `api_key ${String(actor.id)}`;
      } else {
        who.textContent = actor.type === 'anonymous' ? 'anonymous' : String(actor.id || '');
      }
      tr.dataset.actor = actor.email ? String(actor.email) : '';

      const context = e.context && typeof e.context === 'object' ? e.context : {};
      const ip = el('td', 'ip');
      if (context.ip) {
        ip.append(el('code', '', String(context.ip)));
        if (context.user_agent) ip.title = String(context.user_agent);
      }

      tr.append(when, what, result, who, targetsCell(e.targets), ip);
      tbody.append(tr);
    }
    audit.count = tbody.childElementCount;
    $('audit-table').hidden = audit.count === 0;
    const filters = auditFilters();
    const start = audit.page * audit.limit + 1;
    $('audit-status').textContent = audit.count === 0
      ? (filters ? `No events match (${filters}).` : audit.page === 0 ? 'No events yet.' : `Page ${audit.page + 1}: no events.`)
      : `Page ${audit.page + 1}: events ${start} to ${start + audit.count - 1}${filters ? ` (${filters})` : ''}, newest first${audit.next ? '; older ones on the next page' : ''}.`;
  }

  /** Reads the page of events that `audit` names (filters, size, cursor) and shows it;
   *  a refusal (403: the role changed meanwhile) makes the console look again. */
  async function loadAudit() {
    if (!session || !may.readAudit(session.role)) return;
    const seq = ++audit.seq;
    audit.loading = true;
    $('audit-card').setAttribute('aria-busy', 'true');
    updateAuditPager();
    $('audit-download-status').textContent = '';
    try {
      const page = await api('GET', `/org/audit?${auditQuery()}`, { auth: true });
      if (seq !== audit.seq) return;
      audit.next = page && page.next ? String(page.next) : null;
      renderAudit(page && Array.isArray(page.events) ? page.events : []);
      $('audit-error').textContent = '';
    } catch (err) {
      if (seq !== audit.seq || !session) return;
      $('audit-error').textContent = `The audit log could not be loaded: ${itemsErrorText(err)}`;
      await afterRefusal(err);
    } finally {
      if (seq === audit.seq) {
        audit.loading = false;
        $('audit-card').removeAttribute('aria-busy');
        updateAuditPager();
      }
    }
  }

  /** Saves the page shown as CSV: the API's own CSV of the same query, fetched with the
   *  token (a plain link could not send it) and handed to the browser as a file. */
  async function downloadAudit() {
    const button = $('audit-download');
    const status = $('audit-download-status');
    const box = $('audit-error');
    status.textContent = '';
    box.textContent = '';
    if (!session) return;
    const pageNo = audit.page + 1;
    const name = `audit-${session.organizationName}-page-${pageNo}.csv`;
    button.disabled = true;
    try {
      const res = await send('GET', `/org/audit?${auditQuery()}&format=csv`, { auth: true, accept: 'text/csv' });
      if (!res.ok) throw failure(res, await jsonOf(res), true);
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = name;
      link.hidden = true;
      document.body.append(link);
      link.click();
      link.remove();
      // The browser has read the URL once the download started: let it go a little later.
      window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
      status.textContent = `Saved ${name}: page ${pageNo} of the audit log as CSV.`;
    } catch (err) {
      if (!(err instanceof ConsoleError)) {
        console.error(err);
        box.textContent = 'The CSV file could not be made. Reload the page and try again.';
      } else if (session) {
        box.textContent = `The CSV file could not be downloaded: ${itemsErrorText(err)}`;
        await afterRefusal(err);
      }
    } finally {
      updateAuditPager();
    }
  }

  async function showAuditPage(page) {
    audit.page = page;
    await loadAudit();
    $('audit-title').focus();
  }

  // ------------------------------------------------------------------ webhooks

  // The endpoints shown; the endpoint whose deliveries are shown (hookId '': none); the
  // endpoint whose secret the box shows, and whether it came from a rotation.
  const webhooks = { list: [], seq: 0 };
  const deliveries = { hookId: '', url: '', list: [], more: false, seq: 0, timer: 0 };
  const secretBox = { id: '', rotated: false };

  /** ["*"] -> "all events"; ["a.b", "c.d"] -> "a.b, c.d". */
  function eventsText(events) {
    const list = Array.isArray(events) ? events.map(String) : [];
    return list.includes('*') ? 'all events' : list.join(', ');
  }

  /** An endpoint URL as typed: absolute, http or https. The server checks the rest
   *  (https outside a local service, no private or loopback address) and says 422. */
  function checkWebhookUrl(field, raw) {
    if (!raw) throw invalid(field, 'Enter the URL of the endpoint, such as https://example.com/webhooks.');
    let url;
    try {
      url = new URL(raw);
    } catch (_) {
      throw invalid(field, 'Enter a full URL, such as https://example.com/webhooks.');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw invalid(field, 'The URL must start with https://.');
    }
    if (raw.length > 2048) throw invalid(field, 'The URL must be at most 2048 characters long.');
  }

  /** The event types typed (commas or spaces between them): ["*"] or 1 to 50 types. */
  function eventTypes(field, raw) {
    const types = [...new Set(raw.split(/[\s,]+/).filter(Boolean))];
    if (types.length === 0) {
      throw invalid(field, 'Enter * for every event, or event types separated by commas, such as item.created.');
    }
    if (types.includes('*')) {
      if (types.length > 1) throw invalid(field, 'Enter * alone for every event, or a list of event types without it.');
      return types;
    }
    const bad = types.filter((t) => !WEBHOOK_TYPE_RE.test(t) || !t.includes('.'));
    if (bad.length) {
      const names = listOf(bad.map((t) => `“${t}”`));
      throw invalid(field, `${names} ${bad.length === 1 ? 'is not an event type' : 'are not event types'}: a type looks like item.created.`);
    }
    if (types.length > WEBHOOK_TYPES_MAX) {
      throw invalid(field, `Enter at most ${WEBHOOK_TYPES_MAX} event types, or * for every event.`);
    }
    return types;
  }

  /** Forgets every endpoint, delivery and secret on the page. */
  function forgetWebhooks() {
    webhooks.seq += 1; // an answer still on its way is dropped
    webhooks.list = [];
    $('webhooks-list').replaceChildren();
    $('webhooks-table').hidden = true;
    $('webhooks-status').textContent = '';
    $('webhooks-error').textContent = '';
    hideSecret();
    hideDeliveries();
  }

  /** Loads the endpoints. Leaves the error box alone: it may hold why an action was
   *  just refused. */
  async function loadWebhooks() {
    if (!session || !may.manageWebhooks(session.role)) return;
    const seq = ++webhooks.seq;
    try {
      const data = await api('GET', '/org/webhooks', { auth: true });
      if (seq !== webhooks.seq) return;
      webhooks.list = data && Array.isArray(data.webhooks) ? data.webhooks.filter((h) => h && typeof h === 'object') : [];
      renderWebhooks();
    } catch (err) {
      if (seq !== webhooks.seq || !session) return;
      $('webhooks-error').textContent = `The endpoints could not be loaded: ${itemsErrorText(err)}`;
      if (err.status === 403) await afterRefusal(err);
    }
  }

  /** After the server refused an action on an endpoint: a 403 may mean that the role
   *  changed, a 404 that the endpoint is gone, a 409 that it was disabled meanwhile. */
  async function afterWebhookRefusal(err) {
    if (!session || ![403, 404, 409].includes(err.status)) return;
    if (err.status === 403) await afterRefusal(err);
    await loadWebhooks();
  }

  function webhooksSaid(text) {
    const n = webhooks.list.length;
    const count = n === 0 ? 'No endpoints yet.' : `${n} endpoint${n === 1 ? '' : 's'} (at most ${WEBHOOKS_MAX}).`;
    $('webhooks-status').textContent = text ? `${text} ${count}` : count;
  }

  /** Focuses the first button of `actions` (`data-action`) that an endpoint's row has,
   *  or the card's title. */
  function focusWebhookButton(id, ...actions) {
    const row = [...$('webhooks-list').rows].find((r) => r.dataset.id === id);
    const button = row ? actions.map((a) => row.querySelector(`button[data-action="${a}"]`)).find(Boolean) : null;
    (button || $('webhooks-title')).focus();
  }

  /** Whether the focus was dropped (its control disabled or drawn afresh). */
  function focusLost() {
    const active = document.activeElement;
    return !active || active === document.body;
  }

  function rowButton(text, kind, label, action) {
    const b = smallButton(text, kind, label);
    b.dataset.action = action;
    return b;
  }

  function renderWebhooks() {
    const tbody = $('webhooks-list');
    tbody.replaceChildren();
    if (!session || !may.manageWebhooks(session.role)) return;
    for (const hook of webhooks.list) {
      const id = String(hook.id);
      const url = String(hook.url);
      const enabled = hook.enabled === true;
      const tr = el('tr');
      tr.dataset.id = id;
      tr.dataset.url = url;
      tr.dataset.enabled = String(enabled);

      const where = el('td', 'url');
      where.append(el('code', '', url));
      if (hook.description) where.append(el('span', 'webhook-description', String(hook.description)));

      const state = el('td');
      state.append(el('span', `status status-${enabled ? 'enabled' : 'disabled'}`, enabled ? 'enabled' : 'disabled'));

      const actions = el('td', 'actions');
      const toggle = rowButton(enabled ? 'Disable' : 'Enable', 'secondary', `${enabled ? 'Disable' : 'Enable'} ${url}`, 'toggle');
      toggle.addEventListener('click', () => setWebhookEnabled(hook, !enabled, toggle));
      actions.append(toggle);
      if (enabled) {
        const test = rowButton('Send test', 'secondary', `Send a test event to ${url}`, 'test');
        test.addEventListener('click', () => sendTest(hook, test));
        actions.append(test);
      }
      const list = rowButton('Deliveries', 'secondary', `Deliveries to ${url}`, 'deliveries');
      list.setAttribute('aria-controls', 'deliveries');
      list.addEventListener('click', () => showDeliveries(hook));
      const rotate = rowButton('Rotate secret', 'secondary', `Rotate the secret of ${url}`, 'rotate');
      rotate.addEventListener('click', () => confirmIn(actions,
        `Rotate the secret of ${url}? The new one is shown once; the current one keeps signing for 24 hours too.`,
        'Yes, rotate', () => rotateSecret(hook), rotate));
      const del = rowButton('Delete', 'danger', `Delete ${url}`, 'delete');
      del.addEventListener('click', () => confirmIn(actions,
        `Delete the endpoint ${url}? It gets no more events, and its deliveries go with it.`,
        'Yes, delete', () => deleteWebhook(hook), del));
      actions.append(list, rotate, del);

      tr.append(where, el('td', 'events', eventsText(hook.events)), state, actions);
      tbody.append(tr);
    }
    $('webhooks-table').hidden = webhooks.list.length === 0;
    webhooksSaid('');
    // The endpoint whose deliveries were shown is gone (deleted elsewhere).
    if (deliveries.hookId && !webhooks.list.some((h) => String(h.id) === deliveries.hookId)) hideDeliveries();
  }

  async function setWebhookEnabled(hook, on, button) {
    const box = $('webhooks-error');
    box.textContent = '';
    const id = String(hook.id);
    const url = String(hook.url);
    button.disabled = true;
    try {
      await api('PATCH', `/org/webhooks/${encodeURIComponent(id)}`, { body: { enabled: on }, auth: true });
    } catch (err) {
      if (session) {
        box.textContent = `${url} could not be ${on ? 'enabled' : 'disabled'}: ${itemsErrorText(err)}`;
        button.disabled = false;
        await afterWebhookRefusal(err);
        if (focusLost()) focusWebhookButton(id, 'toggle');
      }
      return;
    }
    await loadWebhooks();
    webhooksSaid(on
      ? `${url} is enabled: it gets events again.`
      : `${url} is disabled: it gets no events until it is enabled again.`);
    focusWebhookButton(id, 'toggle');
  }

  async function sendTest(hook, button) {
    const box = $('webhooks-error');
    box.textContent = '';
    const id = String(hook.id);
    const url = String(hook.url);
    button.disabled = true;
    try {
      await api('POST', `/org/webhooks/${encodeURIComponent(id)}/test`, { auth: true });
    } catch (err) {
      if (session) {
        box.textContent = `No test event could be sent to ${url}: ${itemsErrorText(err)}`;
        button.disabled = false;
        await afterWebhookRefusal(err);
        // (A disabled endpoint's row, read again, offers "Enable" instead.)
        if (focusLost()) focusWebhookButton(id, 'test', 'toggle');
      }
      return;
    }
    button.disabled = false;
    if (focusLost()) button.focus();
    webhooksSaid(`A test event (webhook.test) is on its way to ${url}: its delivery is listed below.`);
    await showDeliveries(hook, false);
  }

  async function rotateSecret(hook) {
    const box = $('webhooks-error');
    box.textContent = '';
    const url = String(hook.url);
    let data;
    try {
      data = await api('POST', `/org/webhooks/${encodeURIComponent(String(hook.id))}/rotate-secret`, { auth: true });
    } catch (err) {
      if (session) {
        box.textContent = `The secret of ${url} could not be rotated: ${itemsErrorText(err)}`;
        await afterWebhookRefusal(err);
        if (focusLost()) focusWebhookButton(String(hook.id), 'rotate');
      }
      return false;
    }
    const secret = String((data && data.secret) || '');
    await loadWebhooks();
    webhooksSaid(`The secret of ${url} was rotated.`);
    showSecret(hook, secret, true);
    return true;
  }

  async function deleteWebhook(hook) {
    const box = $('webhooks-error');
    box.textContent = '';
    const id = String(hook.id);
    const url = String(hook.url);
    try {
      await api('DELETE', `/org/webhooks/${encodeURIComponent(id)}`, { auth: true });
    } catch (err) {
      if (session) {
        box.textContent = `${url} could not be deleted: ${itemsErrorText(err)}`;
        await afterWebhookRefusal(err);
        if (focusLost()) focusWebhookButton(id, 'delete');
      }
      return false;
    }
    if (secretBox.id === id) hideSecret();
    if (deliveries.hookId === id) hideDeliveries();
    await loadWebhooks();
    webhooksSaid(`The endpoint ${url} was deleted.`);
    $('webhooks-title').focus();
    return true;
  }

  /** Shows the secret of a new endpoint or of a rotation: the only time it is seen. */
  function showSecret(hook, secret, rotated) {
    const url = String(hook.url);
    secretBox.id = String(hook.id);
    secretBox.rotated = rotated;
    $('webhook-secret-title').textContent = rotated ? `New signing secret for ${url}` : `Signing secret for ${url}`;
    $('webhook-secret-label').textContent = `Secret of ${url}`;
    $('webhook-secret-value').value = secret;
    $('webhook-secret-status').textContent = rotated
      ? 'The previous secret keeps signing for 24 hours, alongside this one: give the receiver the new one within that time.'
      : '';
    $('webhook-secret').hidden = false;
    $('webhook-secret-value').focus();
    $('webhook-secret-value').select();
  }

  function hideSecret() {
    secretBox.id = '';
    secretBox.rotated = false;
    $('webhook-secret-value').value = '';
    $('webhook-secret-status').textContent = '';
    $('webhook-secret-title').textContent = 'Signing secret';
    $('webhook-secret-label').textContent = 'Secret';
    $('webhook-secret').hidden = true;
  }

  // ------------------------------------------------------------------ deliveries

  /** Shows the deliveries of `hook` (read afresh), moving the focus there unless told not to. */
  async function showDeliveries(hook, focus = true) {
    const id = String(hook.id);
    if (deliveries.hookId !== id) {
      hideDeliveries();
      deliveries.hookId = id;
      deliveries.url = String(hook.url);
    }
    $('deliveries-error').textContent = '';
    $('deliveries-url').textContent = deliveries.url;
    $('deliveries').hidden = false;
    if (focus) $('deliveries-title').focus();
    await loadDeliveries();
  }

  function hideDeliveries() {
    deliveries.seq += 1; // an answer still on its way is dropped
    window.clearTimeout(deliveries.timer);
    Object.assign(deliveries, { hookId: '', url: '', list: [], more: false });
    $('deliveries').removeAttribute('aria-busy');
    $('deliveries-list').replaceChildren();
    $('deliveries-table').hidden = true;
    $('deliveries-status').textContent = '';
    $('deliveries-error').textContent = '';
    $('deliveries-url').textContent = '';
    $('deliveries').hidden = true;
  }

  async function loadDeliveries() {
    if (!session || !deliveries.hookId || !may.manageWebhooks(session.role)) return;
    const seq = ++deliveries.seq;
    const id = deliveries.hookId;
    const url = deliveries.url;
    window.clearTimeout(deliveries.timer);
    $('deliveries').setAttribute('aria-busy', 'true');
    try {
      const page = await api('GET', `/org/webhooks/${encodeURIComponent(id)}/deliveries?limit=${DELIVERIES_LIMIT}`, { auth: true });
      if (seq !== deliveries.seq) return;
      deliveries.list = page && Array.isArray(page.deliveries) ? page.deliveries.filter((d) => d && typeof d === 'object') : [];
      deliveries.more = Boolean(page && page.next);
      renderDeliveries();
      $('deliveries-error').textContent = '';
    } catch (err) {
      if (seq !== deliveries.seq || !session) return;
      $('deliveries-error').textContent = `The deliveries could not be loaded: ${itemsErrorText(err)}`;
      if (err.status === 404) {
        // The endpoint is gone: the list is read again, which hides its deliveries.
        $('webhooks-error').textContent = `The deliveries to ${url} could not be loaded: ${itemsErrorText(err)}`;
      }
      await afterWebhookRefusal(err);
    } finally {
      if (seq === deliveries.seq) $('deliveries').removeAttribute('aria-busy');
    }
  }

  function deliveriesSaid(text) {
    const n = deliveries.list.length;
    const count = n === 0
      ? 'No deliveries yet.'
      : `${deliveries.more ? `The ${n} newest deliveries` : `${n} deliver${n === 1 ? 'y' : 'ies'}`}, newest first.`;
    $('deliveries-status').textContent = text ? `${text} ${count}` : count;
  }

  /** Every attempt of a delivery: when, the HTTP status or "no answer", why it failed, how long. */
  function attemptsCell(attempts) {
    const td = el('td', 'attempts-cell');
    const list = Array.isArray(attempts) ? attempts.filter((a) => a && typeof a === 'object') : [];
    if (list.length === 0) {
      td.append(el('span', 'delivery-next', 'none yet'));
      return td;
    }
    const ol = el('ol', 'attempts');
    for (const a of list) {
      const li = el('li', 'attempt');
      const time = el('time', '', formatTime(a.at));
      if (a.at) time.dateTime = String(a.at);
      const code = a.status_code === null || a.status_code === undefined ? 'no answer' : `HTTP ${a.status_code}`;
      li.append(time, `: ${code}`);
      if (a.error) li.append(', ', el('span', 'attempt-error', String(a.error)));
      if (Number.isFinite(a.duration_ms)) li.append(`, ${a.duration_ms}\u00a0ms`); // no break inside
      ol.append(li);
    }
    td.append(ol);
    return td;
  }

  function renderDeliveries() {
    const tbody = $('deliveries-list');
    tbody.replaceChildren();
    for (const d of deliveries.list) {
      const id = String(d.id);
      const type = String(d.type || '');
      const status = String(d.status || '');
      const tr = el('tr');
      tr.dataset.id = id;
      tr.dataset.type = type;
      tr.dataset.status = status;

      const what = el('td', 'action');
      what.append(el('code', '', type));

      const state = el('td');
      state.append(el('span', `status status-${status.replace(/[^a-z]/g, '')}`, status));
      if (status === 'pending' && d.next_attempt_at) {
        const next = el('span', 'delivery-next', 'next attempt ');
        const time = el('time', '', formatTime(d.next_attempt_at));
        time.dateTime = String(d.next_attempt_at);
        next.append(time);
        state.append(next);
      }

      const actions = el('td', 'actions');
      const retry = smallButton('Retry', 'secondary', `Retry the ${type} delivery now`);
      retry.addEventListener('click', () => retryDelivery(d, retry));
      actions.append(retry);

      tr.append(what, el('td', 'sequence', d.sequence === undefined || d.sequence === null ? '' : String(d.sequence)),
        state, attemptsCell(d.attempts), actions);
      tbody.append(tr);
    }
    $('deliveries-table').hidden = deliveries.list.length === 0;
    deliveriesSaid('');
  }

  /** One more attempt now; the deliveries are read again a moment later. */
  async function retryDelivery(d, button) {
    const box = $('deliveries-error');
    box.textContent = '';
    const id = String(d.id);
    const type = String(d.type || '');
    const hookId = deliveries.hookId;
    button.disabled = true;
    try {
      await api('POST', `/org/webhooks/${encodeURIComponent(hookId)}/deliveries/${encodeURIComponent(id)}/retry`, { auth: true });
    } catch (err) {
      if (session) {
        box.textContent = `The ${type} delivery could not be retried: ${itemsErrorText(err)}`;
        button.disabled = false;
        await afterWebhookRefusal(err);
        if (focusLost() && button.isConnected) button.focus();
      }
      return;
    }
    const said = `One more attempt at the ${type} delivery is on its way.`;
    deliveriesSaid(said);
    window.clearTimeout(deliveries.timer);
    deliveries.timer = window.setTimeout(async () => {
      if (!session || deliveries.hookId !== hookId) return;
      await loadDeliveries();
      if (deliveries.hookId !== hookId) return;
      deliveriesSaid(said);
      // The list drew its rows afresh: the focus goes back to this delivery's Retry.
      if (focusLost()) {
        const row = [...$('deliveries-list').rows].find((r) => r.dataset.id === id);
        const again = row ? row.querySelector('button') : null;
        if (again) again.focus();
      }
    }, RETRY_REFRESH_MS);
  }

  // ------------------------------------------------------------------ API keys

  // The keys shown (never a key itself: the API lists none); the key whose secret the
  // box shows (its id; '': none).
  const apiKeys = { list: [], seq: 0 };
  const keyBox = { id: '' };

  /** Forgets every key on the page, and the one the box shows. */
  function forgetApiKeys() {
    apiKeys.seq += 1; // an answer still on its way is dropped
    apiKeys.list = [];
    $('api-keys-list').replaceChildren();
    $('api-keys-table').hidden = true;
    $('api-keys-status').textContent = '';
    $('api-keys-error').textContent = '';
    hideApiKey();
  }

  /** Loads the keys. Leaves the error box alone: it may hold why an action was just
   *  refused. */
  async function loadApiKeys() {
    if (!session || !may.manageApiKeys(session.role)) return;
    const seq = ++apiKeys.seq;
    try {
      const data = await api('GET', '/org/api-keys', { auth: true });
      if (seq !== apiKeys.seq) return;
      apiKeys.list = data && Array.isArray(data.api_keys) ? data.api_keys.filter((k) => k && typeof k === 'object') : [];
      renderApiKeys();
    } catch (err) {
      if (seq !== apiKeys.seq || !session) return;
      $('api-keys-error').textContent = `The API keys could not be loaded: ${itemsErrorText(err)}`;
      if (err.status === 403) await afterRefusal(err);
    }
  }

  /** After the server refused an action on a key: a 403 may mean that the role changed,
   *  a 404 that the key was revoked meanwhile, a 409 that there are 50 active keys. */
  async function afterApiKeyRefusal(err) {
    if (!session || ![403, 404, 409].includes(err.status)) return;
    if (err.status === 403) await afterRefusal(err);
    await loadApiKeys();
  }

  function apiKeysSaid(text) {
    const n = apiKeys.list.length;
    const active = apiKeys.list.filter((k) => k.status === 'active').length;
    const count = n === 0
      ? 'No API keys yet.'
      : `${n} key${n === 1 ? '' : 's'}, ${active} active (at most ${API_KEYS_ACTIVE_MAX}).`;
    $('api-keys-status').textContent = text ? `${text} ${count}` : count;
  }

  /** A time for a table cell, "never" when there is none: the date (or the full time,
   *  `full`), the full time on hover. */
  function timeCell(value, full = false) {
    if (!value) return el('td', 'date never', 'never');
    const td = el('td', 'date');
    const time = el('time', '', full ? formatTime(value) : formatTime(value).slice(0, 10));
    time.dateTime = String(value);
    time.title = formatTime(value);
    td.append(time);
    return td;
  }

  function renderApiKeys() {
    const tbody = $('api-keys-list');
    tbody.replaceChildren();
    if (!session || !may.manageApiKeys(session.role)) return;
    for (const key of apiKeys.list) {
      const id = String(key.id);
      const name = String(key.name);
      const prefix = String(key.prefix || '');
      const status = String(key.status || '');
      const tr = el('tr');
      tr.dataset.id = id;
      tr.dataset.name = name;
      tr.dataset.prefix = prefix;
      tr.dataset.status = status;

      const start = el('td', 'prefix');
      start.append(el('code', '', `${prefix}…`));

      const state = el('td');
      state.append(el('span', `status status-${status.replace(/[^a-z]/g, '')}`, status));

      const actions = el('td', 'actions');
      if (status === 'active') {
        const revoke = rowButton('Revoke', 'danger', `Revoke the key ${name}`, 'revoke');
        revoke.addEventListener('click', () => confirmIn(actions,
          `Revoke the key “${name}” (${prefix}…)? Whatever uses it is refused from now on; this cannot be undone.`,
          'Yes, revoke', () => revokeApiKey(key), revoke));
        actions.append(revoke);
      }

      tr.append(el('td', 'key-name', name), start, el('td', 'role', String(key.role || '')), state,
        timeCell(key.created_at), timeCell(key.last_used_at, true), timeCell(key.expires_at), actions);
      tbody.append(tr);
    }
    $('api-keys-table').hidden = apiKeys.list.length === 0;
    apiKeysSaid('');
  }

  async function revokeApiKey(key) {
    const box = $('api-keys-error');
    box.textContent = '';
    const id = String(key.id);
    const name = String(key.name);
    try {
      await api('DELETE', `/org/api-keys/${encodeURIComponent(id)}`, { auth: true });
    } catch (err) {
      if (session) {
        box.textContent = `The key “${name}” could not be revoked: ${itemsErrorText(err)}`;
        await afterApiKeyRefusal(err);
        if (focusLost()) {
          const row = [...$('api-keys-list').rows].find((r) => r.dataset.id === id);
          const again = row ? row.querySelector('button[data-action="revoke"]') : null;
          (again || $('api-keys-title')).focus();
        }
      }
      return false;
    }
    if (keyBox.id === id) hideApiKey();
    await loadApiKeys();
    apiKeysSaid(`The key “${name}” is revoked: it no longer works.`);
    $('api-keys-title').focus();
    return true;
  }

  /** Shows a new key: the only time it is seen. */
  function showApiKey(key, secret) {
    const until = key.expires_at ? `until ${formatTime(key.expires_at)}` : 'never expires';
    keyBox.id = key.id;
    $('api-key-secret-title').textContent = `API key “${key.name}”`;
    $('api-key-secret-label').textContent = `Key “${key.name}” (${key.role}, ${until})`;
    $('api-key-secret-value').value = secret;
    $('api-key-secret-status').textContent = '';
    $('api-key-secret').hidden = false;
    $('api-key-secret-value').focus();
    $('api-key-secret-value').select();
  }

  function hideApiKey() {
    keyBox.id = '';
    $('api-key-secret-value').value = '';
    $('api-key-secret-status').textContent = '';
    $('api-key-secret-title').textContent = 'New API key';
    $('api-key-secret-label').textContent = 'Key';
    $('api-key-secret').hidden = true;
  }

  // ------------------------------------------------------------------ accepting

  let acceptToken = null; // from the link's fragment; in memory only

  /** The token of a link `#<kind>=TOKEN` in the address ('' for a damaged one; null
   *  for another address), taken out of the address bar (and so out of the history). */
  function takeLinkToken(kind) {
    const hash = window.location.hash;
    if (!hash.startsWith(`#${kind}=`)) return null;
    let token = '';
    try {
      token = decodeURIComponent(hash.slice(kind.length + 2));
    } catch (_) {
      token = '';
    }
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
    return TOKEN_RE.test(token) ? token : '';
  }

  /** Opens the view of a link in the address: an invitation (#accept=), a password
   *  reset (#reset=) or an address verification (#verify=). False for none. */
  function readLink() {
    const accept = takeLinkToken('accept');
    if (accept !== null) {
      acceptToken = accept;
      showAccept();
      return true;
    }
    const reset = takeLinkToken('reset');
    if (reset !== null) {
      resetToken = reset;
      showReset();
      return true;
    }
    const verify = takeLinkToken('verify');
    if (verify !== null) {
      confirmVerification(verify);
      return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ password reset

  let resetToken = null; // from the link's fragment; in memory only

  function showForgot() {
    const form = $('forgot-form');
    $('signed-out-view').hidden = true;
    $('signed-in-view').hidden = true;
    hideLinkViews();
    $('forgot-view').hidden = false;
    clearMessages(form);
    form.elements.email.value = $('login-email').value.trim();
    document.title = 'Reset your password · Organization console';
    $('forgot-title').focus();
  }

  function showReset() {
    const form = $('reset-form');
    $('signed-out-view').hidden = true;
    $('signed-in-view').hidden = true;
    hideLinkViews();
    $('reset-view').hidden = false;
    $('session-bar').hidden = !session;
    form.reset();
    clearMessages(form);
    renderRules($('reset-password-rules'), '');
    if (!resetToken) {
      showError(form, new ConsoleError('This reset link is incomplete: copy the whole link, or ask for a new one.'));
    }
    document.title = 'Choose a new password · Organization console';
    $('reset-title').focus();
  }

  /** Back from the forgotten-password or reset view. */
  function leaveAccountViews() {
    resetToken = null;
    for (const id of ['forgot-form', 'reset-form']) {
      $(id).reset();
      clearMessages($(id));
    }
    document.title = 'Organization console';
    if (session) {
      enterConsole();
    } else {
      showSignedOut();
      $('login-email').focus();
    }
  }

  /** A verification link: confirmed first, then the console shows the state after it
   * (loaded beside the confirmation, a member list could be read before the address
   * was verified and stay so); what happened is announced. */
  async function confirmVerification(token) {
    let data = null;
    let failure = null;
    if (token) {
      try {
        data = await api('POST', '/auth/verify-email/confirm', { body: { token } });
      } catch (err) {
        failure = err;
      }
    }
    if (session) enterConsole();
    else showSignedOut();
    if (data) {
      notice(`Email verified: ${data.email}.`, 'ok');
    } else if (!failure) {
      notice('This verification link is incomplete: copy the whole link, or ask for a new one.', 'error');
    } else {
      const said = failure.message.replace(/\.$/, '');
      notice(failure.status === 404 ? `${said}: it was used, replaced or has expired. Ask for a new one.` : said, 'error');
    }
  }

  function showAccept() {
    const form = $('accept-form');
    $('signed-out-view').hidden = true;
    $('signed-in-view').hidden = true;
    hideLinkViews();
    $('accept-view').hidden = false;
    $('session-bar').hidden = !session;
    form.reset();
    clearMessages(form);
    setAcceptMode('new');
    if (!acceptToken) {
      showError(form, new ConsoleError('This invitation link is incomplete: copy the whole link, or ask for a new one.'));
    }
    document.title = 'Join an organization · Organization console';
    $('accept-title').focus();
  }

  /** New account (choose a password, with its rules) or existing (give its password). */
  function setAcceptMode(mode) {
    const existing = mode === 'existing';
    const input = $('accept-password');
    $('accept-password-label').textContent = existing ? 'Your password' : 'Choose a password';
    input.autocomplete = existing ? 'current-password' : 'new-password';
    $('accept-password-rules').hidden = existing;
    input.setAttribute('aria-describedby', existing ? 'accept-password-error' : 'accept-password-rules accept-password-error');
    $('accept-confirm-field').hidden = existing;
    $('accept-confirm').disabled = existing;
    renderRules($('accept-password-rules'), input.value);
  }

  function leaveAccept() {
    acceptToken = null;
    const form = $('accept-form');
    form.reset();
    clearMessages(form);
    document.title = 'Organization console';
    if (session) {
      enterConsole();
    } else {
      showSignedOut();
      $('login-email').focus();
    }
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
      form.elements.password.value = '';
      await startSession(data, email, '');
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
      $('members-error').textContent = '';
      $('invitations-error').textContent = '';
      $('audit-error').textContent = '';
      $('webhooks-error').textContent = '';
      $('api-keys-error').textContent = '';
      await loadOrg();
      await Promise.all([loadItems(), loadMembers(), loadInvitations(), loadAudit(), loadWebhooks(), loadDeliveries(), loadApiKeys()]);
    });

    onSubmit($('switch-form'), async (form) => {
      const name = form.elements.organization_name.value;
      const password = form.elements.password.value;
      if (!name) throw invalid('organization_name', 'Choose an organization.');
      if (!password) throw invalid('password', 'Enter your password.');
      if (!session.email) throw new ConsoleError('Your email is not known yet: refresh, then try again.');
      const email = session.email;
      const data = await api('POST', '/admin/login', { body: { email, password, organization_name: name } });
      form.elements.password.value = '';
      await startSession(data, email, `You are now in organization “${data.organization_name}” as ${roleOf(data.role)}.`);
    });

    $('members-refresh').addEventListener('click', async () => {
      const button = $('members-refresh');
      button.disabled = true;
      $('members-error').textContent = '';
      try {
        await loadMembers();
      } finally {
        button.disabled = false;
      }
    });

    onSubmit($('invite-form'), async (form) => {
      const email = form.elements.email.value.trim();
      const role = form.elements.role.value;
      const raw = form.elements.expires_in_days.value.trim();
      const days = Number(raw);
      const byEmail = form.elements.send_email.checked;
      checkEmail('email', email);
      if (!/^\d+$/.test(raw) || days < 1 || days > 30) throw invalid('expires_in_days', 'Enter a whole number of days from 1 to 30.');
      let inv;
      try {
        const body = { email, role, expires_in_days: days, send_email: byEmail };
        inv = await api('POST', '/org/invitations', { body, auth: true });
      } catch (err) {
        if (byEmail && err.status === 503 && /email is not configured/i.test(err.message)) {
          form.elements.send_email.checked = false;
          throw new ConsoleError('This service sends no email: “Send the invitation by email” is now unchecked. Create the invitation again to get a link to send yourself.', { status: 503 });
        }
        await afterRefusal(err);
        throw err;
      }
      form.elements.email.value = '';
      const until = `${inv.role}, until ${formatTime(inv.expires_at)}`;
      if (inv.token) {
        showSuccess(form, `Invitation for ${inv.email} created (${until}).`);
        showInviteLink(inv, false);
      } else {
        hideInviteLink();
        showSuccess(form, `Invitation emailed to ${inv.email} (${until}).`);
      }
      await loadInvitations();
    });

    $('invite-link-copy').addEventListener('click', copyInviteLink);
    $('invite-link-done').addEventListener('click', () => {
      hideInviteLink();
      $('invite-email').focus();
    });
    $('invite-link-url').addEventListener('focus', () => $('invite-link-url').select());

    onSubmit($('invitations-filter'), async (form) => {
      invitations.status = form.elements.status.value;
      $('invitations-error').textContent = '';
      await loadInvitations();
    });

    onSubmit($('audit-filter'), async (form) => {
      const limit = Number(form.elements.limit.value);
      if (!AUDIT_LIMITS.includes(limit)) throw invalid('limit', 'Choose how many events a page shows.');
      const actor = form.elements.actor_id;
      audit.action = form.elements.action.value;
      audit.actorId = actor.value;
      audit.actorEmail = actor.value ? String(members.list.find((m) => String(m.user_id) === actor.value)?.email || audit.actorEmail) : '';
      audit.limit = limit;
      audit.cursors = [null];
      audit.page = 0;
      audit.next = null;
      $('audit-error').textContent = '';
      await loadAudit();
    });
    $('audit-next').addEventListener('click', async () => {
      if (!audit.next || audit.loading) return;
      audit.cursors[audit.page + 1] = audit.next;
      await showAuditPage(audit.page + 1);
    });
    $('audit-prev').addEventListener('click', async () => {
      if (audit.page === 0 || audit.loading) return;
      await showAuditPage(audit.page - 1);
    });
    $('audit-first').addEventListener('click', async () => {
      if (audit.loading) return;
      await showAuditPage(0);
    });
    $('audit-download').addEventListener('click', downloadAudit);

    onSubmit($('webhook-form'), async (form) => {
      const url = form.elements.url.value.trim();
      const description = form.elements.description.value.trim();
      checkWebhookUrl('url', url);
      const events = eventTypes('events', form.elements.events.value);
      if ([...description].length > 500) throw invalid('description', 'Enter at most 500 characters.');
      const body = { url, events };
      if (description) body.description = description;
      let made;
      try {
        made = await api('POST', '/org/webhooks', { body, auth: true });
      } catch (err) {
        if (err.status === 403) await afterRefusal(err);
        throw err;
      }
      // The secret goes to its box alone: it is kept nowhere else.
      const secret = String(made.secret || '');
      const hook = { id: String(made.id), url: String(made.url), events: made.events };
      form.elements.url.value = '';
      form.elements.description.value = '';
      form.elements.events.value = '*';
      showSuccess(form, `Endpoint ${hook.url} added: it gets ${eventsText(hook.events)} from now on.`);
      await loadWebhooks();
      showSecret(hook, secret, false);
    });

    $('webhook-secret-copy').addEventListener('click', () => copyField($('webhook-secret-value'), $('webhook-secret-status'), 'secret'));
    $('webhook-secret-done').addEventListener('click', () => {
      const { id, rotated } = secretBox;
      hideSecret();
      if (rotated) focusWebhookButton(id, 'rotate');
      else $('webhook-url').focus();
    });
    $('webhook-secret-value').addEventListener('focus', () => $('webhook-secret-value').select());

    $('webhooks-refresh').addEventListener('click', async () => {
      $('webhooks-error').textContent = '';
      await loadWebhooks();
    });
    $('deliveries-refresh').addEventListener('click', async () => {
      $('deliveries-error').textContent = '';
      await loadDeliveries();
    });
    $('deliveries-close').addEventListener('click', () => {
      const id = deliveries.hookId;
      hideDeliveries();
      focusWebhookButton(id, 'deliveries');
    });

    onSubmit($('api-key-form'), async (form) => {
      const name = form.elements.name.value.trim();
      const role = form.elements.role.value;
      const days = form.elements.expires_in_days;
      const raw = days.value.trim();
      if (!name) throw invalid('name', 'Enter a name for the key, such as CI deploys.');
      if ([...name].length > API_KEY_NAME_MAX) throw invalid('name', `Enter at most ${API_KEY_NAME_MAX} characters.`);
      if (!may.keyRoles(session.role).includes(role)) throw invalid('role', 'Choose the role of the key.');
      // (Text a number field cannot read leaves it empty: that is not "never".)
      if (days.validity.badInput || (raw && (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > API_KEY_DAYS_MAX))) {
        throw invalid('expires_in_days', `Enter a whole number of days from 1 to ${API_KEY_DAYS_MAX}, or nothing for a key that never expires.`);
      }
      const body = { name, role, expires_in_days: raw ? Number(raw) : null };
      let made;
      try {
        made = await api('POST', '/org/api-keys', { body, auth: true });
      } catch (err) {
        await afterApiKeyRefusal(err);
        throw err;
      }
      // The key goes to its box alone: it is kept nowhere else.
      const secret = String(made.key || '');
      const key = { id: String(made.id), name: String(made.name), role: String(made.role), expires_at: made.expires_at || null };
      form.elements.name.value = '';
      form.elements.role.value = 'member';
      days.value = days.defaultValue;
      const until = key.expires_at ? `until ${formatTime(key.expires_at)}` : 'never expires';
      showSuccess(form, `Key “${key.name}” made (${key.role}, ${until}).`);
      await loadApiKeys();
      showApiKey(key, secret);
    });

    $('api-key-secret-copy').addEventListener('click', () => copyField($('api-key-secret-value'), $('api-key-secret-status'), 'key'));
    $('api-key-secret-done').addEventListener('click', () => {
      hideApiKey();
      $('api-key-name').focus();
    });
    $('api-key-secret-value').addEventListener('focus', () => $('api-key-secret-value').select());

    $('api-keys-refresh').addEventListener('click', async () => {
      $('api-keys-error').textContent = '';
      await loadApiKeys();
    });

    for (const radio of $('accept-form').elements.mode) {
      radio.addEventListener('change', () => {
        clearMessages($('accept-form'));
        setAcceptMode($('accept-form').elements.mode.value);
      });
    }
    $('accept-cancel').addEventListener('click', leaveAccept);

    $('forgot-link').addEventListener('click', showForgot);
    $('forgot-cancel').addEventListener('click', leaveAccountViews);
    $('reset-cancel').addEventListener('click', leaveAccountViews);

    onSubmit($('forgot-form'), async (form) => {
      const email = form.elements.email.value.trim();
      checkEmail('email', email);
      const data = await api('POST', '/auth/password-reset', { body: { email } });
      showSuccess(form, `${data.detail}. Open the link in it within 30 minutes.`);
    });

    onSubmit($('reset-form'), async (form) => {
      if (!resetToken) {
        throw new ConsoleError('This reset link is incomplete: copy the whole link, or ask for a new one.');
      }
      const password = form.elements.password.value;
      checkPassword('password', password);
      if (form.elements.password_confirm.value !== password) {
        throw invalid('password_confirm', 'The two passwords differ.');
      }
      try {
        await api('POST', '/auth/password-reset/confirm', { body: { token: resetToken, password } });
      } catch (err) {
        if (err.status === 404) {
          const said = err.message.replace(/\.$/, '');
          throw new ConsoleError(`${said}: it was used, replaced or has expired. Ask for a new one.`, { status: 404 });
        }
        throw err;
      }
      resetToken = null;
      form.reset();
      if (session) {
        endSession('Password changed. Every session has ended: log in with your new password.', 'ok');
      } else {
        showSignedOut();
        notice('Password changed. Log in with your new password.', 'ok');
        $('login-email').focus();
      }
    });

    $('verify-send').addEventListener('click', async () => {
      const button = $('verify-send');
      const said = $('verify-said');
      button.disabled = true;
      said.textContent = '';
      try {
        const data = await api('POST', '/auth/verify-email', { auth: true });
        said.textContent = `${data.detail}. Open the link in it within 24 hours.`;
      } catch (err) {
        if (session) said.textContent = `No link was sent: ${err.message}`;
      } finally {
        button.disabled = false;
      }
    });

    onSubmit($('accept-form'), async (form) => {
      if (!acceptToken) {
        throw new ConsoleError('This invitation link is incomplete: copy the whole link, or ask for a new one.');
      }
      const existing = form.elements.mode.value === 'existing';
      const password = form.elements.password.value;
      if (existing) {
        if (!password) throw invalid('password', 'Enter the password of your account.');
      } else {
        checkPassword('password', password);
        if (form.elements.password_confirm.value !== password) {
          throw invalid('password_confirm', 'The two passwords differ.');
        }
      }
      let data;
      try {
        data = await api('POST', '/invitations/accept', { body: { token: acceptToken, password } });
      } catch (err) {
        const said = err.message.replace(/\.$/, '');
        if (err.status === 401) {
          throw new ConsoleError(existing
            ? `${said}: give the password of the invited email's account.`
            : `${said}: the invited email has an account already. Choose “Yes” above and give its password.`, { status: 401 });
        }
        if (err.status === 404) {
          throw new ConsoleError(`${said}. Ask the person who invited you for a new link.`, { status: 404 });
        }
        throw err;
      }
      acceptToken = null;
      form.reset();
      setAcceptMode('new');
      document.title = 'Organization console';
      await startSession(data, '', `Welcome: you joined organization “${data.organization_name}” as ${roleOf(data.role)}.`);
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
      const oldName = session.organizationName;
      session.organizationName = org.organization_name;
      syncMembership(oldName);
      saveSession();
      renderSwitcher();
      renderSessionBar();
      renderOrg(org);
      form.reset();
      showSuccess(form, `Renamed to “${org.organization_name}”. The items now live in collection ${org.collection_name}.`);
      await loadItems();
    });

    onSubmit($('email-form'), async (form) => {
      const email = form.elements.email.value.trim();
      checkEmail('email', email);
      const res = await api('PUT', '/org/update', { body: { email }, auth: true });
      await loadOrg(); // the caller's own email (the organization shows its first owner's)
      await loadMembers();
      form.reset();
      if (res && res.pending_email) {
        showSuccess(form, `A link is on its way to ${res.pending_email}: the change takes effect once you open it. Until then, log in with ${session.email}.`);
      } else {
        showSuccess(form, `The admin email is now ${session.email}. Use it to log in.`);
      }
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
    renderAuditActions();
    renderAuditActors();
    updatePager();
    updateAuditPager();
    session = loadSession();
    if (!session) saveSession();
    // An invitation link opened in a tab that already shows the console.
    window.addEventListener('hashchange', readLink);
    if (readLink()) {
      if (session) armExpiry();
    } else if (session) {
      enterConsole();
    } else {
      showSignedOut();
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
