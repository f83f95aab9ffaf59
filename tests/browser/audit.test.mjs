// Browser tests of the console's audit log view (/dashboard), in Debian's Chromium
// driven by playwright-core, against the API at process.env.API_URL.
//
// Two people, each in a browser context of their own, step by step and in order: the
// owner logs in and adds an item; invites an admin, who accepts and sees the audit view
// too; the owner makes the admin a member, whose stale page is refused (403, a denied
// event) and then shows no audit view (and the API refuses them the log). The owner's
// audit view then shows those events, newest first; the action and actor filters narrow
// them; pages of 10 go older and back; "Download CSV" saves the page shown, fetched with
// the token, as a file. Screenshots go to tests/browser/screenshots/ (audit.png: the
// audit view).
//
//   API_URL=http://127.0.0.1:9000 node --test tests/browser/

import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { chromium } from 'playwright-core';

import {
  API_URL, CHROMIUM, SHOTS, accept, answerTo, apiLogin, assertIn, call, changeRole, createOrg,
  escapeRe, invite, logIn, openPages, orgExists, removeOrg, screenshotEveryone, seeText,
  sendInvitation, sessionOf, sessionToken, setUp, stepper, until,
} from './lib.mjs';

// Unique per run, so that runs never meet each other's organizations or accounts.
const RUN = randomBytes(4).toString('hex');
const ORG = `audit-${RUN}`;
const OWNER = `owner.${RUN}@example.com`;
const ADMIN = `admin.${RUN}@example.com`;
const PASSWORD = 'Owner-Passw0rd';
const ADMIN_PASSWORD = 'Admin-Passw0rd';
const MORE_ITEMS = 12; // added behind the console's back, so that there are pages to turn

// What the action filter offers: "any", then every action of the log.
const ACTIONS = [
  'organization.created', 'organization.renamed', 'organization.deleted',
  'user.login_succeeded', 'user.login_failed', 'user.logged_out', 'user.email_changed', 'user.email_change_requested',
  'user.email_verified', 'user.password_changed', 'user.password_reset', 'user.verification_requested',
  'member.role_changed', 'member.removed', 'member.left',
  'invitation.created', 'invitation.resent', 'invitation.revoked', 'invitation.accepted',
  'item.created', 'item.deleted',
  'webhook.created', 'webhook.updated', 'webhook.deleted', 'webhook.secret_rotated', 'webhook.disabled',
  'api_key.created', 'api_key.revoked',
  'invitation.listed', 'audit.read', 'event.listed', 'webhook.listed', 'webhook.read', 'webhook.tested',
  'webhook.deliveries_listed', 'webhook.delivery_retried', 'api_key.listed',
];

let browser;
const people = {}; // name -> { context, page }
const problems = []; // CSP violations, uncaught errors, Chromium's form checks: must stay empty
const ids = {}; // what the steps learn: user ids, the item's id

// ---------------------------------------------------------------- helpers

/** A test step: skipped after an earlier failure; on failure, a screenshot of every page. */
const step = stepper(screenshotEveryone(people, 'audit'));

/** The page of one person. */
const P = (who) => people[who].page;

/** The user id of the console's session. */
async function userIdOf(page) {
  return JSON.parse(await sessionOf(page)).userId;
}

const isAuditRead = (r) => {
  const url = new URL(r.url());
  return url.pathname.endsWith('/org/audit') && r.request().method() === 'GET' && !url.searchParams.has('format');
};

/** Runs `trigger` and waits for the audit page it asks for to be read and shown;
 *  returns the query it sent. */
async function auditRead(page, trigger) {
  const response = page.waitForResponse(isAuditRead);
  await trigger();
  const res = await response;
  assert.equal(res.status(), 200, `GET ${res.url()}`);
  await page.waitForFunction(() => !document.getElementById('audit-card').hasAttribute('aria-busy'));
  return new URL(res.url()).searchParams;
}

