// Browser tests of the console's account pages (/dashboard), in Debian's Chromium driven
// by playwright-core, against the API at process.env.API_URL, reading the service's
// email from process.env.MAIL_DIR (the stack's mail folder) as a person would open it.
//
// The owner forgets the password, asks for a reset link, opens it from the message and
// chooses a new password; the "verify your email" banner sends a verification link,
// which verifies the address; the owner invites a colleague by email (no link shown),
// the colleague opens the emailed link and joins with a verified account; the members
// list shows who is verified.
//
//   API_URL=http://127.0.0.1:9000 MAIL_DIR=.local/mail node --test tests/browser/

import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

import { chromium } from 'playwright-core';

import {
  API_URL, CHROMIUM, SHOTS, assertIn, createOrg, escapeRe, invitationRow, linkInMail, logIn,
  memberRow, openPages, orgExists, removeOrg, screenshotEveryone, seeText, sendInvitation,
  setUp, stepper,
} from './lib.mjs';

const RUN = randomBytes(4).toString('hex');
const ORG = `mail-${RUN}`;
const OWNER = `owner.${RUN}@example.com`;
const COLLEAGUE = `colleague.${RUN}@example.com`;
const PASSWORD = 'Owner-Passw0rd';
const NEW_PASSWORD = 'Rec0vered-Passw0rd';
const COLLEAGUE_PASSWORD = 'Colleague-Passw0rd';

let browser;
const people = {};
const problems = [];
let ownerPassword = PASSWORD;

const step = stepper(screenshotEveryone(people, 'accounts'));
const P = (who) => people[who].page;

before(async () => {
  await setUp();
  await createOrg(ORG, OWNER, PASSWORD);
  browser = await chromium.launch(CHROMIUM);
  await openPages(browser, ['owner', 'colleague'], people, problems);
});

after(async () => {
  await browser?.close().catch(() => {});
  if (!API_URL) return;
  if (await orgExists(ORG).catch(() => false)) await removeOrg(OWNER, ownerPassword, ORG).catch(() => {});
});

