// Test identity provider for the gateway's OIDC tests: node-oidc-provider v9, configured from
// the environment so one test can run several independent issuers.
//
//   PORT            port to listen on (127.0.0.1)                        required
//   ISSUER          issuer URL                          default http://127.0.0.1:$PORT
//   CLIENTS         JSON [{client_id, client_secret?, redirect_uris: [...]}]
//                   with a secret: confidential (client_secret_basic or client_secret_post)
//                   without: public (token_endpoint_auth_method none, PKCE S256 required)
//   ACCOUNTS        JSON {login: {tenant: "<uuid>", groups: [...], email?}}
//   DEFAULT_TENANT  tenant of logins not in ACCOUNTS; unset: no custom:tenantid claim at all
//   SIGNING_KID     kid of the RS256 key generated at start (default k1); restarting with
//                   another kid simulates a key rotation
//   API_AUDIENCE    audience of the JWT access tokens (default urn:tenant-gateway)
//   TOKEN_TTL       lifetime of access and ID tokens in seconds (default 3600)
//
// Login is devInteractions' form: any login, any password; the login becomes `sub`.
// Prints "listening <issuer>" on stdout once it accepts connections.
//
//   npm ci --prefix tests/peers
//   PORT=4010 CLIENTS='[...]' ACCOUNTS='{...}' node tests/peers/oidc-provider.mjs
import { generateKeyPairSync, randomBytes } from 'node:crypto';

// Resolved from the node_modules beside this file (ESM resolves relative to the module).
import Provider, { errors } from 'oidc-provider';

function fail(message) {
  console.error(`oidc-provider.mjs: ${message}`);
  process.exit(2);
}

function jsonEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  try {
    return JSON.parse(raw);
  } catch (err) {
    return fail(`${name} is not valid JSON: ${err.message}`);
  }
}

const PORT = Number(process.env.PORT);
if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) fail('PORT must be set to a port number');
const ISSUER = process.env.ISSUER || `http://127.0.0.1:${PORT}`;
const AUDIENCE = process.env.API_AUDIENCE || 'urn:tenant-gateway';
const TOKEN_TTL = Number(process.env.TOKEN_TTL || 3600);
if (!Number.isInteger(TOKEN_TTL) || TOKEN_TTL <= 0) fail('TOKEN_TTL must be a positive integer');
const SIGNING_KID = process.env.SIGNING_KID || 'k1';
const DEFAULT_TENANT = process.env.DEFAULT_TENANT || undefined;
const ACCOUNTS = jsonEnv('ACCOUNTS', {});
const CLIENTS = jsonEnv('CLIENTS', []);
if (!Array.isArray(CLIENTS)) fail('CLIENTS must be a JSON array');
if (typeof ACCOUNTS !== 'object' || ACCOUNTS === null || Array.isArray(ACCOUNTS)) {
  fail('ACCOUNTS must be a JSON object');
}

// Where a relying party may send the user back to after logout: the origin of each of its
// redirect URIs, plus "/".
function postLogoutUris(redirectUris) {
  const out = new Set();
  for (const uri of redirectUris) {
    try {
      out.add(`${new URL(uri).origin}/`);
    } catch {
      fail(`invalid redirect URI ${JSON.stringify(uri)}`);
    }
  }
  return [...out];
}

const clients = CLIENTS.map((c, i) => {
  if (!c || typeof c.client_id !== 'string' || !c.client_id) fail(`CLIENTS[${i}] has no client_id`);
  if (!Array.isArray(c.redirect_uris) || c.redirect_uris.length === 0) {
    fail(`CLIENTS[${i}] (${c.client_id}) has no redirect_uris`);
  }
  const common = {
    client_id: c.client_id,
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: postLogoutUris(c.redirect_uris),
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  };
  return c.client_secret
    // Registered as client_secret_basic; oidc-provider accepts the secret in the body
    // (client_secret_post) for such a client as well.
    ? { ...common, client_secret: c.client_secret, token_endpoint_auth_method: 'client_secret_basic' }
    : { ...common, token_endpoint_auth_method: 'none' };
});

