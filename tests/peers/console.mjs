// Drives the operator console (/ui/ on the admin listener) in headless Chromium (Debian's,
// through playwright-core): signs in (a wrong token first), lists and pages tenants, onboards
// one through the form (a bad subdomain and a taken one first), opens the new tenant's host
// on the tenant port, disables it through the confirmation dialog and sees 403 there, visits
// certificates, pools, reloads and fleet, renders the list at 375 px, and signs out. Takes
// screenshots along the way. Prints one JSON line on stdout:
//
//   {"tenant_id": id of the onboarded tenant, "screenshots": {name: path},
//    "checks": {name: value}}   (what Rust asserts on)
//
// Environment:
//   ADMIN_URL    the admin listener, e.g. http://127.0.0.1:9100          required
//   ADMIN_TOKEN  the admin token                                         required
//   TENANT_PORT  the gateway's HTTP (tenant) port                        required
//   OUT_DIR      where screenshots go                                    required
//   BASE_DOMAIN  a base domain of the gateway (default example.com); mapped to 127.0.0.1
//   TAKEN_SUB    a subdomain that is taken (default tenant-a)
//   NEW_SUB      the subdomain to onboard (default console-made)
//   TAKEN_DOMAIN a custom domain another tenant has (default www.tenant-a.test)
//   NEW_DOMAIN   a custom domain to give the new tenant (default console.example.net)
//   IDP_ISSUER   the issuer the IdP form sets (default http://127.0.0.1:9/console)
//   IDP_SECRET_ENV the client secret's environment variable (default CONSOLE_IDP_SECRET)
//   TOTAL        the number of tenants before onboarding (checked on the list)
//   TIMEOUT_MS   overall limit (default 90000)
//   CHROMIUM     browser binary (default /usr/bin/chromium)
//
// Exits 1 with a message on stderr when a step fails, 2 on bad usage.
import { EXECUTABLE, launchChromium } from './chromium.mjs';
import http from 'node:http';
import path from 'node:path';

const {
  ADMIN_URL, ADMIN_TOKEN, TENANT_PORT, OUT_DIR,
} = process.env;
const BASE_DOMAIN = process.env.BASE_DOMAIN || 'example.com';
const TAKEN_SUB = process.env.TAKEN_SUB || 'tenant-a';
const NEW_SUB = process.env.NEW_SUB || 'console-made';
const TAKEN_DOMAIN = process.env.TAKEN_DOMAIN || 'www.tenant-a.test';
const NEW_DOMAIN = process.env.NEW_DOMAIN || 'console.example.net';
const IDP_ISSUER = process.env.IDP_ISSUER || 'http://127.0.0.1:9/console';
const IDP_SECRET_ENV = process.env.IDP_SECRET_ENV || 'CONSOLE_IDP_SECRET';
const TOTAL = process.env.TOTAL ? Number(process.env.TOTAL) : null;
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS || 90000);

for (const [name, value] of Object.entries({ ADMIN_URL, ADMIN_TOKEN, TENANT_PORT, OUT_DIR })) {
  if (!value) {
    console.error(`console: ${name} must be set`);
    process.exit(2);
  }
}

let browser;
let page;
let step = 'start';
const screenshots = {};
const checks = {};
const cspViolations = [];
const pageErrors = [];

async function die(message) {
  let where = '';
  try {
    if (page) {
      const text = (await page.evaluate(() => document.body?.innerText ?? '')).slice(0, 800);
      where = `\n  at: ${page.url()}\n  page text: ${JSON.stringify(text)}`;
      await page.screenshot({ path: path.join(OUT_DIR, 'failure.png'), fullPage: true });
      where += `\n  screenshot: ${path.join(OUT_DIR, 'failure.png')}`;
    }
  } catch {
    // page not readable
  }
  console.error(`console: step "${step}": ${message}${where}`);
  try { await browser?.close(); } catch { /* gone */ }
  process.exit(1);
}

const timer = setTimeout(() => { die(`timed out after ${TIMEOUT_MS} ms`); }, TIMEOUT_MS);

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

async function shot(name) {
  const file = path.join(OUT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: name !== 'tenants' });
  screenshots[name] = file;
}

