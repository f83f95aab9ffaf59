// Browser tests of the console's API keys card (/dashboard), in Debian's Chromium driven
// by playwright-core, against the API at process.env.API_URL.
//
// Step by step and in order: the owner sees the card, with no key yet; the form checks
// the name and the expiry before any request; the owner makes a key (admin, 30 days)
// and sees it once (copied, then gone: never in sessionStorage, nor in the page
// afterwards); the list shows it by its prefix, "never" used; the key works against the
// API as a bearer (GET /org/me, an item made), and the list then shows its last use;
// revoking asks in place, and the key is then refused (401); a key without expiry; an
// admin sees the card, and loses it (and the keys) when made a member; a member never
// sees it (and the API refuses them); the audit log lists the key actions, and the key
// as an actor; the 51st active key is the server's 409, shown; logging out forgets the
// keys. Screenshots go to tests/browser/screenshots/ (api-keys.png: the API keys card).
//
//   API_URL=http://127.0.0.1:9000 node --test tests/browser/

import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

import { chromium } from 'playwright-core';

import {
  API_URL, CHROMIUM, SHOTS, addMember, answerTo, apiLogin, assertIn, call, createOrg, logIn,
  openPages, orgExists, removeOrg, screenshotEveryone, seeText, sessionOf, sessionToken,
  setUp, stepper, until,
} from './lib.mjs';

// Unique per run, so that runs never meet each other's organizations or accounts.
const RUN = randomBytes(4).toString('hex');
const ORG = `keys-${RUN}`;
const OWNER = `owner.${RUN}@example.com`;
const ADMIN = `admin.${RUN}@example.com`;
const MEMBER = `member.${RUN}@example.com`;
const PASSWORD = 'Owner-Passw0rd';
const ADMIN_PASSWORD = 'Admin-Passw0rd';
const MEMBER_PASSWORD = 'Member-Passw0rd';
const KEY_NAME = 'CI deploys';
const OTHER_NAME = 'Nightly export';
const KEY_RE = /^osk_[0-9A-Za-z]{49}$/;
const DAY_MS = 24 * 3600 * 1000;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const TIME_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$/;

let browser;
const people = {}; // name -> { context, page }
const problems = []; // CSP violations, uncaught errors, Chromium's form checks: must stay empty
const seen = {}; // what the steps learn: the key, its id

// ---------------------------------------------------------------- helpers

/** A test step: skipped after an earlier failure; on failure, a screenshot of every page. */
const step = stepper(screenshotEveryone(people, 'api-keys'));

/** The page of one person. */
const P = (who) => people[who].page;

/** The row of a key in the list, by its name. */
const keyRow = (page, name) => page.locator(`#api-keys-list > tr[data-name="${name}"]`);

/** The cells of a key's row, as shown: name, prefix, role, status, created, last used,
 *  expires, actions. */
async function cellsOf(page, name) {
  return keyRow(page, name).locator('td').evaluateAll((tds) => tds.map((td) => td.innerText.replace(/\s+/g, ' ').trim()));
}

/** A request to the API keys API (`method`; with an id or not). */
const keyCall = (method) => (r) => {
  const { pathname } = new URL(r.url());
  return r.request().method() === method && /\/org\/api-keys(\/[^/]+)?$/.test(pathname);
};

/** The id (or else the accessible name) of the focused element. */
async function focused(page) {
  return page.evaluate(() => document.activeElement?.id || document.activeElement?.getAttribute('aria-label') || '');
}

/** Fills in the key form and presses "Make key"; `days` '' for no expiry, undefined to
 *  leave the field as it is. Returns the API's answer. */
async function makeKey(page, name, role, days) {
  const f = page.locator('#api-key-form');
  await f.getByLabel('Key name').fill(name);
  await f.getByLabel('Role').selectOption(role);
  if (days !== undefined) await f.getByLabel('Expires in (days)').fill(String(days));
  const response = page.waitForResponse(answerTo('POST', '/org/api-keys'));
  await f.getByRole('button', { name: 'Make key' }).click();
  return response;
}