describe('accounts: reset, verification, invitations by email', () => {
  step('"Forgot password?" sends a reset link, whatever the address', async () => {
    const page = P('owner');
    await page.goto(`${API_URL}/dashboard`);
    await page.locator('#login-form').getByLabel('Admin email').fill(OWNER);
    await page.getByRole('button', { name: 'Forgot password?' }).click();
    await page.locator('#forgot-view').waitFor({ state: 'visible' });
    const f = page.locator('#forgot-form');
    assert.equal(await f.getByLabel('Email').inputValue(), OWNER, 'the address typed at login is kept');
    await f.getByRole('button', { name: 'Send the link' }).click();
    await seeText(f.locator('[data-role="success"]'), 'If an account exists for this email, a message is on its way', 'sent');
  });

  step('the reset link from the message opens the reset form; the new password works', async () => {
    const page = P('owner');
    const { link, token, mail } = await linkInMail(OWNER, 'reset');
    assert.match(mail.subject, new RegExp(`Reset your ${escapeRe(ORG)} password`));
    assert.match(mail.text, /expires in 30 minutes/);
    assert.ok(link.startsWith(`${API_URL}/dashboard#reset=`), link);
    await page.goto(link);
    await page.locator('#reset-view').waitFor({ state: 'visible' });
    assert.ok(!page.url().includes(token), 'the token left the address bar');
    const f = page.locator('#reset-form');
    await f.getByLabel('New password').fill('weak');
    await f.getByRole('button', { name: 'Set the password' }).click();
    await seeText(page.locator('#reset-password-error'), /./, 'the rules of create, before any request');
    await f.getByLabel('New password').fill(NEW_PASSWORD);
    await f.getByLabel('Repeat the password').fill(NEW_PASSWORD);
    await f.getByRole('button', { name: 'Set the password' }).click();
    await seeText(page.locator('#notice'), 'Password changed. Log in with your new password.', 'changed');
    ownerPassword = NEW_PASSWORD;
    await page.locator('#signed-out-view').waitFor({ state: 'visible' });
    // Good once: the same link again is refused, and says what to do.
    await page.goto(link);
    const again = page.locator('#reset-form');
    await again.getByLabel('New password').fill('An0ther-Passw0rd');
    await again.getByLabel('Repeat the password').fill('An0ther-Passw0rd');
    await again.getByRole('button', { name: 'Set the password' }).click();
    await seeText(again.locator('[data-role="error"]'), 'Reset link not found or expired: it was used, replaced or has expired', 'used');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await logIn(page, OWNER, NEW_PASSWORD);
    await assertIn(page, ORG, 'owner');
  });

  step('the reset link proved the address: a verified badge, no banner', async () => {
    const page = P('owner');
    // The reset proved the address already: the banner shows only for an unverified one.
    await seeText(memberRow(page, OWNER), new RegExp(`^${escapeRe(OWNER)} \\(you\\) verified owner`), 'verified by the reset');
    assert.equal(await page.locator('#verify-banner').isVisible(), false, 'no banner once verified');
  });

  step('the owner invites a colleague by email: no link is shown', async () => {
    const page = P('owner');
    const f = page.locator('#invite-form');
    assert.equal(await f.getByLabel('Send the invitation by email').isChecked(), true, 'by email by default');
    const res = await sendInvitation(page, COLLEAGUE, { role: 'admin', byEmail: true });
    assert.equal(res.status(), 201);
    assert.equal((await res.json()).token, undefined, 'no token in the answer');
    await seeText(f.locator('[data-role="success"]'), `Invitation emailed to ${COLLEAGUE} (admin, until `, 'emailed');
    assert.equal(await page.locator('#invite-link').isVisible(), false, 'no link box');
    await seeText(invitationRow(page, COLLEAGUE), new RegExp(`${escapeRe(COLLEAGUE)} admin pending`), 'pending');
  });

  step('the colleague opens the emailed link, joins, and is verified', async () => {
    const page = P('colleague');
    const { link, mail } = await linkInMail(COLLEAGUE, 'accept');
    assert.match(mail.subject, new RegExp(`${escapeRe(OWNER)} invited you to join ${escapeRe(ORG)}`));
    assert.match(mail.text, /as admin/);
    await page.goto(link);
    await page.locator('#accept-view').waitFor({ state: 'visible' });
    const f = page.locator('#accept-form');
    await f.getByLabel('Choose a password', { exact: true }).fill(COLLEAGUE_PASSWORD);
    await f.getByLabel('Repeat the password').fill(COLLEAGUE_PASSWORD);
    await f.getByRole('button', { name: 'Join the organization' }).click();
    await assertIn(page, ORG, 'admin');
    assert.equal(await page.locator('#verify-banner').isVisible(), false, 'an emailed invitation proves the address');
    await seeText(memberRow(page, COLLEAGUE), new RegExp(`^${escapeRe(COLLEAGUE)} \\(you\\) verified admin`), 'verified');
  });

  step('an unverified member sees the banner and verifies by the emailed link', async () => {
    // The owner changes its email (at once, unverified: the default), and so is asked to verify it.
    const page = P('owner');
    const moved = `moved.${RUN}@example.com`;
    const f = page.locator('#email-form');
    await f.getByLabel('New admin email').fill(moved);
    await f.getByRole('button', { name: 'Change email' }).click();
    await seeText(f.locator('[data-role="success"]'), `The admin email is now ${moved}`, 'changed');
    await seeText(page.locator('#verify-banner'), `Your email address ${moved} is not verified yet`, 'the banner');
    await page.getByRole('button', { name: 'Send a verification link' }).click();
    await seeText(page.locator('#verify-said'), `A verification link is on its way to ${moved}`, 'sent');
    const { link } = await linkInMail(moved, 'verify');
    await page.goto(link);
    await seeText(page.locator('#notice'), `Email verified: ${moved}.`, 'verified');
    await page.locator('#verify-banner').waitFor({ state: 'hidden' });
    await seeText(memberRow(page, moved), new RegExp(`^${escapeRe(moved)} \\(you\\) verified owner`), 'badge');
    await page.screenshot({ path: path.join(SHOTS, 'accounts.png'), fullPage: true });
    // Cleanup logs in with this address.
    await removeOrg(moved, NEW_PASSWORD, ORG);
  });

  step('no CSP violation, uncaught error or form warning', async () => {
    assert.deepEqual(problems, []);
  });
});
