// envoycrypto.mjs answers Envoy's verify_signature foreign function the way
// Envoy 1.30 to 1.36 does, with Node's crypto (OpenSSL) instead of
// BoringSSL: the JavaScript twin of host/envoycrypto, which the Go host
// answers with. bench/v8host_test.go holds the two to the same answers.
//
//   - The arguments are a serialized VerifySignatureArguments {string
//     hash_function = 1; bytes public_key = 2; bytes signature = 3; bytes
//     text = 4;}, parsed as protobuf's C++ parser does: the last occurrence
//     of a field wins, a field of another wire type or an unknown number is
//     skipped (field 5, public_key_pem, exists only from 1.37 on), and a
//     malformed encoding (truncation, field number 0 or past 2^29-1, a stray
//     end-group, wire type 6 or 7) or a hash_function that is not UTF-8
//     fails: BadArgument, no result.
//   - Otherwise the status is Ok and the result a serialized
//     VerifySignatureResult {bool result = 1; string error = 2;}.
//   - hash_function: sha1, sha224, sha256, sha384 or sha512, ASCII case
//     ignored; anything else is result false, "<name> is not supported.".
//   - public_key: a DER SubjectPublicKeyInfo (bytes after its first element
//     ignored). No usable key, or one that cannot verify with a digest
//     (Ed25519), is "Failed to initialize digest verify.".
//   - RSA keys verify RSASSA-PKCS1-v1_5 only, EC keys a DER ECDSA-Sig-Value;
//     a signature that does not verify is "Failed to verify digest. Error
//     code: 0"; a valid one result true, no error.
//
// Where the Go host's crypto has limits of its own, this follows it: RSA
// keys under 1024 bits and EC curves other than P-224, P-256, P-384 and
// P-521 do not verify.
//
// One difference of cost, not of answer: Envoy parses the DER key on every
// call, which takes BoringSSL microseconds; Node 20's OpenSSL 3.0 takes
// 110-120 µs (createPublicKey), five times an RSA-2048 verification, so
// this keeps the keys it parsed (by their DER bytes, up to maxKeys) and a
// call costs the verification and the argument handling.

import { Buffer } from 'node:buffer';
import { createPublicKey, verify } from 'node:crypto';

const STATUS_OK = 0, STATUS_BAD_ARGUMENT = 2;
const MSG_INIT_FAILED = 'Failed to initialize digest verify.';
const MSG_VERIFY_FAILED = 'Failed to verify digest. Error code: 0';
const MAX_FIELD_NUMBER = (1 << 29) - 1;
const HASHES = new Set(['sha1', 'sha224', 'sha256', 'sha384', 'sha512']);
const CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1', 'secp224r1']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

// verifySignature answers one call: args is a Buffer; the answer is
// {status, result} (result a Buffer, null with BadArgument).
export function verifySignature(args) {
  const a = parseArguments(args);
  if (a === null) return { status: STATUS_BAD_ARGUMENT, result: null };
  return { status: STATUS_OK, result: encodeResult(check(a)) };
}

function check(a) {
  const hash = a.hash.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  if (!HASHES.has(hash)) return { valid: false, error: a.hash + ' is not supported.' };
  const key = publicKey(a.key);
  if (key === null) return { valid: false, error: MSG_INIT_FAILED };
  let ok = false;
  try {
    ok = verify(hash, a.text, key.ec ? { key: key.key, dsaEncoding: 'der' } : key.key, a.signature);
  } catch {
    ok = false;
  }
  return ok && key.usable ? { valid: true, error: '' } : { valid: false, error: MSG_VERIFY_FAILED };
}

// publicKey reads the first DER element of der as a SubjectPublicKeyInfo:
// {key, ec, usable} for an RSA or EC key, null for anything else.
function publicKey(der) {
  const n = derElementLength(der);
  if (n < 0) return null;
  const id = der.toString('latin1', 0, n);
  let k = parsedKeys.get(id);
  if (k === undefined) {
    k = parsePublicKey(der.subarray(0, n));
    if (parsedKeys.size >= maxKeys) parsedKeys.clear();
    parsedKeys.set(id, k);
  }
  return k;
}

// parsedKeys are the keys publicKey parsed, by their DER bytes.
const parsedKeys = new Map();
const maxKeys = 256;