/** A key shown once: the box shows it; never stored; gone from the page when hidden. */
async function keyShownOnce(page, key) {
  assert.match(key, KEY_RE);
  assert.equal(await page.locator('#api-key-secret-value').inputValue(), key, 'the box shows the answer\'s key');
  assert.equal(await focused(page), 'api-key-secret-value', 'the focus is on the key');
  assert.ok(!(await sessionOf(page)).includes(key), 'not in sessionStorage');
  assert.equal(await page.evaluate(() => window.localStorage.length), 0);
  await page.getByRole('button', { name: 'Done, hide the key' }).click();
  await page.locator('#api-key-secret').waitFor({ state: 'hidden' });
  assert.equal(await page.locator('#api-key-secret-value').inputValue(), '', 'the field is emptied');
  assert.ok(!(await page.content()).includes(key), 'the key left the page');
  assert.ok(!(await page.evaluate(() => document.body.innerText)).includes(key), 'and its text');
  assert.ok(!(await sessionOf(page)).includes(key), 'still not in sessionStorage');
  assert.equal(await focused(page), 'api-key-name', 'the focus goes back to the form');
}

/** Presses the console's top "Refresh" and waits for the keys read again (200). */
async function refreshAll(page) {
  const read = page.waitForResponse(keyCall('GET'));
  await page.locator('#refresh-form').getByRole('button', { name: 'Refresh', exact: true }).click();
  assert.equal((await read).status(), 200);
}

// ---------------------------------------------------------------- setup

before(async () => {
  await setUp();
  await createOrg(ORG, OWNER, PASSWORD);
  browser = await chromium.launch(CHROMIUM);
  await openPages(browser, ['owner', 'admin', 'member'], people, problems);
  // The owner's browser lets the page use the clipboard.
  await people.owner.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: API_URL });
});

after(async () => {
  await browser?.close().catch(() => {});
  if (!API_URL) return;
  // Deleting the organization removes its keys, and the accounts of the admin and the
  // member (they belong to no other organization).
  if (await orgExists(ORG).catch(() => false)) await removeOrg(OWNER, PASSWORD, ORG).catch(() => {});
});

// ---------------------------------------------------------------- the visit

