// What the console's browser tests (tests/browser/*.test.mjs) share: the API at
// process.env.API_URL called directly, Chromium's settings, steps that stop at the first
// failure, polling and text checks, and the console's login, session, members and
// invitation forms.
//
// Not a test file: `node --test tests/browser/` runs only the files named *.test.mjs.

import assert from 'node:assert/strict';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

export const SHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');
export const API_URL = (process.env.API_URL || '').replace(/\/+$/, '');
export const WAIT_MS = 60_000; // the first call of each function may start its process

/** How to start Debian's Chromium: headless, and quiet on the network. */
export const CHROMIUM = {
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};

/** Every test browser's window, language and time zone. */
export const BROWSER_CONTEXT = { viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' };

/** An invitation link as the console shows it: this page with #accept=TOKEN (group 1). */
export const LINK_RE = new RegExp(`^${escapeRe(API_URL)}/dashboard#accept=([A-Za-z0-9_-]{43})$`);

// ---------------------------------------------------------------- the API, directly

/** Calls the API directly (setup, cleanup and checks behind the console's back). */
export async function call(method, route, { body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(API_URL + route, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  return { status: res.status, data, headers: res.headers };
}

/** Logs in over the API (to `organization` if given), which must succeed; returns the token. */
export async function apiLogin(email, password, organization) {
  const body = { email, password };
  if (organization) body.organization_name = organization;
  const res = await call('POST', '/admin/login', { body });
  assert.equal(res.status, 200, `login ${email}: ${JSON.stringify(res.data)}`);
  return res.data.access_token;
}

/** The start of every file's setup: the API is named, the screenshot folder is there. */
export async function setUp() {
  assert.ok(API_URL, 'set API_URL to the base URL of the running API (e.g. http://127.0.0.1:9000)');
  await mkdir(SHOTS, { recursive: true });
}

/** Creates an organization over the API, which must succeed (setup). */
export async function createOrg(name, email, password) {
  const res = await call('POST', '/org/create', { body: { organization_name: name, email, password } });
  assert.equal(res.status, 201, `setup: create ${name}: ${JSON.stringify(res.data)}`);
  return res;
}

/** Whether an organization of that name exists. */
export async function orgExists(name) {
  return (await call('GET', `/org/get?organization_name=${name}`)).status === 200;
}

/** Logs in over the API (to `organization` if given) and, if that works, deletes the
 *  organization of the login (cleanup). */
export async function removeOrg(email, password, organization) {
  const body = { email, password };
  if (organization) body.organization_name = organization;
  const login = await call('POST', '/admin/login', { body });
  if (login.status === 200) {
    await call('DELETE', '/org/delete', { token: login.data.access_token });
  }
}

// ---------------------------------------------------------------- steps and checks

/** A file-name-safe form of a step's name. */
export function fileSafe(name, length = 50) {
  return name.replace(/[^a-z0-9]+/gi, '-').slice(0, length);
}

/** Returns `step(name, fn)`: a test step that is skipped after an earlier failure of the
 *  same file; on failure it runs `onFailure(name)` (screenshots), then fails. */
export function stepper(onFailure) {
  let broken = null; // the first failed step: the later ones are skipped
  return function step(name, fn) {
    it(name, async (t) => {
      if (broken) {
        t.skip(`an earlier step failed: ${broken}`);
        return;
      }
      try {
        await fn();
      } catch (err) {
        broken = name;
        await onFailure(name).catch(() => {});
        throw err;
      }
    });
  };
}

/** A failure handler for [`stepper`]: a screenshot of each person's page, named
 *  FAILED-`prefix`-<step>-<person>.png. */
export function screenshotEveryone(people, prefix) {
  return async (name) => {
    for (const [who, { page }] of Object.entries(people)) {
      await page
        .screenshot({ path: path.join(SHOTS, `FAILED-${prefix}-${fileSafe(name)}-${who}.png`), fullPage: true })
        .catch(() => {});
    }
  };
}

/** Polls until `probe()` returns a truthy value; fails with `what` and the last value. */
export async function until(what, probe, timeout = WAIT_MS) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > end) assert.fail(`${what} (last seen: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Waits until `locator` is visible and its text matches `pattern`; returns the text. */
export async function seeText(locator, pattern, what) {
  await locator.waitFor({ state: 'visible', timeout: WAIT_MS });
  const re = pattern instanceof RegExp ? pattern : new RegExp(escapeRe(pattern));
  return until(`${what}: text matching ${re}`, async () => {
    const text = (await locator.innerText()).replace(/\s+/g, ' ').trim();
    return re.test(text) ? text : false;
  });
}

/** Records a page's CSP violations, uncaught errors and Chromium's form warnings (e.g.
 *  duplicate ids, password fields without a username) in `problems`, each after `who`. */
export function watch(page, problems, who = '') {
  const from = who ? `${who}: ` : '';
  page.on('pageerror', (err) => problems.push(`${from}uncaught error: ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy|Refused to (load|execute|apply|connect|frame|navigate)/i.test(text)) {
      problems.push(`${from}CSP: ${text}`);
    } else if (text.startsWith('[DOM]')) {
      problems.push(`${from}Chromium's form check: ${text}`);
    }
  });
}

