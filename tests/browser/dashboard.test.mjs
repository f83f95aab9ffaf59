// Browser tests of the admin console (/dashboard), in Debian's Chromium driven by
// playwright-core, against the API at process.env.API_URL (a running `cargo lambda
// watch`, as scripts/test.sh and scripts/browser-test.sh start it).
//
// One person's whole visit, step by step and in order (each step needs the previous
// ones): create an organization, log in, look at it, add and page through items,
// delete one, rename, change email and password (and log in again), log out, log in,
// and delete the organization; with the errors of every form on the way. Every step
// asserts what a person would see. Screenshots go to tests/browser/screenshots/.
//
//   API_URL=http://127.0.0.1:9000 node --test tests/browser/

import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import {
  API_URL, BROWSER_CONTEXT, CHROMIUM, SHOTS, WAIT_MS, answerTo, call, createOrg, escapeRe, fileSafe,
  logIn, orgExists, removeOrg, seeText, sessionToken, setUp, stepper, until, watch,
} from './lib.mjs';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
  "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// Unique per run, so that runs never meet each other's organizations.
const RUN = randomBytes(4).toString('hex');
const ORG = `Console-${RUN}`; // typed in mixed case; the API stores it lowercased
const ORG_STORED = ORG.toLowerCase();
const RENAMED = `console-${RUN}-renamed`;
const TAKEN = `taken-${RUN}`; // another organization, for the duplicate-name errors
const EMAIL = `admin.${RUN}@example.com`;
const NEW_EMAIL = `owner.${RUN}@example.com`;
const TAKEN_EMAIL = `taken.${RUN}@example.com`;
const PASSWORD = 'Console-Passw0rd';
const NEW_PASSWORD = 'Rotated-Passw0rd9';
const OTHER_MARKER = `other-tenant-secret-${RUN}`;

let context;
let page;
let userDataDir;
const requests = []; // { method, url } of every request the console made
const problems = []; // CSP violations, uncaught errors: must stay empty
const itemIds = new Map(); // id -> label of the items the console added and has not deleted

// ---------------------------------------------------------------- helpers

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** A test step: skipped after an earlier failure; on failure, a screenshot. */
const step = stepper((name) => shot(`FAILED-${fileSafe(name, 60)}`));

const form = (id) => page.locator(`#${id}`);
const formError = (id) => page.locator(`#${id} [data-role="error"]`);
const formSuccess = (id) => page.locator(`#${id} [data-role="success"]`);
const fieldError = (inputId) => page.locator(`#${inputId}-error`);
const detail = (field) => page.locator(`#org-details dd[data-field="${field}"]`);
const itemRows = () => page.locator('#items-list > li');
const shownIds = () => itemRows().evaluateAll((lis) => lis.map((li) => li.dataset.id));

/** The items are listed by id (ObjectIds made by several function instances within one
 *  second are not in creation order): the expected ids, sorted. */
const byId = (ids) => [...ids].sort();

