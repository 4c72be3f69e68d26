// An independent OpenID provider for scopegate's end-to-end tests: panva's
// certified oidc-provider, configured to issue RFC 9068 JWT access tokens
// through the client_credentials grant.
//
// Usage: node server.mjs [port]
// Environment:
//   PORT            listen port on 127.0.0.1 (argv[2] wins; 0 picks a free one)
//   OIDC_ALG        signing algorithm: RS256 (default), PS256, ES256, EdDSA, ...
//   OIDC_KID        key id of the generated signing key (default: random)
//
// Every start generates a fresh signing key, so restarting the process is how
// the tests rotate keys. Once listening it prints one JSON line to stdout:
//   {"ready":true,"issuer":"http://127.0.0.1:PORT","port":PORT,"kid":"...","alg":"..."}
//
// Clients (client_secret_basic or client_secret_post):
//   scopegate-e2e / e2e-secret   scopes: kong_api_access profile_read
//   scopegate-e2e-mtls / e2e-secret   the same, tokens certificate-bound (RFC 8705)
//
// Sender-constrained tokens: a token request with a DPoP header gets a
// DPoP-bound token (RFC 9449, cnf.jkt; ES256 and EdDSA proofs). The server
// speaks plain HTTP, so the tests play the TLS-terminating front for mTLS:
// the client certificate reaches it URL-encoded PEM in x-client-cert (as
// Envoy's XFCC Cert= carries it), and scopegate-e2e-mtls tokens are bound to
// it (cnf.x5t#S256).
// Resource servers (pick with the `resource` token parameter):
//   urn:scopegate:api     audience "scopegate-api", tokens live 300 s (default)
//   urn:scopegate:short   audience "scopegate-api", tokens live 1 s (expiry tests)

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const alg = process.env.OIDC_ALG || 'RS256';
const kid = process.env.OIDC_KID || `e2e-${alg.toLowerCase()}-${randomBytes(6).toString('hex')}`;

// keyFor generates a private signing key for alg and returns it as a JWK.
function keyFor(name) {
  let pair;
  if (/^(RS|PS)\d+$/.test(name)) {
    pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  } else if (name === 'ES256') {
    pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  } else if (name === 'ES384') {
    pair = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  } else if (name === 'ES512') {
    pair = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  } else if (name === 'EdDSA' || name === 'Ed25519') {
    pair = generateKeyPairSync('ed25519');
  } else {
    throw new Error(`unsupported OIDC_ALG ${name}`);
  }
  return { ...pair.privateKey.export({ format: 'jwk' }), kid, alg: name, use: 'sig' };
}

const resourceServers = {
  'urn:scopegate:api': { ttl: 300 },
  'urn:scopegate:short': { ttl: 1 },
};

async function main() {
  // The issuer must be known before listening; with port 0, reserve one first.
  const server = (await import('node:http')).createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actualPort = server.address().port;
  const issuer = `http://127.0.0.1:${actualPort}`;

  const provider = new Provider(issuer, {
    jwks: { keys: [keyFor(alg)] },
    clients: [{
      client_id: 'scopegate-e2e',
      client_secret: 'e2e-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'kong_api_access profile_read',
    }, {
      client_id: 'scopegate-e2e-post',
      client_secret: 'e2e-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'kong_api_access profile_read',
    }, {
      client_id: 'scopegate-e2e-mtls',
      client_secret: 'e2e-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      tls_client_certificate_bound_access_tokens: true,
      scope: 'kong_api_access profile_read',
    }],
    scopes: ['openid', 'kong_api_access', 'profile_read'],
    cookies: { keys: [randomBytes(16).toString('hex')] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      dPoP: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        getCertificate: (ctx) => {
          const pem = ctx.get('x-client-cert');
          return pem ? decodeURIComponent(pem) : undefined;
        },
      },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:scopegate:api',
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator) => {
          const rs = resourceServers[resourceIndicator];
          if (!rs) {
            throw new Provider.errors.InvalidTarget();
          }
          return {
            scope: 'kong_api_access profile_read',
            audience: 'scopegate-api',
            accessTokenTTL: rs.ttl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg } },
          };
        },
      },
    },
    enabledJWA: {
      idTokenSigningAlgValues: [alg],
    },
    ttl: {
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL || 300,
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL || 300,
    },
    clientDefaults: { id_token_signed_response_alg: alg },
  });

  server.on('request', provider.callback());
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`${JSON.stringify({
    ready: true, issuer, port: actualPort, kid, alg,
  })}\n`);
}

main().catch((err) => {
  process.stderr.write(`oidc server: ${err.stack || err}\n`);
  process.exit(1);
});
