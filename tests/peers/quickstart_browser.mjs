// The README quickstart's browser step, in headless Chromium (Debian's, driven by
// playwright-core): opens START_URL (a tenant's /app/ on the shipped conf/), expects to land on
// the demo IdP's authorize page (a URL starting with AUTHORIZE_PREFIX), takes a screenshot,
// clicks the button named BUTTON, waits for the page URL to be exactly START_URL again, takes a
// screenshot. Chromium resolves *.localhost to loopback itself: no host resolver rules.
// Prints one JSON line on stdout (what Rust asserts on):
//
//   {"authorize": {"url", "status", "title", "text", "buttons": [button labels]},
//    "final": {"url", "status", "body": the final document's response body,
//              "document_cookie": document.cookie on the final page,
//              "cookies": [{name, value, domain, path, httpOnly, secure, sameSite, expires}]},
//    "steps": [main-frame URLs in order], "screenshots": {"authorize": path, "app": path}}
//
// Environment:
//   START_URL         the page to open, and where the login must come back to   required
//   AUTHORIZE_PREFIX  the IdP's authorize URL prefix                            required
//   BUTTON            accessible name of the button to click                    required
//   OUT_DIR           where screenshots go                                      required
//   TIMEOUT_MS        overall limit (default 60000)
//   CHROMIUM          browser binary (default /usr/bin/chromium)
//
// Exits 1 with a message on stderr when a step fails, 2 on bad usage.
import { EXECUTABLE, launchChromium } from './chromium.mjs';
import path from 'node:path';

const {
  START_URL, AUTHORIZE_PREFIX, BUTTON, OUT_DIR,
} = process.env;
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS || 60000);

for (const [name, value] of Object.entries({
  START_URL, AUTHORIZE_PREFIX, BUTTON, OUT_DIR,
})) {
  if (!value) {
    console.error(`quickstart_browser: ${name} must be set`);
    process.exit(2);
  }
}

let browser;
let page;
let step = 'launch';
const steps = [];
const screenshots = {};

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
      const text = (await page.evaluate(() => document.body?.innerText ?? '')).slice(0, 800);
      where = `\n  at: ${page.url()}\n  page text: ${JSON.stringify(text)}`;
      const shot = path.join(OUT_DIR, 'failure.png');
      await page.screenshot({ path: shot, fullPage: true });
      where += `\n  screenshot: ${shot}`;
    }
  } catch {
    // page not readable
  }
  console.error(`quickstart_browser: ${step}: ${message}${where}\n  steps: ${steps.join(' -> ')}`);
  await cleanup();
  process.exit(1);
}

const timer = setTimeout(() => {
  die(`timed out after ${TIMEOUT_MS} ms`);
}, TIMEOUT_MS);

try {
  browser = await launchChromium();
} catch (err) {
  await die(`cannot launch ${EXECUTABLE}: ${err.message.split('\n')[0]}`);
}

const context = await browser.newContext();
page = await context.newPage();
page.setDefaultTimeout(TIMEOUT_MS);
// The last main-frame navigation response (the document shown).
let lastResponse = null;
page.on('framenavigated', (frame) => {
  if (frame === page.mainFrame()) steps.push(frame.url());
});
page.on('response', (response) => {
  const req = response.request();
  if (req.isNavigationRequest() && req.frame() === page.mainFrame()) lastResponse = response;
});

try {
  step = `open ${START_URL}`;
  await page.goto(START_URL, { waitUntil: 'load' });
  step = 'reach the authorize page';
  await page.waitForURL((u) => u.href.startsWith(AUTHORIZE_PREFIX), { waitUntil: 'load' });
  const authorize = {
    url: page.url(),
    status: lastResponse ? lastResponse.status() : null,
    title: await page.title(),
    text: await page.evaluate(() => document.body?.innerText ?? ''),
    buttons: await page.getByRole('button').allInnerTexts(),
  };
  screenshots.authorize = path.join(OUT_DIR, 'quickstart-authorize.png');
  await page.screenshot({ path: screenshots.authorize, fullPage: true });

  step = `click "${BUTTON}"`;
  const button = page.getByRole('button', { name: BUTTON, exact: true });
  if ((await button.count()) !== 1) {
    await die(`expected one button named ${JSON.stringify(BUTTON)}, found ${await button.count()}`);
  }
  await Promise.all([
    page.waitForURL((u) => u.href === START_URL, { waitUntil: 'load' }),
    button.click(),
  ]);

  step = 'read the page';
  const body = lastResponse ? await lastResponse.text() : null;
  const final = {
    url: page.url(),
    status: lastResponse ? lastResponse.status() : null,
    body,
    document_cookie: await page.evaluate(() => document.cookie),
    cookies: (await context.cookies(page.url())).map((c) => ({
      name: c.name,
      value: c.value,
      domain: c.domain,
      path: c.path,
      httpOnly: c.httpOnly,
      secure: c.secure,
      sameSite: c.sameSite,
      expires: c.expires,
    })),
  };
  screenshots.app = path.join(OUT_DIR, 'quickstart-app.png');
  await page.screenshot({ path: screenshots.app, fullPage: true });

  clearTimeout(timer);
  process.stdout.write(`${JSON.stringify({
    authorize, final, steps, screenshots,
  })}\n`);
} catch (err) {
  await die(err.message.split('\n')[0]);
}
await cleanup();