async function text(selector) {
  return (await page.locator(selector).first().textContent()) ?? '';
}

// A plain request (no browser) to a tenant host on the tenant port; answers its status.
function hostStatus(host) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: Number(TENANT_PORT), path: '/console-check', headers: { Host: host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end();
  });
}

// Opens a tenant host on the tenant port in a second tab; answers its HTTP status.
async function visitTenantHost(context, host) {
  const tab = await context.newPage();
  try {
    const resp = await tab.goto(`http://${host}:${TENANT_PORT}/console-check`, { waitUntil: 'domcontentloaded' });
    return { status: resp ? resp.status() : null, body: await tab.evaluate(() => document.body?.innerText ?? '') };
  } finally {
    await tab.close();
  }
}

try {
  step = 'launch';
  browser = await launchChromium(`MAP *.${BASE_DOMAIN} 127.0.0.1`);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(20000);
  page = await context.newPage();
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) cspViolations.push(msg.text());
  });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  // Any confirm()/alert() would be a bug: the console uses its own dialog.
  page.on('dialog', (d) => { pageErrors.push(`unexpected window dialog: ${d.message()}`); d.dismiss(); });

  step = 'sign-in page';
  const first = await page.goto(`${ADMIN_URL}/ui/`, { waitUntil: 'domcontentloaded' });
  checks.csp_header = first.headers()['content-security-policy'] || null;
  await page.locator('#signin-token').waitFor();
  await shot('signin');

  step = 'wrong token';
  await page.fill('#signin-token', 'not-the-admin-token');
  await page.click('#signin button[type="submit"]');
  await page.locator('#signin-token-error:not([hidden])').waitFor();
  checks.wrong_token_error = await text('#signin-token-error');
  checks.wrong_token_invalid = await page.getAttribute('#signin-token', 'aria-invalid');

  step = 'sign in';
  await page.fill('#signin-token', ADMIN_TOKEN);
  await page.click('#signin button[type="submit"]');
  await page.locator('#tenant-table').waitFor();
  checks.storage_after_sign_in = await page.evaluate(() => ({
    local: localStorage.length,
    session: sessionStorage.length,
    document_cookie: document.cookie,
  }));
  const cookies = await context.cookies(ADMIN_URL);
  checks.cookie = cookies.find((c) => c.name === 'tg_console') || null;
  if (checks.cookie) checks.cookie = { httpOnly: checks.cookie.httpOnly, sameSite: checks.cookie.sameSite, path: checks.cookie.path };
  checks.token_in_page = await page.evaluate((t) => document.documentElement.outerHTML.includes(t), ADMIN_TOKEN);

  step = 'tenants list';
  checks.list_total = await text('#tenant-total');
  if (TOTAL !== null) expect(checks.list_total.startsWith(`${TOTAL} tenants`), `total shown: ${checks.list_total}`);
  checks.first_page_rows = await page.locator('#tenant-table tbody tr').count();
  await shot('tenants');

  step = 'paging';
  expect(await page.isEnabled('#page-next'), 'Next is enabled on the first page');
  expect(!(await page.isEnabled('#page-prev')), 'Previous is disabled on the first page');
  const firstName = await text('#tenant-table tbody tr:first-child a');
  await page.click('#page-next');
  await page.waitForFunction((n) => {
    const a = document.querySelector('#tenant-table tbody tr:first-child a');
    return a && a.textContent !== n;
  }, firstName);
  checks.second_page_range = await text('#tenant-total');
  expect(await page.isEnabled('#page-prev'), 'Previous is enabled on the second page');
  await page.click('#page-prev');
  await page.waitForFunction((n) => {
    const a = document.querySelector('#tenant-table tbody tr:first-child a');
    return a && a.textContent === n;
  }, firstName);

  step = 'search and filter';
  await page.fill('#f-q', TAKEN_SUB);
  await page.click('#tenant-filters button[type="submit"]');
  await page.waitForFunction(() => /^1 tenant\b/.test(document.querySelector('#tenant-total')?.textContent || ''));
  checks.search_rows = await page.locator('#tenant-table tbody tr').count();
  await page.fill('#f-q', '');
  await page.selectOption('#f-status', 'disabled');
  await page.waitForFunction(() => document.querySelector('#tenant-table tbody tr') && [...document.querySelectorAll('#tenant-table tbody tr')].every((tr) => tr.textContent.includes('disabled')));
  checks.disabled_total = await text('#tenant-total');
  await page.selectOption('#f-status', '');

  step = 'onboard: bad subdomain';
  await page.click('nav a[href="#/onboard"]');
  await page.locator('#onboard-form').waitFor();
  await page.fill('#f-name', 'Console Made');
  await page.fill('#f-subdomain', 'Bad_Sub');
  await page.fill('#f-email-domain', 'console.test');
  await page.fill('#f-email', 'admin@console.test');
  await page.fill('#f-tier', 'premium');
  await page.click('#onboard-submit');
  await page.locator('#f-subdomain-error:not([hidden])').waitFor();
  checks.bad_sub_error = await text('#f-subdomain-error');
  checks.bad_sub_other_errors = await page.locator('.field-error:not([hidden])').count();
  checks.bad_sub_focused = await page.evaluate(() => document.activeElement?.id);
  await shot('onboard-error');

  step = 'onboard: taken subdomain';
  await page.fill('#f-subdomain', TAKEN_SUB);
  await page.click('#onboard-submit');
  await page.waitForFunction((old) => {
    const e = document.querySelector('#f-subdomain-error');
    return e && !e.hidden && e.textContent && e.textContent !== old;
  }, checks.bad_sub_error);
  checks.taken_sub_error = await text('#f-subdomain-error');

  step = 'onboard';
  await page.fill('#f-subdomain', NEW_SUB);
  await page.click('#onboard-submit');
  await page.waitForURL(/#\/tenants\/[0-9a-f-]{36}$/);
  await page.locator('#tenant-name').waitFor();
  const tenantId = decodeURIComponent(page.url().split('#/tenants/')[1]);
  checks.tenant_page_name = await text('#tenant-name');
  checks.tenant_page_status = await text('#tenant-status');

  step = 'tenant host answers';
  const host = `${NEW_SUB}.${BASE_DOMAIN}`;
  const live = await visitTenantHost(context, host);
  checks.tenant_host_before = live.status;
  checks.tenant_host_backend_saw = live.body.includes(tenantId);
  for (let i = 0; i < 4; i += 1) await visitTenantHost(context, host);

  step = 'custom domains';
  await page.fill('#f-custom-domains', TAKEN_DOMAIN);
  await page.click('#domains-form button[type="submit"]');
  await page.locator('#f-custom-domains-error:not([hidden])').waitFor();
  checks.taken_domain_error = await text('#f-custom-domains-error');
  await page.fill('#f-custom-domains', NEW_DOMAIN);
  await page.click('#domains-form button[type="submit"]');
  await page.waitForFunction((d) => (document.querySelector('#domains-table')?.textContent || '').includes(d), NEW_DOMAIN);
  checks.domains_table = await text('#domains-table');

  step = 'idp form';
  await page.fill('#f-idp-issuer', 'not a url');
  await page.fill('#f-idp-client-id', 'console-app');
  await page.click('#idp-form button[type="submit"]');
  await page.locator('#f-idp-issuer-error:not([hidden])').waitFor();
  checks.idp_issuer_error = await text('#f-idp-issuer-error');
  await page.fill('#f-idp-issuer', IDP_ISSUER);
  await page.fill('#f-idp-secret-env', 'not a secret!');
  await page.click('#idp-form button[type="submit"]');
  await page.locator('#f-idp-secret-env-error:not([hidden])').waitFor();
  checks.idp_secret_error = await text('#f-idp-secret-env-error');
  await page.fill('#f-idp-secret-env', IDP_SECRET_ENV);
  await page.selectOption('#f-idp-binding', 'group');
  await page.fill('#f-idp-group', 'tenant-');
  await page.click('#idp-form button[type="submit"]');
  await page.locator('#idp-facts').waitFor();
  checks.idp_facts = await text('#idp-facts');

  // Traffic between two metric readings gives a rate (requests from here: the tenant now
  // sends browsers to its IdP, which does not exist).
  await page.waitForFunction(() => /\d/.test(document.querySelector('#metric-total')?.textContent || ''));
  for (let i = 0; i < 6; i += 1) checks.tenant_host_with_idp = await hostStatus(host);
  await page.waitForFunction(() => /[1-9][0-9.]* req\/s|0\.0*[1-9][0-9]* req\/s/.test(document.querySelector('#metric-rate')?.textContent || ''), null, { timeout: 15000 });
  checks.metric_rate = await text('#metric-rate');
  checks.metric_errors = await text('#metric-errors');
  await shot('tenant');

  step = 'disable: cancel';
  await page.click('#btn-disable');
  await page.locator('dialog#confirm[open]').waitFor();
  checks.dialog_text = await text('#confirm-message');
  await page.click('#confirm-cancel');
  await page.waitForFunction(() => !document.querySelector('dialog#confirm').open);
  checks.status_after_cancel = await text('#tenant-status');

  step = 'disable: confirm';
  await page.click('#btn-disable');
  await page.locator('dialog#confirm[open]').waitFor();
  await page.click('#confirm-ok');
  await page.waitForFunction(() => /disabled/.test(document.querySelector('#tenant-status')?.textContent || ''));
  checks.status_after_disable = await text('#tenant-status');
  checks.tenant_host_after = (await visitTenantHost(context, host)).status;

  step = 'certificates';
  await page.click('nav a[href="#/certs"]');
  await page.waitForSelector('main[data-page="certs"]');
  checks.certs_text = await text('main');
  await shot('certs');

  step = 'pools';
  await page.click('nav a[href="#/pools"]');
  await page.waitForSelector('main[data-page="pools"]');
  checks.pools_text = await text('main');

  step = 'reloads';
  await page.click('nav a[href="#/reloads"]');
  await page.waitForSelector('main[data-page="reloads"]');
  checks.reloads_text = await text('main');
  await shot('reloads');

  step = 'fleet';
  await page.click('nav a[href="#/fleet"]');
  await page.waitForSelector('main[data-page="fleet"]');
  checks.fleet_text = await text('main');

  step = 'keyboard';
  // The first Tab stops: skip link, then the navigation links, all reachable.
  await page.click('nav a[href="#/tenants"]');
  await page.locator('#tenant-table').waitFor();
  await page.evaluate(() => document.activeElement?.blur());
  const stops = [];
  for (let i = 0; i < 10; i += 1) {
    await page.keyboard.press('Tab');
    stops.push(await page.evaluate(() => {
      const e = document.activeElement;
      return e ? `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}:${(e.textContent || '').trim().slice(0, 20)}` : '';
    }));
  }
  checks.tab_stops = stops;
  checks.focus_outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  // Keyboard only: open a tenant from the list with Enter.
  await page.focus('#tenant-table tbody tr:first-child a');
  await page.keyboard.press('Enter');
  await page.locator('#tenant-name').waitFor();
  checks.keyboard_opened = page.url().includes('#/tenants/');
  checks.first_tenant_domains = await text('#domains-table');

  step = 'narrow (375 px)';
  await page.setViewportSize({ width: 375, height: 812 });
  await page.evaluate(() => { location.hash = '#/tenants'; });
  await page.reload({ waitUntil: 'domcontentloaded' });
  // A reload keeps the session: GET /ui/session gives the CSRF token back.
  await page.locator('#tenant-table').waitFor();
  checks.narrow_overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  const shotNarrow = path.join(OUT_DIR, 'tenants-375.png');
  await page.screenshot({ path: shotNarrow, fullPage: false });
  screenshots['tenants-375'] = shotNarrow;
  await page.setViewportSize({ width: 1280, height: 900 });

  step = 'sign out';
  await page.click('#signout');
  await page.locator('#signin-token').waitFor();
  checks.session_after_sign_out = await page.evaluate(async () => (await fetch('/ui/session')).status);

  checks.csp_violations = cspViolations;
  checks.page_errors = pageErrors;
  clearTimeout(timer);
  process.stdout.write(`${JSON.stringify({ tenant_id: tenantId, screenshots, checks })}\n`);
  await browser.close();
} catch (err) {
  await die(err.message.split('\n').slice(0, 3).join(' | '));
}
