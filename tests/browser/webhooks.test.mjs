// Browser tests of the console's webhooks card (/dashboard), in Debian's Chromium driven
// by playwright-core, against the API at process.env.API_URL.
//
// The stack of these tests is not a local one: receivers on loopback are refused. The
// endpoints get a public IP literal (no DNS) on this run's own path: the server accepts
// it, and each attempt to reach it fails (this machine has no way out), which gives
// failed attempts to show. Step by step and in order: the form checks the URL and the
// events before any request; the server's 422 for a metadata address is shown on the URL
// field; the owner adds an endpoint and sees its secret once (copied, then gone); disables
// and enables it; a test sent from a stale page to an endpoint disabled behind its back is
// the server's 409, shown; a test event is delivered (and fails) and its attempts are
// listed; a retry is accepted (202); the secret is rotated (the new one shown once); the
// eleventh endpoint is the server's 409; a member sees no webhooks card (and the API
// refuses them); the audit log lists the webhook actions; the endpoint is deleted.
// Screenshots go to tests/browser/screenshots/ (webhooks.png: the webhooks card).
//
//   API_URL=http://127.0.0.1:9000 node --test tests/browser/

import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

import { chromium } from 'playwright-core';

import {
  API_URL, CHROMIUM, SHOTS, addMember, answerTo, apiLogin, assertIn, call, createOrg, escapeRe,
  logIn, openPages, orgExists, removeOrg, screenshotEveryone, seeText, sessionOf, sessionToken,
  setUp, stepper, until,
} from './lib.mjs';

// Unique per run, so that runs never meet each other's organizations or accounts.
const RUN = randomBytes(4).toString('hex');
const ORG = `hooks-${RUN}`;
const OWNER = `owner.${RUN}@example.com`;
const MEMBER = `member.${RUN}@example.com`;
const PASSWORD = 'Owner-Passw0rd';
const MEMBER_PASSWORD = 'Member-Passw0rd';
// A public address (no DNS, so the server's checks pass), unreachable from here.
const HOOK_URL = `https://93.184.216.34/hooks/${RUN}`;
const METADATA_URL = 'https://169.254.169.254/latest/meta-data/';
const SECRET_RE = /^whsec_[A-Za-z0-9+/]{43}=$/;
const DELIVERY_WAIT_MS = 30_000; // the stack's dispatcher runs all the time

let browser;
const people = {}; // name -> { context, page }
const problems = []; // CSP violations, uncaught errors, Chromium's form checks: must stay empty
const seen = {}; // what the steps learn: the endpoint's id, its secrets

// ---------------------------------------------------------------- helpers

/** A test step: skipped after an earlier failure; on failure, a screenshot of every page. */
const step = stepper(screenshotEveryone(people, 'webhooks'));

/** The page of one person. */
const P = (who) => people[who].page;

/** The row of an endpoint in the list. */
const hookRow = (page, url) => page.locator(`#webhooks-list > tr[data-url="${url}"]`);

/** Waits until an endpoint's row shows `state` (enabled, disabled) and these buttons. */
async function rowShows(page, url, state, buttons) {
  const row = hookRow(page, url);
  await until(`${url}: ${state}, ${buttons.join(', ')}`, async () =>
    (await row.locator('.status').innerText()) === state
      && JSON.stringify(await row.locator('button').allTextContents()) === JSON.stringify(buttons));
}

const ENABLED = ['Disable', 'Send test', 'Deliveries', 'Rotate secret', 'Delete'];
const DISABLED = ['Enable', 'Deliveries', 'Rotate secret', 'Delete'];

/** A request to the webhooks API (`method`, the path after /org/webhooks). */
const hookCall = (method, end = '') => (r) => {
  const { pathname } = new URL(r.url());
  return r.request().method() === method && (end ? pathname.endsWith(end) : /\/org\/webhooks(\/[^/]+)?$/.test(pathname));
};

/** The id of the focused element. */
async function focused(page) {
  return page.evaluate(() => document.activeElement?.id || document.activeElement?.getAttribute('aria-label') || '');
}

/** Fills in the endpoint form and presses "Add endpoint"; returns the API's answer. */
async function addEndpoint(page, url, events, description = '') {
  const f = page.locator('#webhook-form');
  await f.getByLabel('Endpoint URL').fill(url);
  await f.getByLabel('Events').fill(events);
  await f.getByLabel('Description (optional)').fill(description);
  const response = page.waitForResponse(answerTo('POST', '/org/webhooks'));
  await f.getByRole('button', { name: 'Add endpoint' }).click();
  return response;
}

