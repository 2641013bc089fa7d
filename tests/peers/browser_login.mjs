// Logs in through a real browser: headless Chromium (Debian's, driven by playwright-core)
// opens START_URL, is sent to the IdP's login form (oidc-provider devInteractions), logs in
// as LOGIN, confirms the consent page if one is shown, and waits until the page URL starts
// with EXPECT_PREFIX. Then prints one JSON line on stdout:
//
//   {"url": final URL, "status": HTTP status of the final document (or null),
//    "body": document.body.innerText, "steps": [main-frame URLs in order],
//    "login_form_seen": true,
//    "cookies": [{name, value, domain, path, httpOnly, secure, sameSite, expires}]}
//
// `cookies` are the cookies the browser would send to the final page's URL.
//
// Environment:
//   START_URL      first URL to open                                        required
//   LOGIN          login to type into the IdP form                           required
//   EXPECT_PREFIX  the flow is done when the page URL starts with this       required
//   PASSWORD       password to type (default "any"; devInteractions take any)
//   HOST_RULES     extra Chromium host resolver rules, comma separated, added to
//                  "MAP *.gw.test 127.0.0.1" (e.g. "MAP idp.test 127.0.0.1")
//   ALLOW_NO_LOGIN set to 1 to accept reaching EXPECT_PREFIX without a login form
//   TIMEOUT_MS     overall limit (default 30000)
//   CHROMIUM       browser binary (default /usr/bin/chromium)
//
// Exits 1 with a message on stderr when the flow fails or times out, 2 on bad usage.
import { EXECUTABLE, launchChromium } from './chromium.mjs';

const START_URL = process.env.START_URL;
const LOGIN = process.env.LOGIN;
const EXPECT_PREFIX = process.env.EXPECT_PREFIX;
const PASSWORD = process.env.PASSWORD || 'any';
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS || 30000);
const ALLOW_NO_LOGIN = process.env.ALLOW_NO_LOGIN === '1';

for (const [name, value] of Object.entries({ START_URL, LOGIN, EXPECT_PREFIX })) {
  if (!value) {
    console.error(`browser_login: ${name} must be set`);
    process.exit(2);
  }
}

const hostRules = ['MAP *.gw.test 127.0.0.1', ...(process.env.HOST_RULES || '').split(',')]
  .map((r) => r.trim())
  .filter(Boolean)
  .join(',');

let browser;
let page;
const steps = [];

// Playwright gives the browser a fresh temporary profile and removes it on close.
async function cleanup() {
  try {
    await browser?.close();
  } catch {
    // already gone
  }
}

let dying = false;
async function die(message) {
  // Only the first failure is reported; whatever else is running waits for the exit.
  if (dying) return new Promise(() => {});
  dying = true;
  let where = '';
  try {
    if (page) {
      const text = (await page.evaluate(() => document.body?.innerText ?? '')).slice(0, 500);
      where = `\n  at: ${page.url()}\n  page text: ${JSON.stringify(text)}`;
    }
  } catch {
    // page not readable
  }
  console.error(`browser_login: ${message}${where}\n  steps: ${steps.join(' -> ')}`);
  await cleanup();
  process.exit(1);
}

const timer = setTimeout(() => {
  die(`timed out after ${TIMEOUT_MS} ms waiting for a URL starting with ${EXPECT_PREFIX}`);
}, TIMEOUT_MS);

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

try {
  browser = await launchChromium(hostRules);
} catch (err) {
  await die(`cannot launch ${EXECUTABLE}: ${err.message.split('\n')[0]}`);
}

const context = await browser.newContext({ ignoreHTTPSErrors: true });
page = await context.newPage();
let lastStatus = null;
page.on('framenavigated', (frame) => {
  if (frame === page.mainFrame()) steps.push(frame.url());
});
page.on('response', (response) => {
  const req = response.request();
  if (req.isNavigationRequest() && req.frame() === page.mainFrame()) lastStatus = response.status();
});

const done = () => page.url().startsWith(EXPECT_PREFIX);

try {
  await page.goto(START_URL, { waitUntil: 'domcontentloaded' });
} catch (err) {
  await die(`cannot open ${START_URL}: ${err.message.split('\n')[0]}`);
}

let loginSeen = false;
let consents = 0;
while (!done()) {
  try {
    await page.waitForLoadState('domcontentloaded');
    const login = page.locator('form input[name="login"]');
    const consent = page.locator('form:has(input[name="prompt"][value="consent"]) button[type="submit"]');
    if (await login.count()) {
      loginSeen = true;
      await login.fill(LOGIN);
      await page.locator('form input[name="password"]').fill(PASSWORD);
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'domcontentloaded' }),
        page.locator('form button[type="submit"]').first().click(),
      ]);
    } else if (await consent.count()) {
      consents += 1;
      if (consents > 3) await die('consent page shown again and again');
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'domcontentloaded' }),
        consent.first().click(),
      ]);
    } else {
      // Redirects in progress, or a page that is neither: wait and look again.
      await sleep(100);
    }
  } catch (err) {
    // A navigation that replaced the page under us: look again.
    if (!/context was destroyed|navigation|Target closed|detached/i.test(err.message)) {
      await die(`driving the login failed: ${err.message.split('\n')[0]}`);
    }
  }
}

if (!loginSeen && !ALLOW_NO_LOGIN) {
  await die(`reached ${page.url()} without being shown the IdP login form`);
}

await page.waitForLoadState('load');
const body = await page.evaluate(() => document.body?.innerText ?? '');
const cookies = (await context.cookies(page.url())).map((c) => ({
  name: c.name,
  value: c.value,
  domain: c.domain,
  path: c.path,
  httpOnly: c.httpOnly,
  secure: c.secure,
  sameSite: c.sameSite,
  expires: c.expires,
}));
clearTimeout(timer);
process.stdout.write(`${JSON.stringify({
  url: page.url(), status: lastStatus, body, steps, login_form_seen: loginSeen, cookies,
})}\n`);
await cleanup();