/** Opens a browser context and page for each person of `names` into `people` (name ->
 *  { context, page }), their problems recorded in `problems`. */
export async function openPages(browser, names, people, problems, options = {}) {
  for (const who of names) {
    const context = await browser.newContext({ ...BROWSER_CONTEXT, ...options });
    context.setDefaultTimeout(WAIT_MS);
    const page = await context.newPage();
    watch(page, problems, who);
    people[who] = { context, page };
  }
}

/** A predicate for `page.waitForResponse`: the answer to `method` on a URL ending in `end`. */
export function answerTo(method, end) {
  return (r) => r.url().endsWith(end) && r.request().method() === method;
}

// ---------------------------------------------------------------- the console

/** The session the console keeps in this tab's sessionStorage, as stored (or null). */
export async function sessionOf(page) {
  return page.evaluate(() => window.sessionStorage.getItem('org-console.session'));
}

/** The token of the console's session, or null. */
export async function sessionToken(page) {
  const raw = await sessionOf(page);
  return raw ? JSON.parse(raw).token : null;
}

/** Fills in the login form and presses "Log in". */
export async function logIn(page, email, password) {
  const f = page.locator('#login-form');
  await f.getByLabel('Admin email').fill(email);
  await f.getByLabel('Password', { exact: true }).fill(password);
  await f.getByRole('button', { name: 'Log in' }).click();
}