async function assertSignedIn(name) {
  await page.locator('#signed-in-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  assert.equal(await page.locator('#signed-out-view').isVisible(), false, 'login forms hidden');
  await seeText(page.locator('#org-title'), `Organization ${name}`, 'page heading');
  await seeText(detail('organization_name'), new RegExp(`^${escapeRe(name)}$`), 'name in details');
}

async function assertSignedOut() {
  await page.locator('#signed-out-view').waitFor({ state: 'visible', timeout: WAIT_MS });
  assert.equal(await page.locator('#signed-in-view').isVisible(), false, 'console hidden');
  assert.equal(await page.locator('#session-bar').isVisible(), false, 'session bar hidden');
  assert.equal(await sessionToken(page), null, 'token forgotten');
  // Nothing of the organization is left in the page, hidden or not.
  assert.equal(await page.locator('#items-list > li').count(), 0, 'no items left in the page');
  assert.equal((await detail('organization_name').textContent()).trim(), '', 'no details left');
}

function sent(method, route) {
  return requests.filter((r) => r.method === method && new URL(r.url).pathname === route);
}

// ---------------------------------------------------------------- setup

before(async () => {
  await setUp();

  // Another tenant, with data of its own that the console must never show.
  await createOrg(TAKEN, TAKEN_EMAIL, PASSWORD);
  const login = await call('POST', '/admin/login', { body: { email: TAKEN_EMAIL, password: PASSWORD } });
  if (login.status === 429) {
    assert.fail(
      'setup: the API throttles logins from this client IP (too many failed logins in the last ' +
        '15 minutes, e.g. by earlier tests or the fuzzer against the same database): run the ' +
        'browser tests against a fresh stack (scripts/browser-test.sh without API_URL) or before those',
    );
  }
  assert.equal(login.status, 200, 'setup: log in as the other tenant');
  const item = await call('POST', '/org/items', {
    body: { secret: OTHER_MARKER },
    token: login.data.access_token,
  });
  assert.equal(item.status, 201, 'setup: the other tenant adds an item');

  userDataDir = await mkdtemp(path.join(tmpdir(), 'dashboard-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, { ...CHROMIUM, ...BROWSER_CONTEXT });
  context.setDefaultTimeout(WAIT_MS);
  page = context.pages()[0] || (await context.newPage());
  watchAll(page);
});

/** Records the page's requests, CSP violations and uncaught errors. */
function watchAll(p) {
  p.on('request', (r) => {
    if (/^https?:/.test(r.url())) requests.push({ method: r.method(), url: r.url() });
  });
  watch(p, problems);
}

after(async () => {
  await context?.close().catch(() => {});
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  if (!API_URL) return;
  // Leave nothing behind, whatever step failed (logging in only while it still exists,
  // so that a passing run adds no failed login to the throttle's count).
  await removeOrg(TAKEN_EMAIL, PASSWORD).catch(() => {});
  const exists = async () => {
    for (const name of [RENAMED, ORG_STORED]) {
      if (await orgExists(name)) return true;
    }
    return false;
  };
  for (const email of [NEW_EMAIL, EMAIL]) {
    for (const password of [NEW_PASSWORD, PASSWORD]) {
      if (!(await exists().catch(() => false))) return;
      await removeOrg(email, password).catch(() => {});
    }
  }
});

// ---------------------------------------------------------------- the visit

describe('admin console', () => {
  step('serves the page, its script and style sheet with a strict policy', async () => {
    const res = await page.goto(`${API_URL}/dashboard`);
    assert.equal(res.status(), 200);
    const h = res.headers();
    assert.match(h['content-type'], /^text\/html/);
    assert.equal(h['content-security-policy'], CSP);
    assert.equal(h['x-content-type-options'], 'nosniff');
    assert.equal(h['referrer-policy'], 'no-referrer');
    assert.equal(h['cache-control'], 'no-store');
    for (const [file, type] of [['app.js', /^text\/javascript/], ['app.css', /^text\/css/]]) {
      const asset = await call('GET', `/dashboard/${file}`);
      assert.equal(asset.status, 200, file);
      assert.match(asset.headers.get('content-type'), type, file);
      assert.equal(asset.headers.get('x-content-type-options'), 'nosniff', file);
    }
    const missing = await call('GET', '/dashboard/app.map');
    assert.equal(missing.status, 404);
    assert.equal(missing.data.detail, 'Not Found');

    assert.equal(await page.title(), 'Organization console');
    await seeText(page.getByRole('heading', { level: 1 }), 'Administer your organization', 'heading');
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await page.getByRole('heading', { name: 'Create an organization' }).waitFor();
    // The style sheet applied (it is a separate file under the policy) ...
    const radius = await page.locator('.card').first().evaluate((el) => getComputedStyle(el).borderTopLeftRadius);
    assert.equal(radius, '8px', 'app.css is applied');
    // ... and every input has a label.
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, textarea')]
        .filter((el) => !el.hidden && !document.querySelector(`label[for="${el.id}"]`))
        .map((el) => el.id || el.name),
    );
    assert.deepEqual(unlabelled, []);
    await shot('01-signed-out');
  });

  step('create: the password rules are shown and checked before submit', async () => {
    const f = form('create-form');
    const rules = page.locator('#create-password-rules li');
    assert.equal(await rules.count(), 4);
    await seeText(page.locator('#create-password-rules'), /8 to 72 bytes.*uppercase.*lowercase.*digit/, 'rules shown before typing');
    await f.getByLabel('Organization name').fill(ORG);
    await f.getByLabel('Admin email').fill(EMAIL);
    await f.getByLabel('Password', { exact: true }).fill('weakpass');
    // Rules update while typing: "weakpass" is long enough and lowercase, nothing else.
    await until('length and lowercase met, uppercase and digit not', async () => {
      const state = await rules.evaluateAll((lis) => lis.map((li) => `${li.dataset.rule}:${li.className}`));
      return state.join(' ') === 'length:met upper:unmet lower:met digit:unmet' ? state : false;
    });
    await seeText(page.locator('#create-password-rules li[data-rule="digit"]'), 'not met', 'digit rule says not met');
    const before = sent('POST', '/org/create').length;
    await f.getByRole('button', { name: 'Create organization' }).click();
    await seeText(fieldError('create-password'), 'The password must contain an uppercase letter and a digit.', 'password error next to the field');
    await seeText(formError('create-form'), 'Check the field marked above: Password.', 'form error');
    assert.equal(await f.getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
    assert.equal(sent('POST', '/org/create').length, before, 'no request for a weak password');
    await shot('02-create-weak-password');
  });

  step('create: a new organization', async () => {
    const f = form('create-form');
    await f.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await until('every rule met', async () =>
      (await page.locator('#create-password-rules li.met').count()) === 4,
    );
    const response = page.waitForResponse((r) => r.url().endsWith('/org/create'));
    await f.getByRole('button', { name: 'Create organization' }).click();
    assert.equal((await response).status(), 201);
    await seeText(formSuccess('create-form'), `Organization “${ORG_STORED}” created (collection org_${ORG_STORED.replace(/-/g, '_')})`, 'created');
    assert.equal(await fieldError('create-password').isVisible(), false, 'the old error is gone');
    assert.equal(await form('login-form').getByLabel('Admin email').inputValue(), EMAIL, 'login email filled in');
  });

  step('create: a duplicate name shows the server\'s 400', async () => {
    const f = form('create-form');
    await f.getByLabel('Organization name').fill(ORG.toUpperCase());
    await f.getByLabel('Admin email').fill(`second.${RUN}@example.com`);
    await f.getByLabel('Password', { exact: true }).fill(PASSWORD);
    const response = page.waitForResponse((r) => r.url().endsWith('/org/create'));
    await f.getByRole('button', { name: 'Create organization' }).click();
    assert.equal((await response).status(), 400);
    await seeText(formError('create-form'), /already exists/, 'duplicate name error next to the create form');
    assert.equal(await formSuccess('create-form').innerText(), '', 'no success message left');
    await shot('03-create-duplicate');
  });

  step('login: a wrong password is refused', async () => {
    const response = page.waitForResponse((r) => r.url().endsWith('/admin/login'));
    await logIn(page, EMAIL, 'Wrong-Passw0rd');
    assert.equal((await response).status(), 401);
    await seeText(formError('login-form'), 'Incorrect email or password', 'login error');
    assert.equal(await page.locator('#signed-in-view').isVisible(), false);
  });

  step('login: the server\'s 422 shows its message by the field', async () => {
    const response = page.waitForResponse((r) => r.url().endsWith('/admin/login'));
    await logIn(page, 'not-an-email', 'Whatever-1');
    assert.equal((await response).status(), 422);
    await seeText(fieldError('login-email'), 'Value is not a valid email address', 'by the email field');
    await seeText(formError('login-form'), 'Check the field marked above: Admin email.', 'summary');
    assert.equal(await form('login-form').getByLabel('Admin email').getAttribute('aria-invalid'), 'true');
  });

  // The real throttle needs 6 failed logins, which count against the client IP (127.0.0.1
  // for every test of the suite, 50 per 15 minutes): the API's own tests cover it, so
  // here the server's 429 is stubbed, as the API sends it and in a plainer form.
  step('login: too many attempts show when to try again (429, Retry-After)', async () => {
    const cases = [
      { detail: 'Too many failed login attempts; try again in 900 seconds', after: '900',
        shown: 'Too many failed login attempts; try again in 900 seconds.' },
      { detail: 'Slow down', after: '42', shown: 'Slow down (try again in 42 seconds).' },
    ];
    for (const c of cases) {
      await page.route('**/admin/login', (route) =>
        route.fulfill({
          status: 429,
          headers: { 'content-type': 'application/json', 'retry-after': c.after },
          body: JSON.stringify({ detail: c.detail }),
        }),
      );
      try {
        await logIn(page, EMAIL, PASSWORD);
        await seeText(formError('login-form'), new RegExp(`^${escapeRe(c.shown)}$`), 'retry-after shown');
      } finally {
        await page.unroute('**/admin/login');
      }
    }
    assert.equal(await page.locator('#signed-in-view').isVisible(), false);
    await shot('04-login-throttled');
  });

  // A suspension needs the operator API (its own tests cover it); here the server's 403
  // is stubbed as the API sends it.
  step('login: a suspended organization says so, in words for its members', async () => {
    await page.route('**/admin/login', (route) =>
      route.fulfill({
        status: 403,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ detail: 'Organization suspended' }),
      }),
    );
    try {
      await logIn(page, EMAIL, PASSWORD);
      await seeText(formError('login-form'), /suspended by the service's operators/, 'suspension shown');
    } finally {
      await page.unroute('**/admin/login');
    }
    assert.equal(await page.locator('#signed-in-view').isVisible(), false);
  });

  step('login: the console shows the signed-in organization', async () => {
    const response = page.waitForResponse((r) => r.url().endsWith('/admin/login'));
    await logIn(page, EMAIL, PASSWORD);
    assert.equal((await response).status(), 200);
    await assertSignedIn(ORG_STORED);
    await seeText(detail('email'), EMAIL, 'email');
    await seeText(detail('collection_name'), `org_${ORG_STORED.replace(/-/g, '_')}`, 'collection');
    await seeText(detail('created_at'), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/, 'created');
    await seeText(detail('updated_at'), 'never', 'updated');
    await seeText(page.locator('#session-bar'), `Signed in as ${EMAIL} organization ${ORG_STORED}`, 'session bar');
    await seeText(page.locator('#items-status'), 'No items yet.', 'empty item list');
    assert.equal(await page.locator('#pager').isHidden(), true, 'no page buttons');
    assert.equal(await formError('login-form').innerText(), '', 'the earlier login error is cleared');
    // The console asked for its own organization and role by its token (GET /org/me),
    // never for an organization by name.
    assert.ok(sent('GET', '/org/me').length >= 1, 'GET /org/me');
    assert.equal(sent('GET', '/org/get').length, 0, 'no GET /org/get');
    await seeText(page.locator('#session-bar'), `organization ${ORG_STORED} as owner`, 'role in the session bar');
    // The token: in this tab's sessionStorage, never in a cookie, the URL or localStorage.
    const token = await sessionToken(page);
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.deepEqual(await context.cookies(), []);
    assert.ok(!page.url().includes(token) && !requests.some((r) => r.url.includes(token)));
    assert.equal(await page.evaluate(() => window.localStorage.length), 0);
  });

  step('items: invalid JSON, a non-object and a refused key show errors', async () => {
    const f = form('item-form');
    const box = f.getByLabel('New item (a JSON object)');
    const posted = sent('POST', '/org/items').length;
    await f.getByRole('button', { name: 'Add item' }).click();
    await seeText(fieldError('item-data'), 'Enter a JSON object', 'empty');
    await box.fill('{"name": ');
    await f.getByRole('button', { name: 'Add item' }).click();
    await seeText(fieldError('item-data'), 'This is not valid JSON', 'invalid JSON');
    await box.fill('[1, 2, 3]');
    await f.getByRole('button', { name: 'Add item' }).click();
    await seeText(fieldError('item-data'), 'An item must be a JSON object', 'not an object');
    assert.equal(sent('POST', '/org/items').length, posted, 'nothing sent for client-side errors');
    // The server's own 422 (a key starting with $) shows its message by the field.
    await box.fill('{"$where": "1"}');
    const response = page.waitForResponse(answerTo('POST', '/org/items'));
    await f.getByRole('button', { name: 'Add item' }).click();
    assert.equal((await response).status(), 422);
    await seeText(fieldError('item-data'), "Key '$where' may not start with '$'", 'server 422 by the field');
    await shot('05-item-errors');
  });

  step('items: add three', async () => {
    const f = form('item-form');
    for (let i = 1; i <= 3; i += 1) {
      await f.getByLabel('New item (a JSON object)').fill(JSON.stringify({ n: i, label: `item ${i} of ${RUN}` }));
      const response = page.waitForResponse(answerTo('POST', '/org/items'));
      await f.getByRole('button', { name: 'Add item' }).click();
      const res = await response;
      assert.equal(res.status(), 201);
      const { id } = await res.json();
      itemIds.set(id, `item ${i} of ${RUN}`);
      await seeText(formSuccess('item-form'), `Item ${id} added.`, `item ${i} added`);
      await until(`item ${i} listed`, async () => (await itemRows().count()) === i);
      await seeText(page.locator(`#items-list > li[data-id="${id}"]`), `"label": "item ${i} of ${RUN}"`, `item ${i} shown`);
    }
    await seeText(page.locator('#items-status'), 'Page 1: items 1 to 3.', 'three items');
    assert.deepEqual(await shownIds(), byId(itemIds.keys()), 'listed by id');
  });

  step('items: paged two at a time', async () => {
    await form('page-form').getByLabel('Items per page').fill('2');
    await form('page-form').getByRole('button', { name: 'Show' }).click();
    await seeText(page.locator('#items-status'), 'Page 1: items 1 to 2, more on the next page.', 'page 1');
    const all = byId(itemIds.keys());
    assert.deepEqual(await shownIds(), all.slice(0, 2), 'the first two ids');
    assert.ok(sent('GET', '/org/items').some((r) => new URL(r.url).searchParams.get('limit') === '2'));
    assert.equal(await page.getByRole('button', { name: 'Previous page' }).isDisabled(), true);
    await page.getByRole('button', { name: 'Next page' }).click();
    await seeText(page.locator('#items-status'), 'Page 2: items 3 to 3.', 'page 2');
    assert.deepEqual(await shownIds(), all.slice(2), 'the last id on page 2');
    await seeText(itemRows().first(), itemIds.get(all[2]), 'its data on page 2');
    assert.equal(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true);
    const after = new URL(sent('GET', '/org/items').at(-1).url).searchParams.get('after');
    assert.equal(after, all[1], 'page 2 asked with after=<last id of page 1>');
    await shot('06-items-page-2');
    await page.getByRole('button', { name: 'Previous page' }).click();
    await seeText(page.locator('#items-status'), 'Page 1: items 1 to 2, more on the next page.', 'back on page 1');
    assert.deepEqual(await shownIds(), all.slice(0, 2));
  });

  step('items: delete one', async () => {
    const first = itemRows().first();
    const id = await first.getAttribute('data-id');
    await seeText(first, itemIds.get(id), 'the first item');
    const response = page.waitForResponse((r) => r.url().endsWith(`/org/items/${id}`));
    await page.getByRole('button', { name: `Delete item ${id}` }).click();
    assert.equal((await response).status(), 204);
    await seeText(page.locator('#items-status'), `Item ${id} deleted. Page 1: items 1 to 2.`, 'deleted');
    itemIds.delete(id);
    assert.equal(await page.locator(`#items-list > li[data-id="${id}"]`).count(), 0);
    assert.deepEqual(await shownIds(), byId(itemIds.keys()), 'the other two remain');
    assert.equal(await page.locator('#pager').isHidden(), true, 'one page only: no page buttons');
    // Never the other tenant's data.
    assert.ok(!(await page.locator('body').innerText()).includes(OTHER_MARKER));
  });

  step('rename: a taken name is refused', async () => {
    const f = form('rename-form');
    await f.getByLabel('New organization name').fill(TAKEN);
    const response = page.waitForResponse((r) => r.url().endsWith('/org/update'));
    await f.getByRole('button', { name: 'Rename' }).click();
    assert.equal((await response).status(), 400);
    await seeText(formError('rename-form'), /already exists/, 'rename error next to the rename form');
    await seeText(detail('organization_name'), new RegExp(`^${ORG_STORED}$`), 'name unchanged');
    await f.getByLabel('New organization name').fill('no');
    await f.getByRole('button', { name: 'Rename' }).click();
    await seeText(fieldError('rename-name'), 'Use 3 to 50 characters', 'too short');
    await shot('07-rename-taken');
  });

  step('rename: the organization gets a new name, its items move with it', async () => {
    const f = form('rename-form');
    await f.getByLabel('New organization name').fill(RENAMED);
    const response = page.waitForResponse((r) => r.url().endsWith('/org/update'));
    await f.getByRole('button', { name: 'Rename' }).click();
    assert.equal((await response).status(), 200);
    await seeText(formSuccess('rename-form'), `Renamed to “${RENAMED}”`, 'renamed');
    await assertSignedIn(RENAMED);
    await seeText(detail('collection_name'), `org_${RENAMED.replace(/-/g, '_')}`, 'new collection');
    await seeText(detail('updated_at'), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/, 'updated time set');
    await seeText(page.locator('#session-bar'), `organization ${RENAMED}`, 'session bar');
    await until('the items moved with the collection', async () =>
      JSON.stringify(await shownIds()) === JSON.stringify(byId(itemIds.keys())),
    );
    for (const label of itemIds.values()) await seeText(page.locator('#items-list'), label, 'item data after rename');
    // A reload keeps the session (sessionStorage) and finds the organization by its new name.
    await page.reload();
    await assertSignedIn(RENAMED);
    await seeText(page.locator('#items-status'), 'Page 1: items 1 to 2.', 'items after reload');
    await page.locator('#org-title').scrollIntoViewIfNeeded();
    await shot('08-console');
  });

  step('email: an invalid address is refused, then the email changes', async () => {
    const f = form('email-form');
    await f.getByLabel('New admin email').fill('not-an-email');
    await f.getByRole('button', { name: 'Change email' }).click();
    await seeText(fieldError('email-new'), 'Enter a valid email address', 'invalid email');
    await f.getByLabel('New admin email').fill(TAKEN_EMAIL);
    let response = page.waitForResponse((r) => r.url().endsWith('/org/update'));
    await f.getByRole('button', { name: 'Change email' }).click();
    assert.equal((await response).status(), 400);
    await seeText(formError('email-form'), /already exists/, 'email taken');
    await f.getByLabel('New admin email').fill(NEW_EMAIL);
    response = page.waitForResponse((r) => r.url().endsWith('/org/update'));
    await f.getByRole('button', { name: 'Change email' }).click();
    assert.equal((await response).status(), 200);
    await seeText(formSuccess('email-form'), `The admin email is now ${NEW_EMAIL}`, 'email changed');
    await seeText(detail('email'), NEW_EMAIL, 'details show the new email');
    await seeText(page.locator('#session-bar'), `Signed in as ${NEW_EMAIL}`, 'session bar');
    await shot('dashboard');
  });

  step('password: weak or mismatched is refused; a change ends the session', async () => {
    const f = form('password-form');
    await f.getByLabel('New password', { exact: true }).fill('short');
    await seeText(page.locator('#password-new-rules li[data-rule="length"]'), 'not met', 'rules while typing');
    await f.getByRole('button', { name: 'Change password' }).click();
    await seeText(fieldError('password-new'), 'The password must be 8 to 72 bytes long', 'weak');
    await f.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await f.getByLabel('Repeat the new password').fill(`${NEW_PASSWORD}x`);
    await f.getByRole('button', { name: 'Change password' }).click();
    await seeText(fieldError('password-confirm'), 'The two passwords differ.', 'mismatch');
    assert.equal(sent('PUT', '/org/update').length, 4, 'no request for the refused passwords');

    const oldToken = await sessionToken(page);
    await f.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
    const response = page.waitForResponse((r) => r.url().endsWith('/org/update'));
    await f.getByRole('button', { name: 'Change password' }).click();
    assert.equal((await response).status(), 200);
    await assertSignedOut();
    await seeText(page.locator('#notice'), 'Password changed. Every session has ended: log in again with your new password.', 'told to log in again');
    assert.equal(await form('login-form').getByLabel('Admin email').inputValue(), NEW_EMAIL, 'back at the login form');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'login-password', 'focus on the password');
    // The old token is revoked indeed.
    assert.equal((await call('GET', '/org/items', { token: oldToken })).status, 401);
    await shot('09-password-changed');
  });

  step('login: with the new password', async () => {
    await logIn(page, NEW_EMAIL, NEW_PASSWORD);
    await assertSignedIn(RENAMED);
    assert.equal(await page.locator('#notice').textContent(), '', 'the notice is gone');
    await seeText(page.locator('#items-status'), 'Page 1: items 1 to 2.', 'items');
  });

  step('logout: the session ends and the token is revoked', async () => {
    const token = await sessionToken(page);
    const response = page.waitForResponse((r) => r.url().endsWith('/admin/logout'));
    await page.getByRole('button', { name: 'Log out' }).click();
    assert.equal((await response).status(), 204);
    await assertSignedOut();
    await seeText(page.locator('#notice'), 'You are logged out.', 'logged out');
    assert.equal((await call('GET', '/org/items', { token })).status, 401);
  });

  step('login: again after logout', async () => {
    await logIn(page, NEW_EMAIL, NEW_PASSWORD);
    await assertSignedIn(RENAMED);
  });

  step('the console works under /api/v1 too, by keyboard alone', async () => {
    const other = await context.newPage();
    watchAll(other);
    const from = requests.length;
    try {
      const res = await other.goto(`${API_URL}/api/v1/dashboard`);
      assert.equal(res.status(), 200);
      assert.equal(res.headers()['content-security-policy'], CSP);
      // A new tab has no session: sessionStorage belongs to the tab.
      await other.locator('#signed-out-view').waitFor({ state: 'visible' });
      // The first Tab reaches the skip link, visibly.
      const active = () => other.evaluate(() => document.activeElement.id || document.activeElement.className);
      await other.keyboard.press('Tab');
      assert.equal(await active(), 'skip-link');
      await other.keyboard.press('Enter');
      assert.equal(await active(), 'main', 'the skip link moves focus to the content');
      await other.keyboard.press('Tab');
      assert.equal(await active(), 'login-email', 'then the first field');
      await other.keyboard.type(NEW_EMAIL);
      await other.keyboard.press('Tab');
      const focused = await other.evaluate(() => {
        const el = document.activeElement;
        const style = getComputedStyle(el);
        return { id: el.id, outline: style.outlineStyle, width: style.outlineWidth };
      });
      assert.deepEqual(focused, { id: 'login-password', outline: 'solid', width: '3px' }, 'visible focus');
      await other.keyboard.type(NEW_PASSWORD);
      await other.keyboard.press('Enter');
      await other.locator('#signed-in-view').waitFor({ state: 'visible' });
      await until('details under /api/v1', async () =>
        (await other.locator('#org-details dd[data-field="organization_name"]').innerText()) === RENAMED,
      );
      await until('items under /api/v1', async () => (await other.locator('#items-list > li').count()) === 2);
      await other.screenshot({ path: path.join(SHOTS, '10-api-v1.png'), fullPage: true });
      const api = requests.slice(from).map((r) => new URL(r.url).pathname).filter((p) => !p.includes('/dashboard'));
      assert.ok(api.length >= 3, `API calls made: ${api}`);
      assert.deepEqual(api.filter((p) => !p.startsWith('/api/v1/')), [], 'every call under /api/v1');
      assert.ok(requests.slice(from).every((r) => r.url.startsWith(API_URL)), 'same origin only');
    } finally {
      await other.close();
    }
  });

  step('delete: a wrong confirmation is refused', async () => {
    await page.bringToFront();
    const f = form('delete-form');
    await seeText(f, `Type ${RENAMED} to confirm`, 'the name to type is shown');
    await f.getByLabel(`Type ${RENAMED} to confirm`).fill(`${RENAMED}x`);
    await f.getByRole('button', { name: 'Delete organization' }).click();
    await seeText(fieldError('delete-confirm'), `Type the organization name exactly as shown: ${RENAMED}`, 'refused');
    assert.equal(sent('DELETE', '/org/delete').length, 0, 'nothing sent');
    assert.equal(await page.locator('#signed-in-view').isVisible(), true, 'still signed in');
    await shot('11-delete-refused');
  });

  step('delete: typing the name deletes the organization', async () => {
    const f = form('delete-form');
    await f.getByLabel(`Type ${RENAMED} to confirm`).fill(RENAMED);
    const response = page.waitForResponse((r) => r.url().includes('/org/delete'));
    await f.getByRole('button', { name: 'Delete organization' }).click();
    const res = await response;
    assert.equal(res.status(), 204);
    assert.equal(new URL(res.url()).searchParams.get('organization_name'), RENAMED);
    await assertSignedOut();
    await seeText(page.locator('#notice'), `Organization “${RENAMED}” and all its data were deleted.`, 'deleted');
    assert.equal((await call('GET', `/org/get?organization_name=${RENAMED}`)).status, 404);
    await shot('12-deleted');
  });

  step('no policy violation and no uncaught error in the whole visit', async () => {
    assert.deepEqual(problems, []);
  });
});
