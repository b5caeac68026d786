// A real OpenID Connect provider for ehmap's sign-in tests (npm `oidc-provider`), on a loopback port.
//
//   node provider.mjs --port 45678 --accounts accounts.json \
//     --client-id ehmap --client-secret SECRET --redirect-uri http://127.0.0.1:8501/oauth2callback
//
// accounts.json: [{"email": "analyst@example.org", "name": "Ann Analyst", "roles": ["ehmap.analyst"]}, ...].
// An account signs in by its email on the provider's own sign-in page (no password: these are test accounts).
// The ID token carries email, name and the `roles` claim, as Microsoft Entra ID does for app roles. Streamlit
// asks for prompt=select_account, which this provider answers with the same sign-in page.
// Prints "oidc-provider listening on ISSUER" once it accepts connections.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { interactionPolicy } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    accounts: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string' },
  },
});
for (const name of ['port', 'accounts', 'client-id', 'client-secret', 'redirect-uri']) {
  if (!args[name]) {
    console.error(`missing --${name}`);
    process.exit(2);
  }
}

const accounts = new Map(
  JSON.parse(readFileSync(args.accounts, 'utf8')).map((account) => [account.email.toLowerCase(), account]),
);
const issuer = `http://127.0.0.1:${args.port}`;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

// prompt=select_account (Streamlit's default, as Entra ID shows an account picker) is answered by the sign-in page.
const policy = interactionPolicy.base();
policy.add(new interactionPolicy.Prompt({ name: 'select_account', requestable: true }), 0);

const provider = new Provider(issuer, {
  clients: [{
    client_id: args['client-id'],
    client_secret: args['client-secret'],
    redirect_uris: [args['redirect-uri']],
    post_logout_redirect_uris: [args['redirect-uri']],
    response_types: ['code'],
    grant_types: ['authorization_code'],
  }],
  jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'test' }] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: { openid: ['sub', 'roles'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: false, // the claims go into the ID token, which is what Streamlit reads (as Entra ID does)
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { logoutSource, postLogoutSuccessSource: (ctx) => page(ctx, 'Signed out', '') },
  },
  renderError: (ctx, out) => page(ctx, 'Sign-in failed', `<pre>${escape(JSON.stringify(out))}</pre>`),
  interactions: { policy, url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = accounts.get(id);
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: account.email, email_verified: true, name: account.name, roles: account.roles ?? [] };
      },
    };
  },
  async loadExistingGrant(ctx) { // a first-party client: consent is implied, so no consent screen
    const { oidc } = ctx;
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    if (grantId) return oidc.provider.Grant.find(grantId);
    const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});

// The provider's own pages, plain (its defaults load a web font from the internet, which these tests forbid).
function page(ctx, title, body) {
  ctx.type = 'html';
  ctx.body = `<!doctype html><html lang="en"><head><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
}

function logoutSource(ctx, form) {
  page(ctx, 'Sign out of the test identity provider?', `${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
}

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function signInPage(res, uid, problem = '') {
  res.writeHead(problem ? 401 : 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html lang="en"><head><title>Test identity provider: sign in</title></head><body>
<h1>Test identity provider</h1>${problem ? `<p role="alert">${escape(problem)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Email <input type="email" name="email" autofocus required></label>
<button type="submit">Sign in</button></form></body></html>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') return signInPage(res, details.uid);
  const email = (await readForm(req)).get('email')?.trim().toLowerCase() ?? '';
  if (!accounts.has(email)) return signInPage(res, details.uid, `No test account ${email}`);
  const result = { login: { accountId: email } };
  if (details.prompt.name === 'select_account') result.select_account = {};
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((error) => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`interaction failed: ${error.message}`);
    });
  } else {
    callback(req, res);
  }
});
server.listen(Number(args.port), '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
