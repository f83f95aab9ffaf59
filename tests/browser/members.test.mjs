// Browser tests of the console's members, roles and invitations (/dashboard), in
// Debian's Chromium driven by playwright-core, against the API at process.env.API_URL.
//
// Three people, each in a browser context of their own (own sessionStorage, own
// clipboard), step by step and in order (each step needs the previous ones): the owner
// invites an admin and copies the link; the admin accepts it (a new account) and
// invites a member, resends and revokes; the member accepts the resent link and sees no
// admin control (the server refuses them too); the owner's stale revoke is the
// server's 409, shown; the owner demotes the admin, whose stale page is refused (403)
// and then shows a member's console; the last owner cannot leave (409); the member
// leaves; the owner, invited to a second organization, accepts with the password it
// has and switches between the two. Screenshots go to tests/browser/screenshots/
// (members.png is the one in docs/dashboard.png).
//
//   API_URL=http://127.0.0.1:9000 node --test tests/browser/

import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

import { chromium } from 'playwright-core';

import {
  API_URL, CHROMIUM, LINK_RE, SHOTS, accept, apiLogin, assertIn, call, changeRole, createOrg,
  escapeRe, invitationRow, invite, logIn, memberRow, openPages, orgExists, removeOrg,
  screenshotEveryone, seeText, sendInvitation, sessionOf, setUp, stepper, until,
} from './lib.mjs';

// Unique per run, so that runs never meet each other's organizations or accounts.
const RUN = randomBytes(4).toString('hex');
const ORG = `team-${RUN}`;
const OTHER_ORG = `team-${RUN}-other`;
const OWNER = `owner.${RUN}@example.com`;
const ADMIN = `admin.${RUN}@example.com`;
const MEMBER = `member.${RUN}@example.com`;
const SPARE = `spare.${RUN}@example.com`; // invited, then revoked
const LATER = `later.${RUN}@example.com`; // invited, left pending
const OTHER_OWNER = `other.${RUN}@example.com`;
const PASSWORD = 'Owner-Passw0rd';
const ADMIN_PASSWORD = 'Admin-Passw0rd';
const MEMBER_PASSWORD = 'Member-Passw0rd';
const OTHER_PASSWORD = 'Other-Passw0rd';

let browser;
const people = {}; // name -> { context, page }
const problems = []; // CSP violations, uncaught errors, Chromium's form checks: must stay empty
const links = {}; // who -> the accept link the console showed

/** A test step: skipped after an earlier failure; on failure, a screenshot of every page. */
const step = stepper(screenshotEveryone(people, 'members'));

/** The page of one person. */
const P = (who) => people[who].page;

/** The emails of the member rows, in order. */
async function memberEmails(page) {
  return page.locator('#members-list > tr').evaluateAll((rows) => rows.map((r) => r.dataset.email));
}

// ---------------------------------------------------------------- setup

before(async () => {
  await setUp();
  await createOrg(ORG, OWNER, PASSWORD);
  await createOrg(OTHER_ORG, OTHER_OWNER, OTHER_PASSWORD);
  browser = await chromium.launch(CHROMIUM);
  await openPages(browser, ['owner', 'admin', 'member'], people, problems);
  // The owner's browser lets the page use the clipboard (the admin's does not: the
  // fallback is tested there).
  await people.owner.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: API_URL });
});

after(async () => {
  await browser?.close().catch(() => {});
  if (!API_URL) return;
  // Deleting an organization removes its memberships and invitations, and every
  // account left without an organization.
  for (const [email, password, org] of [[OWNER, PASSWORD, ORG], [OTHER_OWNER, OTHER_PASSWORD, OTHER_ORG]]) {
    if (!(await orgExists(org).catch(() => false))) continue;
    await removeOrg(email, password, org).catch(() => {});
  }
});

// ---------------------------------------------------------------- the visit