describe('API keys', () => {
  step('the owner sees the API keys card, with no key yet', async () => {
    const page = P('owner');
    await page.goto(`${API_URL}/dashboard`);
    const listed = page.waitForResponse(keyCall('GET'));
    await logIn(page, OWNER, PASSWORD);
    assert.equal((await listed).status(), 200);
    await assertIn(page, ORG, 'owner');
    const card = page.locator('#api-keys-card');
    await card.getByRole('heading', { name: 'API keys', exact: true }).waitFor();
    await seeText(page.locator('#api-keys-status'), /^No API keys yet\.$/, 'empty');
    assert.equal(await page.locator('#api-keys-table').isVisible(), false, 'no table');
    assert.equal(await page.locator('#api-key-secret').isVisible(), false, 'no key shown');
    const f = page.locator('#api-key-form');
    assert.deepEqual(await f.getByLabel('Role').locator('option').allTextContents(), ['member', 'admin'], 'no owner keys');
    assert.equal(await f.getByLabel('Role').inputValue(), 'member', 'member by default');
    assert.equal(await f.getByLabel('Expires in (days)').inputValue(), '90');
  });

  step('the form checks the name and the expiry before any request', async () => {
    const page = P('owner');
    const f = page.locator('#api-key-form');
    let posts = 0;
    const count = (r) => { if (r.url().endsWith('/org/api-keys') && r.method() === 'POST') posts += 1; };
    page.on('request', count);
    try {
      const make = () => f.getByRole('button', { name: 'Make key' }).click();
      await make();
      await seeText(page.locator('#api-key-name-error'), 'Enter a name for the key, such as CI deploys.', 'no name');
      assert.equal(await f.getByLabel('Key name').getAttribute('aria-invalid'), 'true');
      assert.equal(await focused(page), 'api-key-name', 'the focus is on the field');
      await seeText(f.locator('[data-role="error"]'), 'Check the field marked above: Key name.', 'the form says where');
      await f.getByLabel('Key name').fill('   ');
      await make();
      await seeText(page.locator('#api-key-name-error'), 'Enter a name for the key', 'blanks only');
      await f.getByLabel('Key name').fill(KEY_NAME);
      for (const days of ['0', '366', '1.5']) {
        await f.getByLabel('Expires in (days)').fill(days);
        await make();
        await seeText(page.locator('#api-key-days-error'),
          'Enter a whole number of days from 1 to 365, or nothing for a key that never expires.', `${days} days`);
        assert.equal(await page.locator('#api-key-name-error').isVisible(), false, 'the name is fine now');
        assert.equal(await focused(page), 'api-key-days');
      }
      assert.equal(posts, 0, 'nothing sent');
      await f.getByLabel('Key name').fill('');
      await f.getByLabel('Expires in (days)').fill('90');
    } finally {
      page.off('request', count);
    }
  });

  step('the owner makes a key: it is shown once, copied, then gone', async () => {
    const page = P('owner');
    const res = await makeKey(page, KEY_NAME, 'admin', 30);
    assert.equal(res.status(), 201);
    assert.deepEqual(JSON.parse(res.request().postData()), { name: KEY_NAME, role: 'admin', expires_in_days: 30 });
    const made = await res.json();
    assert.match(made.key, KEY_RE);
    assert.equal(made.prefix, made.key.slice(0, 12));
    assert.equal(Date.parse(made.expires_at) - Date.parse(made.created_at), 30 * DAY_MS, '30 days');
    seen.key = made.key;
    seen.id = made.id;
    seen.made = made;
    const f = page.locator('#api-key-form');
    await seeText(f.locator('[data-role="success"]'), `Key “${KEY_NAME}” made (admin, until ${made.expires_at.slice(0, 10)} `, 'made');
    assert.equal(await f.getByLabel('Key name').inputValue(), '', 'the form is emptied');
    assert.equal(await f.getByLabel('Role').inputValue(), 'member', 'back to member');
    assert.equal(await f.getByLabel('Expires in (days)').inputValue(), '90', 'back to 90 days');
    await seeText(page.locator('#api-key-secret-title'), `API key “${KEY_NAME}”`, 'the key box');
    await seeText(page.locator('#api-key-secret-label'), `Key “${KEY_NAME}” (admin, until `, 'what the key is');
    // Copy: the clipboard holds the key.
    await page.getByRole('button', { name: 'Copy key' }).click();
    await seeText(page.locator('#api-key-secret-status'), 'Key copied to the clipboard.', 'copied');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), made.key);
    await page.locator('#api-key-secret-value').focus();
    await keyShownOnce(page, made.key);
  });

  step('the list shows the key by its prefix, never used; the API lists no key', async () => {
    const page = P('owner');
    const { made } = seen;
    const row = keyRow(page, KEY_NAME);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-prefix'), seen.key.slice(0, 12), 'the prefix: the key\'s first 12 characters');
    const [name, prefix, role, status, created, lastUsed, expires, actions] = await cellsOf(page, KEY_NAME);
    assert.equal(name, KEY_NAME);
    assert.equal(prefix, `${seen.key.slice(0, 12)}…`);
    assert.equal(role, 'admin');
    assert.equal(status, 'active');
    assert.match(created, DATE_RE);
    assert.equal(created, made.created_at.slice(0, 10));
    assert.equal(lastUsed, 'never');
    assert.equal(expires, made.expires_at.slice(0, 10));
    assert.equal(actions, 'Revoke');
    await seeText(page.locator('#api-keys-status'), /^1 key, 1 active \(at most 50\)\.$/, 'counted');
    const list = await call('GET', '/org/api-keys', { token: await sessionToken(page) });
    assert.equal(list.status, 200);
    assert.equal(list.data.api_keys.length, 1);
    assert.equal(list.data.api_keys[0].key, undefined, 'the API lists no key');
    assert.ok(!JSON.stringify(list.data).includes(seen.key));
  });

  step('the key works against the API; the list then shows its last use', async () => {
    const page = P('owner');
    const me = await call('GET', '/org/me', { token: seen.key });
    assert.equal(me.status, 200, JSON.stringify(me.data));
    assert.deepEqual(me.data.api_key, { id: seen.id, name: KEY_NAME, role: 'admin' });
    assert.equal(me.data.organization.organization_name, ORG);
    const item = await call('POST', '/org/items', { body: { made_by: 'key' }, token: seen.key });
    assert.equal(item.status, 201, JSON.stringify(item.data));
    await refreshAll(page);
    const lastUsed = await until('the last use shown', async () => {
      const cells = await cellsOf(page, KEY_NAME);
      return cells[5] !== 'never' && cells[5];
    });
    assert.match(lastUsed, TIME_RE);
    assert.ok(Math.abs(Date.parse(lastUsed.replace(' UTC', 'Z').replace(' ', 'T')) - Date.now()) < 5 * 60_000, lastUsed);
  });

  step('revoking asks in place; the key is then refused', async () => {
    const page = P('owner');
    const row = keyRow(page, KEY_NAME);
    const revoke = () => row.getByRole('button', { name: `Revoke the key ${KEY_NAME}` });
    await revoke().click();
    await seeText(row, `Revoke the key “${KEY_NAME}” (${seen.key.slice(0, 12)}…)? Whatever uses it is refused from now on`, 'asked first');
    await row.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await focused(page), `Revoke the key ${KEY_NAME}`, 'cancel puts the focus back on Revoke');
    await revoke().click();
    const response = page.waitForResponse(keyCall('DELETE'));
    await row.getByRole('button', { name: 'Yes, revoke' }).click();
    const res = await response;
    assert.equal(res.status(), 204);
    assert.ok(new URL(res.url()).pathname.endsWith(`/org/api-keys/${seen.id}`), res.url());
    await seeText(page.locator('#api-keys-status'),
      `The key “${KEY_NAME}” is revoked: it no longer works. 1 key, 0 active (at most 50).`, 'said');
    await until('the row revoked, without a button', async () => {
      const cells = await cellsOf(page, KEY_NAME);
      return cells[3] === 'revoked' && cells[7] === '';
    });
    assert.equal(await focused(page), 'api-keys-title');
    const refused = await call('GET', '/org/me', { token: seen.key });
    assert.equal(refused.status, 401);
    assert.equal(refused.data.detail, 'Invalid, revoked or expired API key');
  });

  step('a key may never expire: an empty expiry is null', async () => {
    const page = P('owner');
    const res = await makeKey(page, OTHER_NAME, 'member', '');
    assert.equal(res.status(), 201);
    assert.deepEqual(JSON.parse(res.request().postData()), { name: OTHER_NAME, role: 'member', expires_in_days: null });
    const made = await res.json();
    assert.equal(made.expires_at, null);
    await seeText(page.locator('#api-key-form [data-role="success"]'), `Key “${OTHER_NAME}” made (member, never expires).`, 'made');
    await seeText(page.locator('#api-key-secret-label'), `Key “${OTHER_NAME}” (member, never expires)`, 'the box');
    await keyShownOnce(page, made.key);
    const cells = await cellsOf(page, OTHER_NAME);
    assert.deepEqual(cells.slice(2), ['member', 'active', made.created_at.slice(0, 10), 'never', 'never', 'Revoke']);
    await seeText(page.locator('#api-keys-status'), /^2 keys, 1 active \(at most 50\)\.$/, 'counted');
  });

  step('an admin sees the card; made a member, they lose it and the keys', async () => {
    const ownerToken = await apiLogin(OWNER, PASSWORD, ORG);
    await addMember(ownerToken, ADMIN, ADMIN_PASSWORD, 'admin');
    const page = P('admin');
    await page.goto(`${API_URL}/dashboard`);
    await logIn(page, ADMIN, ADMIN_PASSWORD);
    await assertIn(page, ORG, 'admin');
    await keyRow(page, OTHER_NAME).waitFor();
    assert.equal(await page.locator('#api-keys-list > tr').count(), 2);
    const f = page.locator('#api-key-form');
    assert.deepEqual(await f.getByLabel('Role').locator('option').allTextContents(), ['member', 'admin']);
    const adminId = JSON.parse(await sessionOf(page)).userId;
    const demoted = await call('PATCH', `/org/members/${adminId}`, { body: { role: 'member' }, token: ownerToken });
    assert.equal(demoted.status, 200, JSON.stringify(demoted.data));
    await page.locator('#refresh-form').getByRole('button', { name: 'Refresh', exact: true }).click();
    await page.locator('#api-keys-card').waitFor({ state: 'hidden' });
    await seeText(page.locator('#me-role'), /^member$/, 'a member now');
    assert.equal(await page.locator('#api-keys-list > tr').count(), 0, 'the keys left the page');
    assert.equal(await page.locator('#api-keys-status').innerText(), '');
  });

  step('a member sees no API keys card; the API refuses them', async () => {
    await addMember(await apiLogin(OWNER, PASSWORD, ORG), MEMBER, MEMBER_PASSWORD);
    const page = P('member');
    let asked = 0;
    page.on('request', (r) => { if (r.url().includes('/org/api-keys')) asked += 1; });
    await page.goto(`${API_URL}/dashboard`);
    await logIn(page, MEMBER, MEMBER_PASSWORD);
    await assertIn(page, ORG, 'member');
    await page.locator('#members-list > tr').first().waitFor();
    assert.equal(await page.locator('#api-keys-card').isVisible(), false, 'no API keys card');
    assert.equal(await page.getByRole('button', { name: 'Make key' }).isVisible(), false);
    assert.equal(asked, 0, 'the console does not even ask');
    const token = await sessionToken(page);
    const refused = await call('GET', '/org/api-keys', { token });
    assert.equal(refused.status, 403);
    assert.equal(refused.data.detail, 'A member with the role member may not manage API keys');
    const made = await call('POST', '/org/api-keys', { body: { name: 'mine' }, token });
    assert.equal(made.status, 403);
  });

  step('the audit log lists the key actions, the key as an actor, and the member\'s refused read', async () => {
    const page = P('owner');
    const f = page.locator('#audit-filter');
    const group = (label) => f.getByLabel('Action').locator(`optgroup[label="${label}"] option`).allTextContents();
    assert.deepEqual(await group('API keys'), ['api_key.created', 'api_key.revoked']);
    assert.equal((await group('Refused reads')).at(-1), 'api_key.listed');
    const show = async (action) => {
      await f.getByLabel('Action').selectOption(action);
      const read = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/org/audit'));
      await f.getByRole('button', { name: 'Show events' }).click();
      assert.equal((await read).status(), 200);
      await page.waitForFunction(() => !document.getElementById('audit-card').hasAttribute('aria-busy'));
      return page.locator('#audit-list > tr').evaluateAll((rows) => rows.map((r) => ({
        outcome: r.dataset.outcome,
        who: r.cells[3].innerText.replace(/\s+/g, ' ').trim(),
        targets: r.cells[4].innerText.replace(/\s+/g, ' ').trim(),
      })));
    };
    // Newest first: the member's refused attempt, then the owner's two keys, by name.
    assert.deepEqual((await show('api_key.created')).map((e) => [e.outcome, e.who, e.targets]), [
      ['denied', MEMBER, ''],
      ['success', `${OWNER} (you)`, `api_key ${OTHER_NAME}`],
      ['success', `${OWNER} (you)`, `api_key ${KEY_NAME}`],
    ]);
    const revoked = await show('api_key.revoked');
    assert.deepEqual(revoked.map((e) => [e.outcome, e.who]), [['success', `${OWNER} (you)`]]);
    assert.deepEqual((await show('api_key.listed')).map((e) => [e.outcome, e.who]), [['denied', MEMBER]]);
    // What the key did is the key's, by its name.
    const items = await show('item.created');
    assert.deepEqual(items.map((e) => e.who), [`API key “${KEY_NAME}”`]);
    await f.getByLabel('Action').selectOption('');
  });

  step('the API keys card (api-keys.png)', async () => {
    const page = P('owner');
    const card = page.locator('#api-keys-card');
    await card.scrollIntoViewIfNeeded();
    await card.screenshot({ path: path.join(SHOTS, 'api-keys.png') });
  });

  step('an organization has at most 50 active keys: the 51st is the server\'s 409, shown', async () => {
    const page = P('owner');
    const token = await sessionToken(page);
    const extra = [];
    for (let i = 1; i <= 49; i += 1) {
      const res = await call('POST', '/org/api-keys', { body: { name: `extra ${i}`, expires_in_days: 1 }, token });
      assert.equal(res.status, 201, JSON.stringify(res.data));
      extra.push(res.data.id);
    }
    const res = await makeKey(page, 'one too many', 'member');
    assert.equal(res.status(), 409);
    await seeText(page.locator('#api-key-form [data-role="error"]'), 'An organization may have at most 50 active API keys', 'the 409');
    assert.equal(await page.locator('#api-key-secret').isVisible(), false, 'no key');
    await seeText(page.locator('#api-keys-status'), /^51 keys, 50 active \(at most 50\)\.$/, 'read again');
    for (const id of extra) assert.equal((await call('DELETE', `/org/api-keys/${id}`, { token })).status, 204);
    await page.getByRole('button', { name: 'Refresh keys' }).click();
    await seeText(page.locator('#api-keys-status'), /^51 keys, 1 active \(at most 50\)\.$/, 'revoked again');
  });

  step('logging out forgets the keys', async () => {
    const page = P('owner');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.locator('#signed-out-view').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#api-keys-list > tr').count(), 0);
    assert.equal(await page.locator('#api-keys-status').textContent(), '');
    assert.equal(await page.locator('#api-key-secret-value').inputValue(), '');
    assert.equal(await sessionOf(page), null);
  });

  step('no CSP violation, uncaught error or form warning', async () => {
    assert.deepEqual(problems, []);
  });
});
