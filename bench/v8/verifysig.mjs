// verifysig.mjs answers verify_signature calls with envoycrypto.mjs, for
// bench/v8host_test.go, which holds the answers to host/envoycrypto's.
//
//   node bench/v8/verifysig.mjs < calls.json
//
// Input: a JSON array of base64 argument messages. Output: a JSON array of
// {"status": n, "result": base64 or null}, one per call.

import { readFileSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { verifySignature } from './envoycrypto.mjs';

const calls = JSON.parse(readFileSync(0, 'utf8'));
const answers = calls.map((b64) => {
  const { status, result } = verifySignature(Buffer.from(b64, 'base64'));
  return { status, result: result === null ? null : result.toString('base64') };
});
process.stdout.write(JSON.stringify(answers) + '\n');