/** The rows of the audit table, in order. */
async function auditRows(page) {
  return page.locator('#audit-list > tr').evaluateAll((rows) => rows.map((r) => ({
    id: r.dataset.id,
    action: r.dataset.action,
    outcome: r.dataset.outcome,
    actor: r.dataset.actor,
    time: r.querySelector('time')?.dateTime || '',
    text: r.innerText.replace(/\s+/g, ' ').trim(),
  })));
}

/** Chooses filters (and page size) and presses "Show events"; returns the rows shown. */
async function showEvents(page, { action = '', actor = '', limit = '20' } = {}) {
  const f = page.locator('#audit-filter');
  await f.getByLabel('Action').selectOption(action);
  await f.getByLabel('Actor').selectOption(actor);
  await f.getByLabel('Events per page').selectOption(limit);
  const query = await auditRead(page, () => f.getByRole('button', { name: 'Show events' }).click());
  assert.equal(query.get('limit'), limit);
  assert.equal(query.get('action'), action || null);
  assert.equal(query.get('actor_id'), actor || null);
  assert.equal(query.get('after'), null, 'a new filter starts at the newest event');
  return auditRows(page);
}

/** Every event of the organization, newest first, as the API gives them. */
async function allEvents(token) {
  const events = [];
  let after = null;
  for (let i = 0; i < 20; i += 1) {
    const res = await call('GET', `/org/audit?limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`, { token });
    assert.equal(res.status, 200);
    events.push(...res.data.events);
    after = res.data.next;
    if (!after) break;
  }
  return events;
}

// ---------------------------------------------------------------- setup

before(async () => {
  await setUp();
  await createOrg(ORG, OWNER, PASSWORD);
  browser = await chromium.launch(CHROMIUM);
  await openPages(browser, ['owner', 'admin'], people, problems, { acceptDownloads: true });
});

after(async () => {
  await browser?.close().catch(() => {});
  if (!API_URL) return;
  // Deleting the organization removes its memberships and invitations, and the admin's
  // account (it belongs to no other organization).
  if (!(await orgExists(ORG).catch(() => false))) return;
  await removeOrg(OWNER, PASSWORD).catch(() => {});
});

// ---------------------------------------------------------------- the visit