describe('members, roles and invitations', () => {
  step('the owner sees the members panel and every control', async () => {
    const page = P('owner');
    await page.goto(`${API_URL}/dashboard`);
    await logIn(page, OWNER, PASSWORD);
    await assertIn(page, ORG, 'owner');
    await seeText(page.locator('#members-status'), '1 member.', 'one member');
    const me = memberRow(page, OWNER);
    await seeText(me, new RegExp(`^${escapeRe(OWNER)} \\(you\\) unverified owner .*\\d{4}-\\d{2}-\\d{2} Leave`), 'the owner row');
    // The owner may give any role, to itself too.
    assert.deepEqual(await me.getByLabel(`Role of ${OWNER}`, { exact: true }).locator('option').allTextContents(), ['owner', 'admin', 'member']);
    assert.equal(await me.getByRole('button', { name: `Change the role of ${OWNER}` }).isDisabled(), true, 'nothing to change yet');
    await page.locator('#invitations-card').waitFor({ state: 'visible' });
    assert.deepEqual(await page.locator('#invite-role option').allTextContents(), ['member', 'admin', 'owner']);
    for (const id of ['rename-form', 'delete-card']) assert.equal(await page.locator(`#${id}`).isVisible(), true, id);
    await seeText(page.locator('#invitations-status'), 'No invitations.', 'no invitations yet');
    assert.equal(await page.locator('#switch-form').isVisible(), false, 'one organization: no switcher');
  });

  step('invitation form: a bad email or expiry is refused before any request', async () => {
    const page = P('owner');
    const f = page.locator('#invite-form');
    let posts = 0;
    const count = (r) => { if (r.url().endsWith('/org/invitations') && r.method() === 'POST') posts += 1; };
    page.on('request', count);
    try {
      await f.getByLabel('Email to invite').fill('not-an-email');
      await f.getByRole('button', { name: 'Create invitation' }).click();
      await seeText(page.locator('#invite-email-error'), 'Enter a valid email address', 'bad email');
      await f.getByLabel('Email to invite').fill(ADMIN);
      await f.getByLabel('Expires in (days)').fill('31');
      await f.getByRole('button', { name: 'Create invitation' }).click();
      await seeText(page.locator('#invite-days-error'), 'Enter a whole number of days from 1 to 30.', 'days out of range');
      assert.equal(posts, 0, 'nothing sent');
    } finally {
      page.off('request', count);
    }
  });

  step('the owner invites an admin, sees the link once and copies it', async () => {
    const page = P('owner');
    links.admin = await invite(page, ADMIN, 'admin', 3);
    await seeText(page.locator('#invitations-status'), '1 invitation.', 'listed');
    // Copy: the clipboard holds the link.
    await page.getByRole('button', { name: 'Copy link' }).click();
    await seeText(page.locator('#invite-link-status'), 'Link copied to the clipboard.', 'copied');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), links.admin);
    // Shown once: never stored, gone once dismissed, never in the list.
    const token = links.admin.match(LINK_RE)[1];
    assert.ok(!(await sessionOf(page)).includes(token), 'not in sessionStorage');
    assert.equal(await page.evaluate(() => window.localStorage.length), 0);
    await page.getByRole('button', { name: 'Done, hide the link' }).click();
    assert.equal(await page.locator('#invite-link').isVisible(), false);
    assert.ok(!(await page.content()).includes(token), 'the token left the page');
    await page.locator('#invitations-filter').getByRole('button', { name: 'Show' }).click();
    await seeText(invitationRow(page, ADMIN), 'pending', 'still listed');
    assert.ok(!(await page.content()).includes(token), 'the list has no token');
  });

  step('the admin opens the link: the token leaves the address bar, a weak password is refused', async () => {
    const page = P('admin');
    await page.goto(links.admin);
    await page.locator('#accept-view').waitFor({ state: 'visible' });
    assert.equal(await page.title(), 'Join an organization · Organization console');
    assert.equal(new URL(page.url()).hash, '', 'no token in the address bar');
    assert.equal(await page.locator('#signed-out-view').isVisible(), false);
    const f = page.locator('#accept-form');
    await seeText(page.locator('#accept-password-rules'), /8 to 72 bytes.*uppercase.*lowercase.*digit/, 'the rules of a new password');
    await f.getByLabel('Choose a password', { exact: true }).fill('weakpass');
    await f.getByRole('button', { name: 'Join the organization' }).click();
    await seeText(page.locator('#accept-password-error'), 'The password must contain an uppercase letter and a digit.', 'weak');
    await f.getByLabel('Choose a password', { exact: true }).fill(ADMIN_PASSWORD);
    await f.getByLabel('Repeat the password').fill(`${ADMIN_PASSWORD}x`);
    await f.getByRole('button', { name: 'Join the organization' }).click();
    await seeText(page.locator('#accept-confirm-error'), 'The two passwords differ.', 'mismatch');
    // "I have an account" asks for that password only.
    await f.getByLabel('Yes: my email already belongs').check();
    assert.equal(await page.locator('#accept-confirm-field').isVisible(), false);
    assert.equal(await f.getByLabel('Your password', { exact: true }).getAttribute('autocomplete'), 'current-password');
    await page.screenshot({ path: path.join(SHOTS, 'members-01-accept.png'), fullPage: true });
  });

  step('the admin accepts (a new account) and lands in the organization as admin', async () => {
    const page = P('admin');
    const res = await accept(page, links.admin, { password: ADMIN_PASSWORD });
    assert.equal(res.status(), 200);
    assert.equal(res.request().headers().authorization, undefined, 'no bearer');
    await assertIn(page, ORG, 'admin');
    await seeText(page.locator('#notice'), `Welcome: you joined organization “${ORG}” as admin.`, 'welcome');
    await seeText(page.locator('#session-bar'), `Signed in as ${ADMIN}`, 'own email');
    await until('two members', async () => (await memberEmails(page)).length === 2);
    // An admin may not touch the owner, nor make owners.
    const owner = memberRow(page, OWNER);
    await seeText(owner, new RegExp(`^${escapeRe(OWNER)} unverified owner `), 'owner row: role as text');
    assert.equal(await owner.locator('select, button').count(), 0, 'no control on the owner');
    assert.deepEqual(await memberRow(page, ADMIN).getByLabel(`Role of ${ADMIN}`, { exact: true }).locator('option').allTextContents(), ['admin', 'member']);
    assert.deepEqual(await page.locator('#invite-role option').allTextContents(), ['member', 'admin']);
    for (const id of ['rename-form', 'delete-card']) assert.equal(await page.locator(`#${id}`).isVisible(), false, id);
    await seeText(invitationRow(page, ADMIN), 'accepted', 'the invitation is accepted');
    // The link is good once.
    const again = await call('POST', '/invitations/accept', { body: { token: links.admin.match(LINK_RE)[1], password: ADMIN_PASSWORD } });
    assert.equal(again.status, 404);
  });

  step('the admin invites a member, then resends (a new link) and revokes another', async () => {
    const page = P('admin');
    const first = await invite(page, MEMBER, 'member');
    // The admin's browser gives no clipboard access here: the link is selected instead.
    await page.evaluate(() => Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true }));
    await page.getByRole('button', { name: 'Copy link' }).click();
    await seeText(page.locator('#invite-link-status'), 'the link is selected, press Ctrl+C', 'fallback');
    assert.deepEqual(
      await page.evaluate(() => {
        const el = document.activeElement;
        return [el.id, el.selectionStart, el.selectionEnd, el.value.length];
      }),
      ['invite-link-url', 0, first.length, first.length],
      'the whole link is selected',
    );
    // Resend: a new link, the old one stops working.
    const response = page.waitForResponse((r) => r.url().endsWith('/resend'));
    await invitationRow(page, MEMBER).getByRole('button', { name: `Resend the invitation for ${MEMBER}` }).click();
    assert.equal((await response).status(), 200);
    await seeText(page.locator('#invite-link-title'), `New invitation link for ${MEMBER}`, 'new link shown');
    await seeText(page.locator('#invite-link-status'), 'The earlier link no longer works.', 'said');
    links.member = await page.locator('#invite-link-url').inputValue();
    assert.match(links.member, LINK_RE);
    assert.notEqual(links.member, first);
    const old = await call('POST', '/invitations/accept', { body: { token: first.match(LINK_RE)[1], password: MEMBER_PASSWORD } });
    assert.equal(old.status, 404, 'the old link is dead');
    // Revoke another invitation; the status filter finds it.
    await invite(page, SPARE, 'member', 1);
    const revoked = page.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().includes('/org/invitations/'));
    await invitationRow(page, SPARE).getByRole('button', { name: `Revoke the invitation for ${SPARE}` }).click();
    assert.equal((await revoked).status(), 204);
    await seeText(page.locator('#invitations-status'), `The invitation for ${SPARE} is revoked.`, 'revoked');
    await seeText(invitationRow(page, SPARE), 'revoked', 'shown revoked');
    assert.equal(await invitationRow(page, SPARE).getByRole('button').count(), 0, 'nothing to do with a revoked one');
    const filter = page.locator('#invitations-filter');
    await filter.getByLabel('Show invitations').selectOption('pending');
    await filter.getByRole('button', { name: 'Show' }).click();
    await seeText(page.locator('#invitations-status'), '1 pending invitation.', 'pending only');
    assert.deepEqual(await page.locator('#invitations-list > tr').evaluateAll((r) => r.map((x) => x.dataset.email)), [MEMBER]);
    await filter.getByLabel('Show invitations').selectOption('revoked');
    await filter.getByRole('button', { name: 'Show' }).click();
    await seeText(page.locator('#invitations-status'), '1 revoked invitation.', 'revoked only');
    assert.deepEqual(await page.locator('#invitations-list > tr').evaluateAll((r) => r.map((x) => x.dataset.email)), [SPARE]);
    await filter.getByLabel('Show invitations').selectOption('');
    await filter.getByRole('button', { name: 'Show' }).click();
    await seeText(page.locator('#invitations-status'), '3 invitations.', 'all');
  });

  step('the member accepts the resent link and sees no admin control', async () => {
    const page = P('member');
    const res = await accept(page, links.member, { password: MEMBER_PASSWORD });
    assert.equal(res.status(), 200);
    await assertIn(page, ORG, 'member');
    await until('three members', async () => (await memberEmails(page)).length === 3);
    await seeText(memberRow(page, MEMBER), new RegExp(`^${escapeRe(MEMBER)} \\(you\\) unverified member .* Leave$`), 'own row');
    // Nothing a member may not use is offered.
    assert.equal(await page.locator('#invitations-card').isVisible(), false, 'no invitations panel');
    assert.equal(await page.locator('#audit-card').isVisible(), false, 'no audit log');
    assert.equal(await page.locator('#members-list select').count(), 0, 'no role select');
    assert.deepEqual(await page.locator('#members-list button').allTextContents(), ['Leave'], 'only Leave, on its own row');
    for (const id of ['rename-form', 'delete-card']) assert.equal(await page.locator(`#${id}`).isVisible(), false, id);
    // What it may do is there: own email and password, items.
    for (const id of ['email-form', 'password-form', 'item-form']) assert.equal(await page.locator(`#${id}`).isVisible(), true, id);
    await page.screenshot({ path: path.join(SHOTS, 'members-02-member.png'), fullPage: true });
    // And the server refuses them anyway.
    const token = JSON.parse(await sessionOf(page)).token;
    const refused = await call('POST', '/org/invitations', { body: { email: `x.${RUN}@example.com` }, token });
    assert.equal(refused.status, 403);
    const members = (await call('GET', '/org/members', { token })).data.members;
    const owner = members.find((m) => m.email === OWNER);
    assert.equal((await call('PATCH', `/org/members/${owner.user_id}`, { body: { role: 'member' }, token })).status, 403);
  });

  step('the owner sees everyone (the screenshot of docs/dashboard.png)', async () => {
    const page = P('owner');
    // The owner's page still lists the admin's invitation as pending: revoking it now
    // is the server's 409, shown, and the list is read again.
    const stale = invitationRow(page, ADMIN);
    await seeText(stale, 'pending', 'a stale row');
    const response = page.waitForResponse((r) => r.request().method() === 'DELETE');
    await stale.getByRole('button', { name: `Revoke the invitation for ${ADMIN}` }).click();
    assert.equal((await response).status(), 409);
    await seeText(page.locator('#invitations-error'), `The invitation for ${ADMIN} could not be revoked: The invitation is not pending`, 'the 409');
    await seeText(invitationRow(page, ADMIN), 'accepted', 'read again');
    await page.locator('#refresh-form').getByRole('button', { name: 'Refresh' }).click();
    assert.equal(await page.locator('#invitations-error').innerText(), '', 'refresh clears it');
    await until('three members', async () => (await memberEmails(page)).length === 3);
    await seeText(memberRow(page, ADMIN), new RegExp(`^${escapeRe(ADMIN)} unverified owner admin member Change .* Remove$`), 'admin row');
    await seeText(invitationRow(page, MEMBER), 'accepted', 'the member accepted');
    links.later = await invite(page, LATER, 'member', 14);
    // From the top to the end of the invitations: members, the link, the list.
    await page.evaluate(() => window.scrollTo(0, 0));
    const box = await page.locator('#invitations-card').boundingBox();
    await page.screenshot({
      path: path.join(SHOTS, 'members.png'),
      fullPage: true,
      clip: { x: 0, y: 0, width: 1280, height: Math.ceil(box.y + box.height + 24) },
    });
  });

  step('the owner demotes the admin', async () => {
    const page = P('owner');
    const res = await changeRole(page, ADMIN, 'member');
    assert.equal(res.status(), 200);
    assert.deepEqual(JSON.parse(res.request().postData()), { role: 'member' });
    await seeText(page.locator('#members-status'), `${ADMIN} is now member. 3 members.`, 'said');
    assert.equal(await memberRow(page, ADMIN).getByLabel(`Role of ${ADMIN}`, { exact: true }).inputValue(), 'member');
  });

  step('the demoted admin\'s page is refused (403), then shows a member\'s console', async () => {
    const page = P('admin');
    // The page still shows what an admin had: the server decides.
    await page.locator('#invitations-card').waitFor({ state: 'visible' });
    assert.equal((await sendInvitation(page, `late.${RUN}@example.com`)).status(), 403);
    await seeText(page.locator('#notice'),
      'The server refused: A member with the role member may not invite or manage invitations as member. Your role in this organization is now member',
      'the 403 and the new role');
    await assertIn(page, ORG, 'member');
    await page.locator('#invitations-card').waitFor({ state: 'hidden' });
    assert.equal(await page.locator('#members-list select').count(), 0, 'no role select any more');
    assert.deepEqual(await page.locator('#members-list button').allTextContents(), ['Leave']);
  });

  step('the last owner cannot leave: the console shows the 409', async () => {
    const page = P('owner');
    const row = memberRow(page, OWNER);
    await row.getByRole('button', { name: 'Leave the organization' }).click();
    await seeText(row, `Leave “${ORG}”? You lose access to it at once.`, 'asked first');
    await row.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await row.getByRole('button', { name: 'Leave the organization' }).isVisible(), true, 'cancel puts it back');
    await row.getByRole('button', { name: 'Leave the organization' }).click();
    const response = page.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().includes('/org/members/'));
    await row.getByRole('button', { name: 'Yes, leave' }).click();
    assert.equal((await response).status(), 409);
    await seeText(page.locator('#members-error'), 'You could not leave: The organization must keep at least one owner', 'the 409');
    await assertIn(page, ORG, 'owner');
    await row.getByRole('button', { name: 'Leave the organization' }).waitFor({ state: 'visible' });
    // Demoting itself, the last owner, is the same 409.
    await row.getByLabel(`Role of ${OWNER}`, { exact: true }).selectOption('admin');
    await row.getByRole('button', { name: `Change the role of ${OWNER}` }).click();
    await seeText(page.locator('#members-error'), `The role of ${OWNER} could not be changed: The organization must keep at least one owner`, '409 on demotion');
    await page.screenshot({ path: path.join(SHOTS, 'members-03-last-owner.png'), fullPage: true });
  });

  step('the owner removes the former admin; the member leaves', async () => {
    const owner = P('owner');
    const row = memberRow(owner, ADMIN);
    await row.getByRole('button', { name: `Remove ${ADMIN}` }).click();
    const removed = owner.waitForResponse((r) => r.request().method() === 'DELETE');
    await row.getByRole('button', { name: 'Yes, remove' }).click();
    assert.equal((await removed).status(), 204);
    await seeText(owner.locator('#members-status'), `${ADMIN} was removed. 2 members.`, 'removed');
    assert.deepEqual((await memberEmails(owner)).sort(), [MEMBER, OWNER].sort());

    const page = P('member');
    const mine = memberRow(page, MEMBER);
    await mine.getByRole('button', { name: 'Leave the organization' }).click();
    const left = page.waitForResponse((r) => r.request().method() === 'DELETE');
    await mine.getByRole('button', { name: 'Yes, leave' }).click();
    assert.equal((await left).status(), 204);
    await page.locator('#signed-out-view').waitFor({ state: 'visible' });
    await seeText(page.locator('#notice'), `You left organization “${ORG}”.`, 'left');
    assert.equal(await sessionOf(page), null, 'token forgotten');
    assert.equal(await page.locator('#members-list > tr').count(), 0, 'no member left in the page');
  });

  step('the owner accepts an invitation to a second organization with its password', async () => {
    const token = await apiLogin(OTHER_OWNER, OTHER_PASSWORD);
    const inv = await call('POST', '/org/invitations', { body: { email: OWNER, role: 'admin' }, token });
    assert.equal(inv.status, 201);
    const page = P('owner');
    const link = `${API_URL}/dashboard#accept=${inv.data.token}`;
    // Choosing a new password for an email that has an account: the 401, explained.
    let res = await accept(page, link, { password: 'Another-Passw0rd' });
    assert.equal(res.status(), 401);
    await seeText(page.locator('#accept-form [data-role="error"]'),
      'Incorrect email or password: the invited email has an account already. Choose “Yes” above', 'explained');
    // On the same form: "Yes, I have an account" and its password.
    const f = page.locator('#accept-form');
    await f.getByLabel('Yes: my email already belongs').check();
    await f.getByLabel('Your password', { exact: true }).fill(PASSWORD);
    const response = page.waitForResponse((r) => r.url().endsWith('/invitations/accept'));
    await f.getByRole('button', { name: 'Join the organization' }).click();
    res = await response;
    assert.equal(res.status(), 200);
    await assertIn(page, OTHER_ORG, 'admin');
    // Two organizations: the switcher lists both and offers the other one.
    const sw = page.locator('#switch-form');
    await seeText(page.locator('#switch-list'), `${ORG} · owner`, 'first organization');
    await seeText(page.locator('#switch-list'), `${OTHER_ORG} · admin (this one)`, 'this one');
    assert.deepEqual(await sw.getByLabel('Switch to').locator('option').allTextContents(), [`${ORG} (owner)`]);
  });

  step('switching organizations asks for the password again and keeps none', async () => {
    const page = P('owner');
    const sw = page.locator('#switch-form');
    await sw.getByLabel('Your password', { exact: true }).fill('Wrong-Passw0rd');
    await sw.getByRole('button', { name: 'Switch organization' }).click();
    await seeText(sw.locator('[data-role="error"]'), 'Incorrect email or password', 'wrong password');
    await assertIn(page, OTHER_ORG, 'admin');
    await sw.getByLabel('Your password', { exact: true }).fill(PASSWORD);
    const response = page.waitForResponse((r) => r.url().endsWith('/admin/login'));
    await sw.getByRole('button', { name: 'Switch organization' }).click();
    const res = await response;
    assert.equal(res.status(), 200);
    assert.equal(JSON.parse(res.request().postData()).organization_name, ORG);
    await assertIn(page, ORG, 'owner');
    await seeText(page.locator('#notice'), `You are now in organization “${ORG}” as owner.`, 'switched');
    await until('the owner\'s controls are back', async () => page.locator('#invitations-card').isVisible());
    assert.deepEqual(await sw.getByLabel('Switch to').locator('option').allTextContents(), [`${OTHER_ORG} (admin)`]);
    assert.equal(await sw.getByLabel('Your password', { exact: true }).inputValue(), '', 'the password field is emptied');
    const stored = await sessionOf(page);
    for (const secret of [PASSWORD, 'Wrong-Passw0rd']) assert.ok(!stored.includes(secret), 'no password in sessionStorage');
    assert.equal(await page.evaluate(() => window.localStorage.length), 0);
  });

  step('no policy violation and no uncaught error on any page', async () => {
    assert.deepEqual(problems, []);
  });
});
