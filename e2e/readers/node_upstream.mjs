// An upstream that reads request paths the way Node applications do:
// new URL(req.url, base), so "\" is "/", "%2E" is ".", "//host/x" names a
// host, and other escapes stay encoded in the pathname (as Express routes
// them). It routes by path segment like the e2e tests' other upstreams and
// answers with what it saw; GET /__seen (sent to it directly) lists every
// request it served. Started by e2e/onereading_test.go; prints one JSON
// line {"ready":true,"port":N} once it listens.
import http from 'node:http';

const seen = [];

function route(path) {
  const under = (p) => path === p || path.startsWith(p + '/');
  if (under('/health')) return 'health';
  if (under('/health-internal')) return 'health-internal';
  if (under('/public')) return 'public';
  if (under('/oidc')) return 'oidc';
  if (under('/api/admin')) return 'api-admin';
  if (under('/api')) return 'api';
  if (path === '/admin' || path === '/admin/') return 'admin';
  if (under('/orders')) return 'orders';
  if (under('/reports')) return 'reports';
  if (under('/staff')) return 'staff';
  return 'other';
}

// The values a CGI-style reader would see as HTTP_X_JWT_SUB: every header
// whose name folds ("_" as "-", any case) to x-jwt-sub.
function jwtSub(rawHeaders) {
  const out = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase().replaceAll('_', '-') === 'x-jwt-sub') out.push(rawHeaders[i + 1]);
  }
  return out;
}

const server = http.createServer((req, res) => {
  if (req.url === '/__seen') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(seen));
    return;
  }
  let path;
  try {
    path = new URL(req.url, 'http://upstream.invalid').pathname;
  } catch {
    res.statusCode = 400;
    res.end('bad url');
    return;
  }
  const hit = { route: route(path), method: req.method.toUpperCase(), path, sub: jwtSub(req.rawHeaders) };
  seen.push(hit);
  req.resume();
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(hit));
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ ready: true, port: server.address().port }));
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
