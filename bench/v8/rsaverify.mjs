// rsaverify.mjs times Node's RSA-2048 PKCS#1 v1.5 SHA-256 check the way
// envoycrypto.mjs makes it (crypto.verify with a cached KeyObject), and the
// DER key parse (createPublicKey) that envoycrypto.mjs caches. No packages.
//
//   node bench/v8/rsaverify.mjs [iterations, default 20000]
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';

const n = Number(process.argv[2] ?? 20000);
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const data = Buffer.alloc(1000, 'a'); // about a token's signing input
const sig = sign('sha256', data, privateKey);
const der = publicKey.export({ format: 'der', type: 'spki' });
const time = (label, f) => {
  for (let i = 0; i < n / 10; i++) f(); // warm-up
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  console.log(`${label}: ${(Number(process.hrtime.bigint() - t) / n / 1000).toFixed(1)} µs`);
};
time('verify, cached KeyObject', () => { if (!verify('sha256', data, publicKey, sig)) throw new Error('no'); });
time('createPublicKey, DER', () => createPublicKey({ key: der, format: 'der', type: 'spki' }));