/** A secret shown once: the box shows it; never stored; gone from the page when hidden. */
async function secretShownOnce(page, secret, focusAfter) {
  assert.match(secret, SECRET_RE);
  assert.equal(await page.locator('#webhook-secret-value').inputValue(), secret, 'the box shows the answer\'s secret');
  assert.equal(await focused(page), 'webhook-secret-value', 'the focus is on the secret');
  assert.ok(!(await sessionOf(page)).includes(secret), 'not in sessionStorage');
  assert.equal(await page.evaluate(() => window.localStorage.length), 0);
  await page.getByRole('button', { name: 'Done, hide the secret' }).click();
  await page.locator('#webhook-secret').waitFor({ state: 'hidden' });
  assert.equal(await page.locator('#webhook-secret-value').inputValue(), '', 'the field is emptied');
  assert.ok(!(await page.content()).includes(secret), 'the secret left the page');
  assert.ok(!(await page.evaluate(() => document.body.innerText)).includes(secret), 'and its text');
  assert.equal(await focused(page), focusAfter, 'the focus goes back');
}

/** The delivery rows of the deliveries table: { id, type, status, text, attempts, errors }. */
async function deliveryRows(page) {
  return page.locator('#deliveries-list > tr').evaluateAll((rows) => rows.map((r) => ({
    id: r.dataset.id,
    type: r.dataset.type,
    status: r.dataset.status,
    text: r.innerText.replace(/\s+/g, ' ').trim(),
    attempts: r.querySelectorAll('li.attempt').length,
    errors: [...r.querySelectorAll('.attempt-error')].map((e) => e.textContent),
  })));
}

/** Presses "Refresh deliveries" until `probe(rows)` holds (the dispatcher works meanwhile). */
async function refreshUntil(page, what, probe) {
  return until(what, async () => {
    const read = page.waitForResponse(hookCall('GET', '/deliveries'));
    await page.getByRole('button', { name: 'Refresh deliveries' }).click();
    assert.equal((await read).status(), 200);
    await page.waitForFunction(() => !document.getElementById('deliveries').hasAttribute('aria-busy'));
    const rows = await deliveryRows(page);
    if (probe(rows)) return rows;
    await new Promise((r) => setTimeout(r, 1000));
    return false;
  }, DELIVERY_WAIT_MS);
}

// ---------------------------------------------------------------- setup

before(async () => {
  await setUp();
  await createOrg(ORG, OWNER, PASSWORD);
  browser = await chromium.launch(CHROMIUM);
  await openPages(browser, ['owner', 'member'], people, problems);
  // The owner's browser lets the page use the clipboard.
  await people.owner.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: API_URL });
});

after(async () => {
  await browser?.close().catch(() => {});
  if (!API_URL) return;
  // Deleting the organization removes its endpoints and deliveries, and the member's
  // account (it belongs to no other organization).
  if (await orgExists(ORG).catch(() => false)) await removeOrg(OWNER, PASSWORD, ORG).catch(() => {});
});

// ---------------------------------------------------------------- the visit