function parsePublicKey(der) {
  let key;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    return null;
  }
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa': return { key, ec: false, usable: d.modulusLength >= 1024 };
    case 'ec': return CURVES.has(d.namedCurve) ? { key, ec: true, usable: true } : null;
  }
  return null; // Ed25519, X25519, RSA-PSS, DSA: not a key EVP verifies a digest with here
}

// derElementLength returns the length of the DER element at the start of
// b (tag, length, contents), or -1 when b does not start with one.
function derElementLength(b) {
  if (b.length < 2 || (b[0] & 0x1f) === 0x1f) return -1; // multi-byte tags are not SPKI
  let len = b[1], off = 2;
  if (len & 0x80) {
    // Long form, minimal as DER wants it (Go's encoding/asn1 refuses others).
    const n = len & 0x7f;
    if (n === 0 || n > 4 || b.length < 2 + n || b[2] === 0) return -1;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[2 + i];
    if (len < 0x80) return -1;
    off += n;
  }
  return off + len <= b.length ? off + len : -1;
}

// parseArguments decodes VerifySignatureArguments; null when malformed.
function parseArguments(b) {
  const a = { hash: '', key: Buffer.alloc(0), signature: Buffer.alloc(0), text: Buffer.alloc(0) };
  let pos = 0;
  while (pos < b.length) {
    const tag = readTag(b, pos);
    if (tag === null) return null;
    pos = tag.next;
    if (tag.type === 2 && tag.num >= 1 && tag.num <= 4) {
      const v = readBytes(b, pos);
      if (v === null) return null;
      pos = v.next;
      switch (tag.num) {
        case 1:
          try {
            a.hash = utf8.decode(v.bytes);
          } catch {
            return null;
          }
          break;
        case 2: a.key = v.bytes; break;
        case 3: a.signature = v.bytes; break;
        default: a.text = v.bytes;
      }
      continue;
    }
    pos = skipField(b, pos, tag.num, tag.type, 0);
    if (pos < 0) return null;
  }
  return a;
}

// readVarint returns {value, next}, or null for a truncated or overlong
// varint (as protowire: at most 10 bytes, the tenth at most 1).
function readVarint(b, pos) {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= b.length) return null;
    const c = b[pos + i];
    if (i === 9 && c > 1) return null;
    value |= BigInt(c & 0x7f) << BigInt(7 * i);
    if ((c & 0x80) === 0) return { value, next: pos + i + 1 };
  }
  return null;
}

function readTag(b, pos) {
  const v = readVarint(b, pos);
  if (v === null) return null;
  const num = v.value >> 3n;
  if (num < 1n || num > BigInt(MAX_FIELD_NUMBER)) return null;
  return { num: Number(num), type: Number(v.value & 7n), next: v.next };
}

function readBytes(b, pos) {
  const v = readVarint(b, pos);
  if (v === null || v.value > BigInt(b.length - v.next)) return null;
  const end = v.next + Number(v.value);
  return { bytes: b.subarray(v.next, end), next: end };
}

// skipField skips one field's value as protobuf skips an unknown field,
// groups included; it returns the position after it, or -1 when malformed.
function skipField(b, pos, num, type, depth) {
  switch (type) {
    case 0: {
      const v = readVarint(b, pos);
      return v === null ? -1 : v.next;
    }
    case 1: return pos + 8 <= b.length ? pos + 8 : -1;
    case 2: {
      const v = readBytes(b, pos);
      return v === null ? -1 : v.next;
    }
    case 5: return pos + 4 <= b.length ? pos + 4 : -1;
    case 3: {
      if (depth >= 10000) return -1;
      for (;;) {
        const tag = readTag(b, pos);
        if (tag === null) return -1;
        pos = tag.next;
        if (tag.type === 4) return tag.num === num ? pos : -1;
        pos = skipField(b, pos, tag.num, tag.type, depth + 1);
        if (pos < 0) return -1;
      }
    }
  }
  return -1; // a stray end-group, wire types 6 and 7
}

// encodeResult serializes a VerifySignatureResult (proto3: defaults left out).
function encodeResult(r) {
  const parts = [];
  if (r.valid) parts.push(Buffer.from([0x08, 0x01]));
  if (r.error !== '') {
    const e = Buffer.from(r.error, 'utf8');
    parts.push(Buffer.from([0x12]), varint(e.length), e);
  }
  return Buffer.concat(parts);
}

function varint(n) {
  const out = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