/** Signed in to `org` as `role`, the role shown in the session bar and the details. */
export async function assertIn(page, org, role) {
  await page.locator('#signed-in-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  await seeText(page.locator('#session-bar'), `organization ${org} as ${role}`, 'session bar');
  await seeText(page.locator('#org-details dd[data-field="organization_name"]'), new RegExp(`^${escapeRe(org)}$`), 'details');
  await seeText(page.locator('#me-role'), new RegExp(`^${role}$`), 'role in the details');
}

export const memberRow = (page, email) => page.locator(`#members-list > tr[data-email="${email}"]`);
export const invitationRow = (page, email) => page.locator(`#invitations-list > tr[data-email="${email}"]`);

/** Chooses `role` for the member `email` and presses its "Change the role"; returns the
 *  API's answer. */
export async function changeRole(page, email, role) {
  const row = memberRow(page, email);
  await row.getByLabel(`Role of ${email}`, { exact: true }).selectOption(role);
  const response = page.waitForResponse((r) => r.request().method() === 'PATCH');
  await row.getByRole('button', { name: `Change the role of ${email}` }).click();
  return response;
}

/** Fills in the invitation form (the role and expiry when given; by email only when
 *  `byEmail`, else the link is shown) and sends it; returns the API's answer. */
export async function sendInvitation(page, email, { role, days, byEmail = false } = {}) {
  const f = page.locator('#invite-form');
  await f.getByLabel('Email to invite').fill(email);
  await f.getByLabel('Send the invitation by email').setChecked(byEmail);
  if (role !== undefined) await f.getByLabel('Role').selectOption(role);
  if (days !== undefined) await f.getByLabel('Expires in (days)').fill(String(days));
  const response = page.waitForResponse(answerTo('POST', '/org/invitations'));
  await f.getByRole('button', { name: 'Create invitation' }).click();
  return response;
}

/** Creates an invitation in the console, which must succeed; returns the link it shows once. */
export async function invite(page, email, role, days) {
  const res = await sendInvitation(page, email, { role, days });
  assert.equal(res.status(), 201, `invite ${email}`);
  await seeText(page.locator('#invite-form [data-role="success"]'), `Invitation for ${email} created (${role}, until `, 'created');
  await seeText(page.locator('#invite-link-title'), `Invitation link for ${email}`, 'the link box');
  const link = await page.locator('#invite-link-url').inputValue();
  assert.match(link, LINK_RE, 'the link: this page with #accept=TOKEN');
  assert.equal(link.match(LINK_RE)[1], (await res.json()).token, 'the token of the answer');
  await seeText(invitationRow(page, email), new RegExp(`${escapeRe(email)} ${role} pending \\d{4}-\\d{2}-\\d{2}`), 'listed as pending');
  return link;
}

/** Opens an invitation link and accepts it, with a new account or (`existing`) the
 *  password of one; returns the API's answer. */
export async function accept(page, link, { password, existing = false }) {
  await page.goto(link);
  await page.locator('#accept-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  const f = page.locator('#accept-form');
  if (existing) await f.getByLabel('Yes: my email already belongs').check();
  await f.getByLabel(existing ? 'Your password' : 'Choose a password', { exact: true }).fill(password);
  if (!existing) await f.getByLabel('Repeat the password').fill(password);
  const response = page.waitForResponse((r) => r.url().endsWith('/invitations/accept'));
  await f.getByRole('button', { name: 'Join the organization' }).click();
  return response;
}

// ---------------------------------------------------------------- the service's email

/** The folder the stack writes the service's email to (.eml files). */
export const MAIL_DIR = process.env.MAIL_DIR || '';

/** The messages to `to` in MAIL_DIR, oldest first: { to, subject, text, html }. */
export async function mailTo(to) {
  assert.ok(MAIL_DIR, 'set MAIL_DIR to the mail folder of the stack (scripts/stack.py exports it)');
  let names = [];
  try {
    names = (await readdir(MAIL_DIR)).filter((n) => n.endsWith('.eml')).sort();
  } catch {
    return [];
  }
  const mails = [];
  for (const name of names) {
    const raw = await readFile(path.join(MAIL_DIR, name), 'utf8');
    const [head, ...rest] = raw.split('\r\n\r\n');
    const header = (h) => (head.split('\r\n').find((l) => l.startsWith(`${h}: `)) || '').slice(h.length + 2);
    if (header('To') !== to) continue;
    const body = rest.join('\r\n\r\n');
    const part = (type) => {
      const marker = `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`;
      const start = body.indexOf(marker);
      if (start < 0) return '';
      const from = start + marker.length;
      return body.slice(from, body.indexOf('\r\n--=_part_', from)).replace(/\r\n/g, '\n');
    };
    mails.push({ to, subject: header('Subject'), text: part('text/plain'), html: part('text/html') });
  }
  return mails;
}

/** Waits for a message to `to` with a link `...#<kind>=TOKEN` not in `seen`, as a person
 *  would find it in their inbox; returns { link, token, mail }. */
export async function linkInMail(to, kind, seen = []) {
  const re = new RegExp(`(\\S+#${kind}=([A-Za-z0-9_-]{43}))`);
  return until(`a message to ${to} with a #${kind}= link`, async () => {
    for (const mail of await mailTo(to)) {
      const m = mail.text.match(re);
      if (m && !seen.includes(m[2])) return { link: m[1], token: m[2], mail };
    }
    return false;
  }, 30_000);
}

// ---------------------------------------------------------------- setup over the API

/** Adds `email` to the organization of the owner's or admin's `token` as `role`, over
 *  the API: an invitation with its link (no email), accepted with a new account of
 *  `password` (setup). Returns the new member's token. */
export async function addMember(token, email, password, role = 'member') {
  const inv = await call('POST', '/org/invitations', { body: { email, role, send_email: false }, token });
  assert.equal(inv.status, 201, `setup: invite ${email}: ${JSON.stringify(inv.data)}`);
  const joined = await call('POST', '/invitations/accept', { body: { token: inv.data.token, password } });
  assert.equal(joined.status, 200, `setup: ${email} accepts: ${JSON.stringify(joined.data)}`);
  return joined.data.access_token;
}