describe('audit log', () => {
  step('the owner sees the audit view: the creation and the login, newest first', async () => {
    const page = P('owner');
    await page.goto(`${API_URL}/dashboard`);
    await auditRead(page, () => logIn(page, OWNER, PASSWORD));
    await assertIn(page, ORG, 'owner');
    ids.owner = await userIdOf(page);
    const card = page.locator('#audit-card');
    await card.getByRole('heading', { name: 'Audit log' }).waitFor();
    const rows = await auditRows(page);
    assert.deepEqual(rows.map((r) => r.action), ['user.login_succeeded', 'organization.created']);
    assert.match(rows[0].text, new RegExp(`^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2} UTC user\\.login_succeeded success ${escapeRe(OWNER)} \\(you\\) organization ${escapeRe(ORG)} \\S+$`));
    await seeText(page.locator('#audit-status'), 'Page 1: events 1 to 2, newest first.', 'status');
    // The filters: every known action, and the members.
    const f = page.locator('#audit-filter');
    assert.deepEqual(await f.getByLabel('Action').locator('option').allTextContents(), ['any action', ...ACTIONS]);
    await until('the owner in the actor filter', async () =>
      JSON.stringify(await f.getByLabel('Actor').locator('option').allTextContents()) === JSON.stringify(['any actor', `${OWNER} (owner)`]));
    assert.deepEqual(await f.getByLabel('Events per page').locator('option').allTextContents(), ['10', '20', '50', '100']);
    // One page: nothing to turn, but the page can be saved.
    assert.equal(await page.locator('#audit-pager').isVisible(), false, 'no pager for one page');
    assert.equal(await page.getByRole('button', { name: 'Download CSV' }).isEnabled(), true);
  });

  step('the owner adds an item; "Show events" shows it on top', async () => {
    const page = P('owner');
    const f = page.locator('#item-form');
    await f.getByLabel('New item (a JSON object)').fill('{"sku": "A-1", "qty": 3}');
    const created = page.waitForResponse(answerTo('POST', '/org/items'));
    await f.getByRole('button', { name: 'Add item' }).click();
    const res = await created;
    assert.equal(res.status(), 201);
    ids.item = (await res.json()).id;
    const rows = await showEvents(page);
    assert.equal(rows[0].action, 'item.created');
    assert.match(rows[0].text, new RegExp(`item\\.created success ${escapeRe(OWNER)} \\(you\\) item ${ids.item} `));
  });

  step('the owner invites an admin, who accepts and sees the audit view too', async () => {
    const owner = P('owner');
    const link = await invite(owner, ADMIN, 'admin');
    await owner.getByRole('button', { name: 'Done, hide the link' }).click();

    const page = P('admin');
    await auditRead(page, async () => {
      const joined = await accept(page, link, { password: ADMIN_PASSWORD });
      assert.equal(joined.status(), 200);
    });
    await assertIn(page, ORG, 'admin');
    ids.admin = await userIdOf(page);
    const rows = await auditRows(page);
    assert.deepEqual(rows.slice(0, 2).map((r) => r.action), ['invitation.accepted', 'invitation.created']);
    assert.match(rows[0].text, new RegExp(`invitation\\.accepted role: admin success ${escapeRe(ADMIN)} \\(you\\) invitation ${escapeRe(ADMIN)} user ${escapeRe(ADMIN)} `));
    assert.equal(rows[1].actor, OWNER);
  });

  step('the owner makes the admin a member', async () => {
    const page = P('owner');
    await page.locator('#members-refresh').click();
    assert.equal((await changeRole(page, ADMIN, 'member')).status(), 200);
    await seeText(page.locator('#members-status'), `${ADMIN} is now member.`, 'said');
  });

  step('the demoted admin is refused (403), then sees no audit view; the API refuses the log', async () => {
    const page = P('admin');
    // The stale page still offers what an admin had: the server refuses it.
    assert.equal(await page.locator('#audit-card').isVisible(), true, 'still shown before the refusal');
    assert.equal((await sendInvitation(page, `late.${RUN}@example.com`)).status(), 403);
    await seeText(page.locator('#notice'), 'Your role in this organization is now member', 'the new role');
    await assertIn(page, ORG, 'member');
    await page.locator('#audit-card').waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#audit-list > tr').count(), 0, 'no event left in the page');
    assert.equal(await page.getByRole('button', { name: 'Download CSV' }).isVisible(), false);
    // A member who logs in afresh is never offered it, nor reads it.
    await page.reload();
    await assertIn(page, ORG, 'member');
    await page.locator('#members-list > tr').first().waitFor();
    assert.equal(await page.locator('#audit-card').isVisible(), false, 'no audit view for a member');
    const refused = await call('GET', '/org/audit', { token: await sessionToken(page) });
    assert.equal(refused.status, 403);
    assert.equal(refused.data.detail, 'A member with the role member may not read the audit log');
    await page.screenshot({ path: path.join(SHOTS, 'audit-01-member.png'), fullPage: true });
  });

  step('the owner\'s audit view shows every step, newest first', async () => {
    const page = P('owner');
    const rows = await showEvents(page);
    assert.deepEqual(rows.map((r) => r.action), [
      'audit.read', 'invitation.created', 'member.role_changed', 'invitation.accepted', 'invitation.created',
      'item.created', 'user.login_succeeded', 'organization.created',
    ]);
    const times = rows.map((r) => Date.parse(r.time));
    assert.deepEqual(times, [...times].sort((x, y) => y - x), 'newest first');
    const [read, refused, changed] = rows;
    assert.deepEqual([read.outcome, read.actor], ['denied', ADMIN]);
    assert.deepEqual([refused.outcome, refused.actor], ['denied', ADMIN]);
    assert.match(refused.text, new RegExp(`invitation\\.created role: member denied ${escapeRe(ADMIN)} invitation `));
    assert.match(changed.text, new RegExp(`member\\.role_changed from: admin, to: member success ${escapeRe(OWNER)} \\(you\\) user ${escapeRe(ADMIN)} `));
    // Text only: an email or name is never markup.
    assert.equal(await page.locator('#audit-list script, #audit-list img').count(), 0);
    const denied = page.locator('#audit-list > tr[data-outcome="denied"] .status').first();
    assert.equal(await denied.innerText(), 'denied');
    await page.screenshot({ path: path.join(SHOTS, 'audit-02-owner.png'), fullPage: true });
    await page.locator('#audit-card').scrollIntoViewIfNeeded();
    await page.locator('#audit-card').screenshot({ path: path.join(SHOTS, 'audit.png') });
  });

  step('the filters narrow the events: by action, by actor, both', async () => {
    const page = P('owner');
    const f = page.locator('#audit-filter');
    const actors = await f.getByLabel('Actor').locator('option').allTextContents();
    assert.deepEqual(actors, ['any actor', `${ADMIN} (member)`, `${OWNER} (owner)`], 'the members by email, roles as now');

    let rows = await showEvents(page, { action: 'invitation.created' });
    assert.deepEqual(rows.map((r) => [r.outcome, r.actor]), [['denied', ADMIN], ['success', OWNER]]);
    await seeText(page.locator('#audit-status'), 'Page 1: events 1 to 2 (action invitation.created), newest first.', 'said');

    rows = await showEvents(page, { actor: ids.admin });
    assert.deepEqual(rows.map((r) => r.action), ['audit.read', 'invitation.created', 'invitation.accepted']);
    assert.ok(rows.every((r) => r.actor === ADMIN), 'the admin\'s events only');
    await seeText(page.locator('#audit-status'), `(actor ${ADMIN})`, 'said');

    rows = await showEvents(page, { action: 'invitation.created', actor: ids.admin });
    assert.deepEqual(rows.map((r) => [r.action, r.outcome]), [['invitation.created', 'denied']]);

    rows = await showEvents(page, { action: 'item.deleted' });
    assert.deepEqual(rows, []);
    await seeText(page.locator('#audit-status'), 'No events match (action item.deleted).', 'none');
    assert.equal(await page.locator('#audit-table').isVisible(), false);
    assert.equal(await page.getByRole('button', { name: 'Download CSV' }).isDisabled(), true, 'nothing to save');

    rows = await showEvents(page);
    assert.equal(rows.length, 8, 'any action, any actor: all of them again');
  });

  step('pages of 10 go older and back, with the cursors seen', async () => {
    const page = P('owner');
    const token = await apiLogin(OWNER, PASSWORD); // one more event: a login
    for (let i = 0; i < MORE_ITEMS; i += 1) {
      const res = await call('POST', '/org/items', { body: { n: i }, token });
      assert.equal(res.status, 201);
    }
    const expected = (await allEvents(token)).map((e) => e.id);
    assert.equal(expected.length, 8 + 1 + MORE_ITEMS);

    const first = await showEvents(page, { limit: '10' });
    await seeText(page.locator('#audit-status'), 'Page 1: events 1 to 10, newest first; older ones on the next page.', 'page 1');
    const pager = page.locator('#audit-pager');
    assert.equal(await pager.getByRole('button', { name: 'Newer events' }).isDisabled(), true);
    const seen = [first];
    const cursors = [null];
    for (let n = 2; n <= 3; n += 1) {
      const query = await auditRead(page, () => pager.getByRole('button', { name: 'Older events' }).click());
      assert.equal(query.get('limit'), '10');
      assert.ok(query.get('after'), 'the next cursor');
      cursors.push(query.get('after'));
      seen.push(await auditRows(page));
      await seeText(page.locator('#audit-status'), `Page ${n}: events ${10 * n - 9} to `, `page ${n}`);
    }
    assert.deepEqual(seen.map((rows) => rows.length), [10, 10, 1]);
    assert.deepEqual(seen.flat().map((r) => r.id), expected, 'every event once, newest first');
    assert.equal(await pager.getByRole('button', { name: 'Older events' }).isDisabled(), true, 'the last page');
    await seeText(page.locator('#audit-status'), 'Page 3: events 21 to 21, newest first.', 'last');

    // Back: the cursor of page 2 again, and the same events.
    let query = await auditRead(page, () => pager.getByRole('button', { name: 'Newer events' }).click());
    assert.equal(query.get('after'), cursors[1]);
    assert.deepEqual((await auditRows(page)).map((r) => r.id), seen[1].map((r) => r.id));
    await seeText(page.locator('#audit-status'), 'Page 2: events 11 to 20', 'page 2 again');
    query = await auditRead(page, () => pager.getByRole('button', { name: 'Newest events' }).click());
    assert.equal(query.get('after'), null);
    assert.deepEqual((await auditRows(page)).map((r) => r.id), seen[0].map((r) => r.id));
    query = await auditRead(page, () => pager.getByRole('button', { name: 'Older events' }).click());
    assert.equal(query.get('after'), cursors[1]);
    ids.page2 = seen[1].map((r) => r.id);
  });

  step('"Download CSV" saves the page shown, fetched with the token', async () => {
    const page = P('owner');
    await seeText(page.locator('#audit-status'), 'Page 2: events 11 to 20', 'on page 2');
    const request = page.waitForRequest((r) => r.url().includes('/org/audit') && new URL(r.url()).searchParams.get('format') === 'csv');
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download CSV' }).click();
    const sent = await request;
    const url = new URL(sent.url());
    assert.equal(url.searchParams.get('limit'), '10');
    assert.ok(url.searchParams.get('after'), 'the cursor of the page shown');
    assert.equal(sent.headers().authorization, `Bearer ${await sessionToken(page)}`);
    const res = await sent.response();
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-type'], /^text\/csv/);
    assert.match(res.headers().link || '', /rel="next"/, 'more after this page');
    const file = await download;
    assert.equal(file.suggestedFilename(), `audit-${ORG}-page-2.csv`);
    assert.equal(await file.failure(), null);
    const text = await readFile(await file.path(), 'utf8');
    assert.ok(text.startsWith('id,occurred_at,action,outcome,'), `header: ${text.slice(0, 80)}`);
    const lines = text.split('\r\n').filter((l) => l);
    assert.equal(lines.length, 11, 'a header and the 10 events of the page');
    assert.deepEqual(lines.slice(1).map((l) => l.split(',')[0]), ids.page2, 'the events of the page, in order');
    await seeText(page.locator('#audit-download-status'), `Saved audit-${ORG}-page-2.csv: page 2 of the audit log as CSV.`, 'said');
    // Nothing of it stays reachable from the page: no link left behind.
    assert.equal(await page.locator('a[href^="blob:"]').count(), 0);
  });

  step('a filtered page is saved with its filters', async () => {
    const page = P('owner');
    await showEvents(page, { action: 'member.role_changed' });
    const request = page.waitForRequest((r) => new URL(r.url()).searchParams.get('format') === 'csv');
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download CSV' }).click();
    assert.equal(new URL((await request).url()).searchParams.get('action'), 'member.role_changed');
    const text = await readFile(await (await download).path(), 'utf8');
    const lines = text.split('\r\n').filter((l) => l);
    assert.equal(lines.length, 2);
    assert.match(lines[1], /^[0-9a-f]+,\d{4}-\d{2}-\d{2}T[^,]+,member\.role_changed,success,user,/);
  });

  step('no policy violation and no uncaught error on any page', async () => {
    assert.deepEqual(problems, []);
  });
});