function accountFor(login) {
  const listed = Object.hasOwn(ACCOUNTS, login) ? ACCOUNTS[login] : undefined;
  const tenant = listed ? listed.tenant : DEFAULT_TENANT;
  return {
    email: listed?.email || `${login}@example.test`,
    groups: Array.isArray(listed?.groups) ? listed.groups : [],
    ...(tenant ? { 'custom:tenantid': tenant } : {}),
  };
}

// The only signing key: fresh at every start, RS256, with the configured kid.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: SIGNING_KID, alg: 'RS256', use: 'sig' };

const provider = new Provider(ISSUER, {
  clients,
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(24).toString('base64url')] },
  // `openid` alone is enough to get every claim, so a relying party that asks for the bare
  // minimum still sees the tenant; `email` and `tenant` scopes are accepted too.
  scopes: ['openid', 'offline_access', 'email', 'profile', 'tenant'],
  claims: {
    openid: ['sub', 'email', 'email_verified', 'custom:tenantid', 'groups'],
    email: ['email', 'email_verified'],
    tenant: ['custom:tenantid', 'groups'],
  },
  // Put the scope's claims in the ID token even though an access token is issued too.
  conformIdTokenClaims: false,
  async findAccount(_ctx, id) {
    const account = accountFor(id);
    return {
      accountId: id,
      async claims() {
        return { sub: id, email_verified: true, ...account };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // Confirm the logout without a click: the form is submitted by script on load; a
      // non-browser client posts the form as it is (xsrf + logout=yes).
      async logoutSource(ctx, form) {
        const autoForm = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/>'
          + '<button type="submit">Sign out</button></form>');
        ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Logout</title></head>
<body>${autoForm}<script>document.getElementById('op.logoutForm').submit()</script></body></html>`;
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signed out</title></head><body>signed out</body></html>';
      },
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => AUDIENCE,
      useGrantedResource: async () => true,
      async getResourceServerInfo(_ctx, resourceIndicator) {
        if (resourceIndicator !== AUDIENCE) throw new errors.InvalidTarget();
        return {
          scope: 'openid email profile tenant offline_access',
          audience: AUDIENCE,
          accessTokenTTL: TOKEN_TTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  async extraTokenClaims(_ctx, token) {
    if (token.kind !== 'AccessToken' && token.kind !== 'ClientCredentials') return undefined;
    const claims = { client_id: token.clientId };
    if (token.scope !== undefined) claims.scope = token.scope;
    if (token.accountId) {
      const { groups, 'custom:tenantid': tenant } = accountFor(token.accountId);
      claims.groups = groups;
      if (tenant) claims['custom:tenantid'] = tenant;
    }
    return claims;
  },
  // Refresh tokens for every client allowed the grant, offline_access asked or not.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
  clientBasedCORS: () => true,
  ttl: {
    AccessToken: TOKEN_TTL,
    IdToken: TOKEN_TTL,
    AuthorizationCode: 600,
    Interaction: 3600,
    Session: 24 * 3600,
    Grant: 24 * 3600,
    RefreshToken: 24 * 3600,
  },
});

// Errors a test wants to see when a flow fails (bad redirect_uri, PKCE, client auth, ...).
for (const event of ['authorization.error', 'grant.error', 'end_session.error', 'introspection.error',
  'revocation.error', 'userinfo.error', 'discovery.error', 'jwks.error', 'server_error']) {
  provider.on(event, (_ctx, err) => {
    console.error(`${event}: ${err.message}${err.error_description ? ` (${err.error_description})` : ''}`);
  });
}

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

const server = provider.listen(PORT, '127.0.0.1', () => console.log(`listening ${ISSUER}`));
server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${PORT}: ${err.message}`));