describe('webhooks', () => {
  step('the owner sees the webhooks card, with no endpoint yet', async () => {
    const page = P('owner');
    await page.goto(`${API_URL}/dashboard`);
    const listed = page.waitForResponse(hookCall('GET'));
    await logIn(page, OWNER, PASSWORD);
    assert.equal((await listed).status(), 200);
    await assertIn(page, ORG, 'owner');
    const card = page.locator('#webhooks-card');
    await card.getByRole('heading', { name: 'Webhooks', exact: true }).waitFor();
    await seeText(page.locator('#webhooks-status'), /^No endpoints yet\.$/, 'empty');
    assert.equal(await page.locator('#webhooks-table').isVisible(), false, 'no table');
    assert.equal(await page.locator('#deliveries').isVisible(), false, 'no deliveries');
    assert.equal(await card.getByLabel('Events').inputValue(), '*', 'every event by default');
    await seeText(page.locator('#webhook-events-hint'), /member\.role_changed, item\.created/, 'the hint names types');
  });

  step('the form checks the URL and the events before any request', async () => {
    const page = P('owner');
    const f = page.locator('#webhook-form');
    let posts = 0;
    const count = (r) => { if (r.url().endsWith('/org/webhooks') && r.method() === 'POST') posts += 1; };
    page.on('request', count);
    try {
      const add = () => f.getByRole('button', { name: 'Add endpoint' }).click();
      await add();
      await seeText(page.locator('#webhook-url-error'), 'Enter the URL of the endpoint', 'no URL');
      await f.getByLabel('Endpoint URL').fill('hooks.example.com/in');
      await add();
      await seeText(page.locator('#webhook-url-error'), 'Enter a full URL, such as https://example.com/webhooks.', 'not absolute');
      assert.equal(await f.getByLabel('Endpoint URL').getAttribute('aria-invalid'), 'true');
      assert.equal(await focused(page), 'webhook-url', 'the focus is on the field');
      await f.getByLabel('Endpoint URL').fill('ftp://93.184.216.34/in');
      await add();
      await seeText(page.locator('#webhook-url-error'), 'The URL must start with https://.', 'not http(s)');
      await f.getByLabel('Endpoint URL').fill(HOOK_URL);
      await f.getByLabel('Events').fill('item.created, everything');
      await add();
      await seeText(page.locator('#webhook-events-error'), '“everything” is not an event type: a type looks like item.created.', 'a bad type');
      assert.equal(await page.locator('#webhook-url-error').isVisible(), false, 'the URL is fine now');
      await f.getByLabel('Events').fill('*, item.created');
      await add();
      await seeText(page.locator('#webhook-events-error'), 'Enter * alone for every event', '* and more');
      await f.getByLabel('Events').fill(' , ');
      await add();
      await seeText(page.locator('#webhook-events-error'), 'Enter * for every event, or event types', 'none');
      assert.equal(posts, 0, 'nothing sent');
    } finally {
      page.off('request', count);
    }
  });

  step('a metadata address is the server\'s 422, shown on the URL field', async () => {
    const page = P('owner');
    const res = await addEndpoint(page, METADATA_URL, '*');
    assert.equal(res.status(), 422);
    assert.deepEqual((await res.json()).detail.map((d) => d.loc), [['body', 'url']]);
    await seeText(page.locator('#webhook-url-error'),
      'the host 169.254.169.254 resolves to a loopback, private, link-local or metadata address', 'on the field');
    assert.equal(await page.locator('#webhook-url').getAttribute('aria-invalid'), 'true');
    await seeText(page.locator('#webhook-form [data-role="error"]'), 'Check the field marked above: Endpoint URL.', 'the form says where');
    assert.equal(await focused(page), 'webhook-url');
    assert.equal(await page.locator('#webhooks-list > tr').count(), 0, 'nothing listed');
  });

  step('the owner adds an endpoint: its secret is shown once, copied, then gone', async () => {
    const page = P('owner');
    const res = await addEndpoint(page, HOOK_URL, 'member.role_changed, item.created', 'CRM sync');
    assert.equal(res.status(), 201);
    assert.deepEqual(JSON.parse(res.request().postData()), {
      url: HOOK_URL, events: ['member.role_changed', 'item.created'], description: 'CRM sync',
    });
    const made = await res.json();
    seen.id = made.id;
    seen.secret = made.secret;
    assert.match(made.secret, SECRET_RE);
    const f = page.locator('#webhook-form');
    await seeText(f.locator('[data-role="success"]'),
      `Endpoint ${HOOK_URL} added: it gets member.role_changed, item.created from now on.`, 'added');
    assert.equal(await f.getByLabel('Endpoint URL').inputValue(), '', 'the form is emptied');
    assert.equal(await f.getByLabel('Events').inputValue(), '*', 'back to every event');
    await seeText(page.locator('#webhook-secret-title'), `Signing secret for ${HOOK_URL}`, 'the secret box');
    // Copy: the clipboard holds the secret.
    await page.getByRole('button', { name: 'Copy secret' }).click();
    await seeText(page.locator('#webhook-secret-status'), 'Secret copied to the clipboard.', 'copied');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), made.secret);
    await page.locator('#webhook-secret-value').focus();
    await secretShownOnce(page, made.secret, 'webhook-url');
    // Listed, never with a secret.
    const row = hookRow(page, HOOK_URL);
    await seeText(row, new RegExp(`^${escapeRe(HOOK_URL)} CRM sync member\\.role_changed, item\\.created enabled`), 'the row');
    await rowShows(page, HOOK_URL, 'enabled', ENABLED);
    await seeText(page.locator('#webhooks-status'), /^1 endpoint \(at most 10\)\.$/, 'counted');
    const list = await call('GET', '/org/webhooks', { token: await sessionToken(page) });
    assert.equal(list.data.webhooks[0].secret, undefined, 'the API lists no secret');
    assert.ok(!(await page.content()).includes(made.secret), 'the list has no secret');
  });

  step('the owner disables the endpoint, then enables it again', async () => {
    const page = P('owner');
    const row = hookRow(page, HOOK_URL);
    let response = page.waitForResponse(hookCall('PATCH'));
    await row.getByRole('button', { name: `Disable ${HOOK_URL}`, exact: true }).click();
    let res = await response;
    assert.equal(res.status(), 200);
    assert.deepEqual(JSON.parse(res.request().postData()), { enabled: false });
    await seeText(page.locator('#webhooks-status'), `${HOOK_URL} is disabled: it gets no events until it is enabled again.`, 'said');
    await rowShows(page, HOOK_URL, 'disabled', DISABLED); // no test to send
    assert.equal(await focused(page), `Enable ${HOOK_URL}`, 'the focus stays on the button');
    response = page.waitForResponse(hookCall('PATCH'));
    await row.getByRole('button', { name: `Enable ${HOOK_URL}`, exact: true }).click();
    res = await response;
    assert.equal(res.status(), 200);
    assert.deepEqual(JSON.parse(res.request().postData()), { enabled: true });
    await seeText(page.locator('#webhooks-status'), `${HOOK_URL} is enabled: it gets events again.`, 'said');
    await rowShows(page, HOOK_URL, 'enabled', ENABLED);
  });

  step('a test to an endpoint disabled behind the page\'s back is the 409, shown', async () => {
    const page = P('owner');
    const token = await sessionToken(page);
    const off = await call('PATCH', `/org/webhooks/${seen.id}`, { body: { enabled: false }, token });
    assert.equal(off.status, 200);
    const row = hookRow(page, HOOK_URL);
    const response = page.waitForResponse(hookCall('POST', '/test'));
    await row.getByRole('button', { name: `Send a test event to ${HOOK_URL}` }).click();
    assert.equal((await response).status(), 409);
    await seeText(page.locator('#webhooks-error'),
      `No test event could be sent to ${HOOK_URL}: The endpoint is disabled: enable it first`, 'the 409');
    await rowShows(page, HOOK_URL, 'disabled', DISABLED); // read again
    await until('the focus on what the row offers now', async () => (await focused(page)) === `Enable ${HOOK_URL}`);
    await row.getByRole('button', { name: `Enable ${HOOK_URL}`, exact: true }).click();
    await rowShows(page, HOOK_URL, 'enabled', ENABLED);
    await page.getByRole('button', { name: 'Refresh endpoints' }).click();
    await until('the error cleared', async () => (await page.locator('#webhooks-error').innerText()) === '');
  });

  step('a test event is delivered: its failed attempts are listed', async () => {
    const page = P('owner');
    const row = hookRow(page, HOOK_URL);
    const response = page.waitForResponse(hookCall('POST', '/test'));
    await row.getByRole('button', { name: `Send a test event to ${HOOK_URL}` }).click();
    const res = await response;
    assert.equal(res.status(), 202);
    seen.delivery = (await res.json()).delivery_id;
    await seeText(page.locator('#webhooks-status'), `A test event (webhook.test) is on its way to ${HOOK_URL}`, 'said');
    await seeText(page.locator('#deliveries-title'), `Deliveries to ${HOOK_URL}`, 'its deliveries are shown');
    await until('the test delivery listed', async () =>
      (await deliveryRows(page)).some((d) => d.id === seen.delivery && d.type === 'webhook.test'));
    // The dispatcher attempts it (and fails: the address is unreachable from here).
    const rows = await refreshUntil(page, 'an attempt of the test delivery, with its error', (list) =>
      list.some((d) => d.id === seen.delivery && d.attempts > 0 && d.errors.some((e) => e.trim())));
    const test = rows.find((d) => d.id === seen.delivery);
    assert.match(test.text, /^webhook\.test 0 (pending|failed)\b/, test.text);
    // Each attempt: when, "no answer" (or the receiver's status), why, how long.
    assert.match(test.text, /\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC: (no answer|HTTP \d{3}), \S.*, \d+ ms/, test.text);
    assert.match(test.text, / Retry$/);
    await seeText(page.locator('#deliveries-status'), /^\d+ deliver(y|ies), newest first\.$/, 'counted');
    seen.attempts = test.attempts;
  });

  step('retry: the server accepts (202), the console says so and reads the list again', async () => {
    const page = P('owner');
    const row = page.locator(`#deliveries-list > tr[data-id="${seen.delivery}"]`);
    const response = page.waitForResponse(hookCall('POST', '/retry'));
    // (Caught now, so that it cannot outlive a failed step; a failure is an Error.)
    const reread = page.waitForResponse(hookCall('GET', '/deliveries')).catch((err) => err);
    await row.getByRole('button', { name: 'Retry the webhook.test delivery now' }).click();
    const res = await response;
    assert.equal(res.status(), 202);
    assert.ok(res.url().endsWith(`/org/webhooks/${seen.id}/deliveries/${seen.delivery}/retry`), res.url());
    await seeText(page.locator('#deliveries-status'), 'One more attempt at the webhook.test delivery is on its way.', 'said');
    const again = await reread;
    assert.ok(!(again instanceof Error), again.message);
    assert.equal(again.status(), 200, 'read again by itself');
    await refreshUntil(page, 'one more attempt', (list) =>
      list.some((d) => d.id === seen.delivery && d.attempts > seen.attempts));
  });

  step('rotating the secret asks first, then shows the new one once', async () => {
    const page = P('owner');
    const row = hookRow(page, HOOK_URL);
    const rotate = () => row.getByRole('button', { name: `Rotate the secret of ${HOOK_URL}` });
    await rotate().click();
    await seeText(row, `Rotate the secret of ${HOOK_URL}? The new one is shown once; the current one keeps signing for 24 hours too.`, 'asked first');
    await row.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await focused(page), `Rotate the secret of ${HOOK_URL}`, 'cancel puts the focus back on Rotate');
    await rotate().click();
    const response = page.waitForResponse(hookCall('POST', '/rotate-secret'));
    await row.getByRole('button', { name: 'Yes, rotate' }).click();
    const res = await response;
    assert.equal(res.status(), 200);
    const { secret } = await res.json();
    assert.notEqual(secret, seen.secret, 'a new secret');
    await seeText(page.locator('#webhook-secret-title'), `New signing secret for ${HOOK_URL}`, 'the box');
    await seeText(page.locator('#webhook-secret-status'), 'The previous secret keeps signing for 24 hours', 'the overlap');
    await seeText(page.locator('#webhooks-status'), `The secret of ${HOOK_URL} was rotated.`, 'said');
    await secretShownOnce(page, secret, `Rotate the secret of ${HOOK_URL}`);
  });

  step('an organization has at most 10 endpoints: the 11th is the server\'s 409', async () => {
    const page = P('owner');
    const token = await sessionToken(page);
    const extra = [];
    for (let i = 1; i <= 9; i += 1) {
      const res = await call('POST', '/org/webhooks', { body: { url: `${HOOK_URL}/${i}`, events: ['*'] }, token });
      assert.equal(res.status, 201, JSON.stringify(res.data));
      extra.push(res.data.id);
    }
    await page.getByRole('button', { name: 'Refresh endpoints' }).click();
    await seeText(page.locator('#webhooks-status'), /^10 endpoints \(at most 10\)\.$/, 'ten');
    await seeText(hookRow(page, `${HOOK_URL}/9`), /^\S+ all events enabled/, '"*" is all events');
    const res = await addEndpoint(page, `${HOOK_URL}/10`, '*');
    assert.equal(res.status(), 409);
    await seeText(page.locator('#webhook-form [data-role="error"]'), 'An organization may have at most 10 webhook endpoints', 'the 409');
    assert.equal(await page.locator('#webhook-secret').isVisible(), false, 'no secret');
    for (const id of extra) assert.equal((await call('DELETE', `/org/webhooks/${id}`, { token })).status, 204);
    await page.getByRole('button', { name: 'Refresh endpoints' }).click();
    await seeText(page.locator('#webhooks-status'), /^1 endpoint \(at most 10\)\.$/, 'one again');
  });

  step('a member sees no webhooks card; the API refuses them', async () => {
    await addMember(await apiLogin(OWNER, PASSWORD, ORG), MEMBER, MEMBER_PASSWORD);
    const page = P('member');
    let asked = 0;
    page.on('request', (r) => { if (r.url().includes('/org/webhooks')) asked += 1; });
    await page.goto(`${API_URL}/dashboard`);
    await logIn(page, MEMBER, MEMBER_PASSWORD);
    await assertIn(page, ORG, 'member');
    await page.locator('#members-list > tr').first().waitFor();
    assert.equal(await page.locator('#webhooks-card').isVisible(), false, 'no webhooks card');
    assert.equal(await page.getByRole('button', { name: 'Add endpoint' }).isVisible(), false);
    assert.equal(asked, 0, 'the console does not even ask');
    const token = await sessionToken(page);
    const refused = await call('GET', '/org/webhooks', { token });
    assert.equal(refused.status, 403);
    assert.equal(refused.data.detail, 'A member with the role member may not manage webhooks');
    assert.equal((await call('POST', `/org/webhooks/${seen.id}/test`, { token })).status, 403);
  });

  step('the audit log lists the webhook actions, and the member\'s refused reads', async () => {
    const page = P('owner');
    const f = page.locator('#audit-filter');
    const group = (label) => f.getByLabel('Action').locator(`optgroup[label="${label}"] option`).allTextContents();
    assert.deepEqual(await group('Webhooks'),
      ['webhook.created', 'webhook.updated', 'webhook.deleted', 'webhook.secret_rotated', 'webhook.disabled']);
    assert.deepEqual((await group('Refused reads')).slice(2, 8),
      ['event.listed', 'webhook.listed', 'webhook.read', 'webhook.tested', 'webhook.deliveries_listed', 'webhook.delivery_retried']);
    const show = async (action) => {
      await f.getByLabel('Action').selectOption(action);
      const read = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/org/audit'));
      await f.getByRole('button', { name: 'Show events' }).click();
      assert.equal((await read).status(), 200);
      await page.waitForFunction(() => !document.getElementById('audit-card').hasAttribute('aria-busy'));
      return page.locator('#audit-list > tr').evaluateAll((rows) => rows.map((r) => [r.dataset.outcome, r.dataset.actor]));
    };
    assert.deepEqual(await show('webhook.secret_rotated'), [['success', OWNER]]);
    assert.equal((await show('webhook.created')).length, 10, 'one and nine more');
    assert.deepEqual(await show('webhook.listed'), [['denied', MEMBER]]);
    assert.deepEqual(await show('webhook.tested'), [['denied', MEMBER]]);
    await f.getByLabel('Action').selectOption('');
  });

  step('the webhooks card, with the deliveries (webhooks.png)', async () => {
    const page = P('owner');
    const row = hookRow(page, HOOK_URL);
    await row.getByRole('button', { name: `Deliveries to ${HOOK_URL}` }).click();
    assert.equal(await focused(page), 'deliveries-title', 'the focus goes to the deliveries');
    await refreshUntil(page, 'the test delivery', (list) => list.some((d) => d.id === seen.delivery));
    const card = page.locator('#webhooks-card');
    await card.scrollIntoViewIfNeeded();
    await card.screenshot({ path: path.join(SHOTS, 'webhooks.png') });
    await page.getByRole('button', { name: 'Hide deliveries' }).click();
    assert.equal(await page.locator('#deliveries').isVisible(), false);
    assert.equal(await focused(page), `Deliveries to ${HOOK_URL}`, 'the focus goes back to the button');
  });

  step('deleting the endpoint asks first; it goes with its deliveries', async () => {
    const page = P('owner');
    const row = hookRow(page, HOOK_URL);
    await row.getByRole('button', { name: `Deliveries to ${HOOK_URL}` }).click();
    await page.locator('#deliveries-list > tr').first().waitFor();
    await row.getByRole('button', { name: `Delete ${HOOK_URL}`, exact: true }).click();
    await seeText(row, `Delete the endpoint ${HOOK_URL}? It gets no more events, and its deliveries go with it.`, 'asked first');
    const response = page.waitForResponse(hookCall('DELETE'));
    await row.getByRole('button', { name: 'Yes, delete' }).click();
    assert.equal((await response).status(), 204);
    await seeText(page.locator('#webhooks-status'), `The endpoint ${HOOK_URL} was deleted. No endpoints yet.`, 'said');
    assert.equal(await page.locator('#webhooks-list > tr').count(), 0, 'not listed');
    assert.equal(await page.locator('#deliveries').isVisible(), false, 'its deliveries are gone from the page');
    assert.equal(await page.locator('#deliveries-list > tr').count(), 0);
    assert.equal(await focused(page), 'webhooks-title');
    const gone = await call('GET', `/org/webhooks/${seen.id}/deliveries`, { token: await sessionToken(page) });
    assert.equal(gone.status, 404);
  });

  step('no CSP violation, uncaught error or form warning', async () => {
    assert.deepEqual(problems, []);
  });
});
