// A real OpenID Connect provider for the staff sign-in tests: oidc-provider (OpenID
// Certified) with a plain login page and stores the test drives through /test-admin/*.
// Started once per test session by tests/support/oidc_provider.py; never in production.
//
//   PORT=<port> node provider.mjs      -> prints "ready <issuer>" once it listens
//
// /test-admin/accounts  POST {sub: {email, email_verified, name, groups, amr, acr}}:
//                       the provider's accounts (replaces them all)
// /test-admin/clients   POST [{client_id, client_secret, redirect_uris, ...}]: the
//                       registered clients (replaces them all)
// /test-admin/logout-token  POST {client_id, sub, events, nonce}: answers {logout_token},
//                       the back-channel logout token this provider would post to the
//                       client's backchannel_logout_uri (made as oidc-provider's own
//                       Client#backchannelLogout makes it), for the test to post;
//                       events: false or a nonce make one a client must refuse
// /test-admin/tamper    POST {exp_offset, <claim>: <value>, ...}: the next ID token the
//                       token endpoint answers is signed again, with the provider's own
//                       key, with these claims replaced (aud, nonce, iss...) or already
//                       expired (what a broken or hostile provider would send); {} clears it
import http from "node:http";

import * as jose from "jose";
import Provider from "oidc-provider";

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const KID = "test-key-1";

const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
const signingKey = { ...(await jose.exportJWK(privateKey)), kid: KID, alg: "RS256", use: "sig" };

let accounts = new Map();
let clients = new Map();
let tamper = null;

// Everything in memory; clients come from the map the test sets.
const stores = new Map();
class TestAdapter {
  constructor(name) {
    this.name = name;
    if (!stores.has(name)) stores.set(name, new Map());
    this.store = stores.get(name);
  }
  async upsert(id, payload) {
    this.store.set(id, payload);
  }
  async find(id) {
    if (this.name === "Client") return clients.get(id);
    return this.store.get(id);
  }
  async findByUserCode(userCode) {
    return [...this.store.values()].find((p) => p.userCode === userCode);
  }
  async findByUid(uid) {
    return [...this.store.values()].find((p) => p.uid === uid);
  }
  async consume(id) {
    const payload = this.store.get(id);
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id) {
    this.store.delete(id);
  }
  async revokeByGrantId(grantId) {
    for (const [id, payload] of this.store) if (payload.grantId === grantId) this.store.delete(id);
  }
}

const provider = new Provider(issuer, {
  adapter: TestAdapter,
  jwks: { keys: [signingKey] },
  cookies: { keys: ["test-only-cookie-key"] },
  scopes: ["openid", "email", "profile", "groups"],
  claims: {
    // The protocol's own claims first (null: not tied to a scope).
    acr: null,
    amr: null,
    auth_time: null,
    sid: null,
    // amr and acr in every ID token, as Entra ID, Okta and Keycloak send them.
    openid: ["sub", "acr", "amr"],
    email: ["email", "email_verified"],
    profile: ["name"],
    groups: ["groups"],
  },
  // The claims of the asked scopes go in the ID token itself, as Keycloak and Okta do.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  pkce: { required: () => true },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: account.email,
          email_verified: account.email_verified,
          name: account.name,
          groups: account.groups,
        };
      },
    };
  },
  // First-party app: no consent page.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid email profile groups");
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === "/token" && tamper && ctx.body && ctx.body.id_token) {
    const { exp_offset: expOffset, ...replaced } = tamper;
    const claims = { ...jose.decodeJwt(ctx.body.id_token), ...replaced };
    if (expOffset !== undefined) {
      claims.exp = Math.floor(Date.now() / 1000) + expOffset;
      claims.iat = Math.min(claims.iat, claims.exp - 60);
    }
    ctx.body = {
      ...ctx.body,
      id_token: await new jose.SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid: KID })
        .sign(privateKey),
    };
    tamper = null;
  }
});

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

function page(res, status, title, body) {
  res.writeHead(status, { "Content-Type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><html lang="en"><head><title>${title}</title></head><body><main><h1>${title}</h1>${body}</main></body></html>`);
}

async function logoutToken(clientId, sub, { events = true, nonce } = {}) {
  const client = await provider.Client.find(clientId);
  const token = new provider.IdToken({ sub }, { client, ctx: undefined });
  token.mask = { sub: null };
  if (events) token.set("events", { "http://schemas.openid.net/event/backchannel-logout": {} });
  if (nonce) token.set("nonce", nonce);
  token.set("jti", `logout-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  return token.issue({ use: "logout" });
}

async function admin(req, res, path) {
  const body = JSON.parse((await readBody(req)) || "null");
  if (path === "/test-admin/logout-token") {
    const token = await logoutToken(body.client_id, body.sub, body);
    res.writeHead(200, { "Content-Type": "application/json" });
    return res.end(JSON.stringify({ logout_token: token }));
  }
  if (path === "/test-admin/accounts") accounts = new Map(Object.entries(body));
  else if (path === "/test-admin/clients") clients = new Map(body.map((c) => [c.client_id, c]));
  else if (path === "/test-admin/tamper") tamper = Object.keys(body).length ? body : null;
  else return page(res, 404, "Not found", "");
  res.writeHead(204);
  res.end();
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return page(res, 400, "Wrong interaction", "");
  if (req.method === "GET") {
    return page(
      res,
      200,
      "Test provider sign-in",
      `<form method="post" action="/interaction/${uid}/login">
         <label for="login">Account</label> <input id="login" name="login" autocomplete="off">
         <button type="submit">Sign in to the test provider</button>
       </form>`,
    );
  }
  if (action !== "login") return page(res, 404, "Not found", "");
  const login = new URLSearchParams(await readBody(req)).get("login") || "";
  const account = accounts.get(login);
  if (!account) return page(res, 400, "No such account at the test provider", "");
  const result = { login: { accountId: login } };
  if (account.amr) result.login.amr = account.amr;
  if (account.acr) result.login.acr = account.acr;
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
http
  .createServer(async (req, res) => {
    const path = new URL(req.url, issuer).pathname;
    try {
      if (req.method === "POST" && path.startsWith("/test-admin/")) return await admin(req, res, path);
      const match = path.match(/^\/interaction\/([\w-]+)(?:\/(\w+))?$/);
      if (match) return await interaction(req, res, match[1], match[2]);
      return callback(req, res);
    } catch (error) {
      page(res, 500, "Test provider error", `<pre>${String(error).replace(/</g, "&lt;")}</pre>`);
    }
  })
  .listen(port, "127.0.0.1", () => console.log(`ready ${issuer}`));
