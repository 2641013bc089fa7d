// The headless Chromium every browser test drives (Debian's /usr/bin/chromium through
// playwright-core, which never downloads a browser of its own): one set of launch flags.
import { chromium } from 'playwright-core';

export const EXECUTABLE = process.env.CHROMIUM || '/usr/bin/chromium';

// `hostRules`: Chromium's --host-resolver-rules (e.g. "MAP *.gw.test 127.0.0.1"), or empty.
export function launchChromium(hostRules = '') {
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    '--no-proxy-server',
    // Plain-http test hosts must stay plain http.
    '--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable',
  ];
  if (hostRules) args.push(`--host-resolver-rules=${hostRules}`);
  return chromium.launch({ executablePath: EXECUTABLE, headless: true, args });
}
