// A small proxy-wasm host (ABI 0.2.0 / 0.2.1) for Node 20, so scopegate's
// module can be measured in V8, the engine Envoy and Istio run. It hosts one
// plugin the way the Go host in host/ does (a canary VM that is discarded,
// then one worker VM) and enforces the same Envoy rules, reported as
// violations: only Envoy's imports (with their exact types), the ABI's i32
// signatures on the guest's exports, only proxy_log and WASI during
// _initialize, only proxy_log/fd_write/clock_time_get inside the allocator,
// header maps over 1024 pairs or 1 MiB (or malformed) treated as empty,
// proxy_http_call's cluster, pseudo header and timeout rules. A trap (any
// exception out of the guest) fails the VM closed: later requests get 503.
//
// Callouts are answered from memory (the clusters option), after the
// callback that dispatched them returns, as Envoy does on a later event.
// Ticks run on real time: between requests when due, and while a paused
// request waits.
// Header names and values, bodies and buffers are handled as bytes (latin1
// strings in JavaScript), never re-encoded.
//
// Node is the only dependency: no npm package is needed.

import { Buffer } from 'node:buffer';
import { getRandomValues } from 'node:crypto';
import { verifySignature } from './envoycrypto.mjs';

// proxy-wasm status codes.
export const Status = Object.freeze({
  OK: 0, NOT_FOUND: 1, BAD_ARGUMENT: 2, SERIALIZATION_FAILURE: 3, PARSE_FAILURE: 4,
  INVALID_MEMORY_ACCESS: 6, EMPTY: 7, CAS_MISMATCH: 8, INTERNAL_FAILURE: 10, UNIMPLEMENTED: 12,
});

// Rules a violation can name (the same names as host/host.go's Rule* constants).
export const Rule = Object.freeze({
  INIT_CALL: 'initialize-restricted-call',
  ALLOCATOR_CALL: 'allocator-restricted-call',
  HTTP_CALL: 'http-call',
  HEADER_MAP_LIMIT: 'header-map-limit',
  MALFORMED_HEADER_MAP: 'malformed-header-map',
});

const ACTION_CONTINUE = 0;

// Log levels as proxy-wasm numbers them (trace 0 .. critical 5).
export const LogLevel = Object.freeze({ trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5 });

const MAP_REQUEST_HEADERS = 0, MAP_REQUEST_TRAILERS = 1, MAP_RESPONSE_HEADERS = 2,
  MAP_RESPONSE_TRAILERS = 3, MAP_CALLOUT_HEADERS = 6, MAP_CALLOUT_TRAILERS = 7;
const BUFFER_REQUEST_BODY = 0, BUFFER_RESPONSE_BODY = 1, BUFFER_CALLOUT_BODY = 4,
  BUFFER_VM_CONFIG = 6, BUFFER_PLUGIN_CONFIG = 7;

// Envoy's limits for a header map a guest hands over.
const MAX_PAIRS_COUNT = 1024, MAX_PAIRS_BYTES = 1 << 20;
// Envoy's bound on one random_get.
const MAX_RANDOM_GET = 64 << 10;

// WASI errno values.
const ERRNO_SUCCESS = 0, ERRNO_BADF = 8, ERRNO_FAULT = 21, ERRNO_INVAL = 28, ERRNO_NOENT = 44,
  ERRNO_NOSYS = 52, ERRNO_NOTSUP = 58;

// VM phases, for Envoy's call restrictions.
const PHASE_NORMAL = 0, PHASE_INIT = 1, PHASE_ALLOC = 2;

// What Envoy lets a guest call during _initialize, and inside its allocator
// (WASI functions by name, proxy-wasm ones as env.<name>).
const INIT_ALLOWED = new Set(['env.proxy_log', 'fd_write', 'args_sizes_get', 'args_get',
  'environ_sizes_get', 'environ_get', 'fd_prestat_get', 'fd_prestat_dir_name', 'clock_time_get',
  'random_get', 'fd_fdstat_get', 'fd_fdstat_set_flags']);
const ALLOC_ALLOWED = new Set(['env.proxy_log', 'fd_write', 'clock_time_get']);

// The guest exports Envoy looks up, with their i32 parameter and result counts.
const GUEST_SIGNATURES = {
  _initialize: [0, 0], _start: [0, 0], malloc: [1, 1], proxy_on_memory_allocate: [1, 1],
  proxy_on_context_create: [2, 0], proxy_on_vm_start: [2, 1], proxy_on_configure: [2, 1],
  proxy_on_tick: [1, 0], proxy_on_queue_ready: [2, 0],
  proxy_on_request_headers: [3, 1], proxy_on_request_body: [3, 1], proxy_on_request_trailers: [2, 1],
  proxy_on_response_headers: [3, 1], proxy_on_response_body: [3, 1], proxy_on_response_trailers: [2, 1],
  proxy_on_http_call_response: [5, 0], proxy_on_done: [1, 1], proxy_on_log: [1, 0], proxy_on_delete: [1, 0],
};

// A failed VM's answer (Envoy with fail_open=false).
function failDecision() {
  return { continue: false, status: 503, responseHeaders: [['content-type', 'text/plain']], body: 'wasm plugin failed' };
}

// asciiLower lowercases ASCII letters only, as Envoy's LowerCaseString does.
function asciiLower(s) {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  }
  return s;
}

function findHeader(map, key) {
  const k = asciiLower(key);
  for (let i = 0; i < map.length; i++) if (map[i][0] === k) return i;
  return -1;
}

// encodedPairsSize is the serialized size of a header map (0 when empty).
function encodedPairsSize(map) {
  if (map.length === 0) return 0;
  let size = 4 + 8 * map.length;
  for (let i = 0; i < map.length; i++) size += map[i][0].length + map[i][1].length + 2;
  return size;
}

// decodePairs parses the serialized header map of n bytes at base in buf
// (a Buffer; dv a DataView of the same memory): a little-endian u32 count,
// (key length, value length) per pair, then each key and value followed by
// a NUL. It returns {pairs} or {error, tooLarge}.
function decodePairs(buf, dv, base, n) {
  if (n === 0) return { pairs: [] };
  if (n > MAX_PAIRS_BYTES) return { error: 'header map over 1024 pairs or 1 MiB', tooLarge: true };
  if (n < 4) return { error: 'header map shorter than its count' };
  const count = dv.getUint32(base, true);
  if (count > MAX_PAIRS_COUNT) return { error: 'header map over 1024 pairs or 1 MiB', tooLarge: true };
  let off = base + 4 + 8 * count;
  const end = base + n;
  if (off > end) return { error: 'header map sizes run past its end' };
  const pairs = new Array(count);
  for (let i = 0; i < count; i++) {
    const kl = dv.getUint32(base + 4 + 8 * i, true), vl = dv.getUint32(base + 8 + 8 * i, true);
    if (off + kl + 1 + vl + 1 > end) return { error: 'header map entry runs past its end' };
    if (buf[off + kl] !== 0 || buf[off + kl + 1 + vl] !== 0) return { error: 'header map entry not NUL-terminated' };
    const key = asciiLower(latin1Slice.call(buf, off, off + kl));
    off += kl + 1;
    pairs[i] = [key, latin1Slice.call(buf, off, off + vl)];
    off += vl + 1;
  }
  return { pairs };
}

// encodePairs serializes a header map (a Uint8Array; empty for no pairs).
export function encodePairs(map) {
  const out = Buffer.alloc(encodedPairsSize(map));
  if (out.length > 0) writePairs(out, 0, map);
  return out;
}

// writePairs serializes map into buf (a Buffer) at off.
function writePairs(buf, off, map) {
  buf.writeUInt32LE(map.length, off);
  let p = off + 4;
  for (let i = 0; i < map.length; i++) {
    buf.writeUInt32LE(map[i][0].length, p);
    buf.writeUInt32LE(map[i][1].length, p + 4);
    p += 8;
  }
  for (let i = 0; i < map.length; i++) {
    p = writeLatin1(buf, map[i][0], p);
    buf[p++] = 0;
    p = writeLatin1(buf, map[i][1], p);
    buf[p++] = 0;
  }
}

// latin1Slice decodes bytes of a Buffer one character per byte: Buffer's own
// method where Node has it (it skips toString's encoding lookup), else
// toString.
const latin1Slice = Buffer.prototype.latin1Slice ?? function (start, end) { return this.toString('latin1', start, end); };

// writeLatin1 writes s (one byte per character) into buf at p and returns
// the end. Short strings are copied in a loop: Buffer.write costs more than
// the copy below some 32 bytes.
function writeLatin1(buf, s, p) {
  const n = s.length;
  if (n > 32) return p + buf.write(s, p, n, 'latin1');
  for (let i = 0; i < n; i++) buf[p + i] = s.charCodeAt(i);
  return p + n;
}

// --- Module checks (what Envoy refuses at load time) ---

// readSections parses the parts of a wasm binary the checks need: function
// types, imports (with their types) and exported functions (with theirs).
function readSections(bytes) {
  let pos = 8;
  const u32 = () => {
    let result = 0, shift = 0, b;
    do {
      b = bytes[pos++];
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return result;
  };
  const name = () => {
    const len = u32();
    const s = Buffer.from(bytes.buffer, bytes.byteOffset + pos, len).toString('utf8');
    pos += len;
    return s;
  };
  const valTypes = () => {
    const out = [];
    for (let n = u32(); n > 0; n--) out.push({ 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64' }[bytes[pos++]] ?? 'other');
    return out;
  };
  const limits = () => { if (bytes[pos++] & 1) { u32(); } u32(); };
  const types = [], imports = [], funcTypes = [], exports = [];
  while (pos < bytes.length) {
    const id = bytes[pos++];
    const size = u32();
    const end = pos + size;
    if (id === 1) {
      for (let n = u32(); n > 0; n--) {
        pos++; // 0x60
        types.push({ params: valTypes(), results: valTypes() });
      }
    } else if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        const module = name(), field = name(), kind = bytes[pos++];
        if (kind === 0) {
          const t = types[u32()];
          imports.push({ module, name: field, kind: 'function', type: t });
          funcTypes.push(t);
        } else if (kind === 1) { pos++; limits(); imports.push({ module, name: field, kind: 'table' }); }
        else if (kind === 2) { limits(); imports.push({ module, name: field, kind: 'memory' }); }
        else { pos += 2; imports.push({ module, name: field, kind: 'global' }); }
      }
    } else if (id === 3) {
      for (let n = u32(); n > 0; n--) funcTypes.push(types[u32()]);
    } else if (id === 7) {
      for (let n = u32(); n > 0; n--) {
        const field = name(), kind = bytes[pos++], index = u32();
        if (kind === 0) exports.push({ name: field, type: funcTypes[index] });
      }
    }
    pos = end;
  }
  return { imports, exports };
}

const sig = (t) => `${t.params.join(',')}->${t.results.join(',')}`;

// --- Host functions ---

// i32x returns the signature "n i32 -> i32".
const i32x = (n) => Array(n).fill('i32').join(',') + '->i32';

// envFunctions are the proxy-wasm host functions (module env) with their
// signatures; each runs with this bound to the VM.
function envFunctions(abi) {
  const fs = {
    proxy_log: [i32x(3), function (level, ptr, size) {
      const msg = this.readString(ptr, size);
      if (msg === null) return Status.INVALID_MEMORY_ACCESS;
      this.host.log(Math.min(level >>> 0, 5), this.name, msg);
      return Status.OK;
    }],
    proxy_get_status: [i32x(3), function (a, b, c) {
      return this.writeU32(a, 0) && this.writeU32(b, 0) && this.writeU32(c, 0) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    }],
    proxy_set_property: [i32x(4), function (pp, ps, vp, vs) {
      const path = this.readString(pp, ps), val = this.readString(vp, vs);
      if (path === null || val === null) return Status.INVALID_MEMORY_ACCESS;
      this.props.set(propertyKey(path), val);
      return Status.OK;
    }],
    proxy_get_property: [i32x(4), function (pp, ps, rp, rs) {
      const path = this.readString(pp, ps);
      if (path === null) return Status.INVALID_MEMORY_ACCESS;
      const val = this.property(propertyKey(path));
      if (val === null) return Status.NOT_FOUND;
      return this.returnString(val, rp, rs);
    }],
    proxy_send_local_response: [i32x(8), function (status, dp, ds, bp, bs, hp, hs, grpc) {
      const st = this.effectiveStream();
      const body = this.readString(bp, bs);
      // details are only checked, as Envoy does
      if (body === null || !this.inBounds(dp, ds) || !this.inBounds(hp, hs)) return Status.INVALID_MEMORY_ACCESS;
      if (st === null) return Status.BAD_ARGUMENT;
      const pairs = this.guestPairs(hp, hs, 'proxy_send_local_response');
      if (st.local === null) st.local = { continue: false, status: status >>> 0, responseHeaders: pairs, body };
      return Status.OK;
    }],
    proxy_get_shared_data: [i32x(5), function (kp, ks, rp, rs, casp) {
      const key = this.readString(kp, ks);
      if (key === null) return Status.INVALID_MEMORY_ACCESS;
      const e = this.host.shared.get(key);
      if (e === undefined) return Status.NOT_FOUND;
      if (!this.writeU32(casp, e.cas)) return Status.INVALID_MEMORY_ACCESS;
      return this.returnString(e.value, rp, rs);
    }],
    proxy_set_shared_data: [i32x(5), function (kp, ks, vp, vs, cas) {
      const key = this.readString(kp, ks), val = this.readString(vp, vs);
      if (key === null || val === null) return Status.INVALID_MEMORY_ACCESS;
      return this.host.setShared(key, val, cas >>> 0);
    }],
    proxy_register_shared_queue: [i32x(3), function (np, ns, idp) {
      const name = this.readString(np, ns);
      if (name === null) return Status.INVALID_MEMORY_ACCESS;
      const q = this.host.queues;
      let id = q.byName.get(name);
      if (id === undefined) {
        q.items.push([]);
        id = q.items.length;
        q.byName.set(name, id);
      }
      q.owner.set(id, this);
      return this.writeU32(idp, id) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    }],
    proxy_resolve_shared_queue: [i32x(5), function (vp, vs, np, ns, idp) {
      const name = this.readString(np, ns);
      if (name === null) return Status.INVALID_MEMORY_ACCESS;
      const id = this.host.queues.byName.get(name);
      if (id === undefined) return Status.NOT_FOUND;
      return this.writeU32(idp, id) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    }],
    proxy_dequeue_shared_queue: [i32x(3), function (id, rp, rs) {
      const items = this.host.queues.items[id - 1];
      if (items === undefined) return Status.NOT_FOUND;
      if (items.length === 0) return Status.EMPTY;
      return this.returnString(items.shift(), rp, rs);
    }],
    proxy_enqueue_shared_queue: [i32x(3), function (id, dp, ds) {
      const data = this.readString(dp, ds);
      if (data === null) return Status.INVALID_MEMORY_ACCESS;
      const q = this.host.queues, items = q.items[id - 1];
      if (items === undefined) return Status.NOT_FOUND;
      items.push(data);
      const owner = q.owner.get(id);
      if (owner) owner.pending.push(() => owner.callOn(owner.rootID, 'proxy_on_queue_ready', owner.rootID, id));
      return Status.OK;
    }],
    proxy_get_header_map_value: [i32x(5), function (mt, kp, ks, rp, rs) {
      const map = this.headerMap(mt);
      if (!this.inBounds(kp, ks)) return Status.INVALID_MEMORY_ACCESS;
      if (map === null) return Status.NOT_FOUND;
      const i = this.keyIndex(map, kp, ks, 0);
      if (i < 0) return Status.NOT_FOUND;
      return this.returnString(map[i][1], rp, rs);
    }],
    proxy_add_header_map_value: [i32x(5), function (mt, kp, ks, vp, vs) {
      const map = this.headerMap(mt);
      const key = this.readString(kp, ks), val = this.readString(vp, vs);
      if (key === null || val === null) return Status.INVALID_MEMORY_ACCESS;
      if (map === null) return Status.BAD_ARGUMENT;
      map.push([asciiLower(key), val]);
      map.encoded = null;
      return Status.OK;
    }],
    proxy_replace_header_map_value: [i32x(5), function (mt, kp, ks, vp, vs) {
      const map = this.headerMap(mt);
      const val = this.readString(vp, vs);
      if (val === null || !this.inBounds(kp, ks)) return Status.INVALID_MEMORY_ACCESS;
      if (map === null) return Status.BAD_ARGUMENT;
      map.encoded = null;
      const i = this.keyIndex(map, kp, ks, 0);
      if (i < 0) {
        map.push([asciiLower(this.readString(kp, ks)), val]);
        return Status.OK;
      }
      map[i] = [map[i][0], val];
      // Later values of the header go: replace leaves one.
      this.removeKey(map, kp, ks, i + 1);
      return Status.OK;
    }],
    proxy_remove_header_map_value: [i32x(3), function (mt, kp, ks) {
      const map = this.headerMap(mt);
      if (!this.inBounds(kp, ks)) return Status.INVALID_MEMORY_ACCESS;
      if (map === null) return Status.BAD_ARGUMENT;
      this.removeKey(map, kp, ks, 0);
      return Status.OK;
    }],
    proxy_get_header_map_pairs: [i32x(3), function (mt, rp, rs) {
      const map = this.headerMap(mt);
      if (map === null || map.length === 0) return this.returnEmpty(rp, rs);
      // A request's headers as the proxy received them are serialized once
      // (as Envoy's map copy is a memcpy, not a per-string encode).
      const encoded = map.encoded;
      const size = encoded ? encoded.length : encodedPairsSize(map);
      const p = this.alloc(size);
      if (p === 0 || p + size > this.u8.length) return Status.INVALID_MEMORY_ACCESS;
      if (encoded) this.u8.set(encoded, p);
      else writePairs(this.buf, p, map);
      return this.writeU32(rp, p) && this.writeU32(rs, size) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    }],
    proxy_set_header_map_pairs: [i32x(3), function (mt, dp, ds) {
      const map = this.headerMap(mt);
      if (!this.inBounds(dp, ds)) return Status.INVALID_MEMORY_ACCESS;
      if (map === null) return Status.BAD_ARGUMENT;
      const pairs = this.guestPairs(dp, ds, 'proxy_set_header_map_pairs');
      map.encoded = null;
      map.length = 0;
      for (const p of pairs) map.push(p);
      return Status.OK;
    }],
    proxy_get_header_map_size: [i32x(2), function (mt, rp) {
      const map = this.headerMap(mt);
      if (map === null) return Status.NOT_FOUND;
      return this.writeU32(rp, encodedPairsSize(map)) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    }],
    proxy_get_buffer_status: [i32x(3), function (bt, lp, fp) {
      const b = this.buffer(bt);
      if (b === null) return Status.NOT_FOUND;
      return this.writeU32(lp, b.get().length) && this.writeU32(fp, 0) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    }],
    proxy_get_buffer_bytes: [i32x(5), function (bt, start, max, rp, rs) {
      const b = this.buffer(bt);
      if (b === null) return Status.NOT_FOUND;
      const data = b.get();
      const from = start >>> 0;
      if (from > data.length) return this.returnEmpty(rp, rs);
      return this.returnString(data.slice(from, Math.min(from + (max >>> 0), data.length)), rp, rs);
    }],
    proxy_set_buffer_bytes: [i32x(5), function (bt, start, size, dp, ds) {
      if (bt !== BUFFER_REQUEST_BODY && bt !== BUFFER_RESPONSE_BODY) return Status.BAD_ARGUMENT;
      const b = this.buffer(bt);
      const data = this.readString(dp, ds);
      if (data === null) return Status.INVALID_MEMORY_ACCESS;
      if (b === null) return Status.NOT_FOUND;
      const cur = b.get();
      const from = start >>> 0;
      if (from > cur.length) return Status.BAD_ARGUMENT;
      b.set(cur.slice(0, from) + data + cur.slice(Math.min(from + (size >>> 0), cur.length)));
      return Status.OK;
    }],
    proxy_http_call: [i32x(10), function (up, us, hp, hs, bp, bs, tp, ts, timeout, tokenp) {
      const cluster = this.readString(up, us), body = this.readString(bp, bs);
      if (cluster === null || body === null || !this.inBounds(hp, hs) || !this.inBounds(tp, ts)) return Status.INVALID_MEMORY_ACCESS;
      if (!this.writeU32(tokenp, 0)) return Status.INVALID_MEMORY_ACCESS;
      const headers = this.guestPairs(hp, hs, 'proxy_http_call headers');
      this.guestPairs(tp, ts, 'proxy_http_call trailers');
      const answer = this.host.clusters[cluster];
      const problems = [];
      if (answer === undefined) problems.push(`unknown cluster ${JSON.stringify(cluster)}`);
      for (const p of [':method', ':path', ':authority']) {
        const i = findHeader(headers, p);
        if (i < 0 || headers[i][1] === '') problems.push('missing ' + p);
      }
      if ((timeout >>> 0) === 0) problems.push('no timeout (0 means none; Envoy needs > 0)');
      if (problems.length > 0) {
        this.host.violation(this.name, Rule.HTTP_CALL, 'proxy_http_call: ' + problems.join(', '));
        return Status.BAD_ARGUMENT;
      }
      const token = ++this.nextToken;
      this.writeU32(tokenp, token);
      this.host.callouts++;
      this.pending.push(() => this.deliverCallout(token, answer(headers, body)));
      return Status.OK;
    }],
    proxy_grpc_call: [i32x(12), noGRPC],
    proxy_grpc_stream: [i32x(9), noGRPC],
    proxy_grpc_close: [i32x(1), noGRPC],
    proxy_grpc_cancel: [i32x(1), noGRPC],
    proxy_grpc_send: [i32x(4), noGRPC],
    proxy_set_tick_period_milliseconds: [i32x(1), function (ms) {
      this.tickPeriodMs = ms >>> 0;
      this.lastTick = performance.now();
      return Status.OK;
    }],
    proxy_get_current_time_nanoseconds: [i32x(1), function (p) {
      return this.writeU64(p, realtimeNanos()) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    }],
    proxy_define_metric: [i32x(4), function (kind, np, ns, idp) {
      const name = this.readString(np, ns);
      if (name === null) return Status.INVALID_MEMORY_ACCESS;
      if ((kind >>> 0) > 2) return Status.BAD_ARGUMENT;
      const m = this.host.metrics;
      let id = m.byName.get(name);
      if (id !== undefined && m.byID[id - 1].kind !== kind) return Status.BAD_ARGUMENT;
      if (id === undefined) {
        m.byID.push({ name, kind, value: 0, count: 0, sum: 0 });
        id = m.byID.length;
        m.byName.set(name, id);
      }
      return this.writeU32(idp, id) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    }],
    proxy_increment_metric: ['i32,i64->i32', function (id, offset) {
      const m = this.host.metrics.byID[id - 1];
      if (m === undefined) return Status.NOT_FOUND;
      const d = Number(offset);
      if (m.kind === 1 || (m.kind === 0 && d >= 0)) {
        m.value += d;
        return Status.OK;
      }
      return Status.BAD_ARGUMENT;
    }],
    proxy_record_metric: ['i32,i64->i32', function (id, value) {
      const m = this.host.metrics.byID[id - 1];
      if (m === undefined) return Status.NOT_FOUND;
      const v = Number(BigInt.asUintN(64, value));
      if (m.kind === 0) m.value = Math.max(m.value, v);
      else if (m.kind === 1) m.value = v;
      else { m.count++; m.sum += v; }
      return Status.OK;
    }],
    proxy_get_metric: [i32x(2), function (id, rp) {
      const m = this.host.metrics.byID[id - 1];
      if (m === undefined) return Status.NOT_FOUND;
      if (m.kind === 2) return Status.BAD_ARGUMENT;
      return this.writeU64(rp, BigInt.asUintN(64, BigInt(m.value))) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    }],
    proxy_set_effective_context: [i32x(1), function (id) {
      if (id === this.rootID) {
        this.effective = id;
        return Status.OK;
      }
      const st = this.stream(id);
      if (st === null || st.ended) return Status.BAD_ARGUMENT;
      this.effective = id;
      return Status.OK;
    }],
    proxy_done: [i32x(0), () => Status.OK],
    // Envoy 1.30+'s verify_signature (envoycrypto.mjs), as the Go host
    // answers it by default; verifySignature: 'absent' plays an older Envoy.
    // As in proxy-wasm-cpp-host, a found function's answer goes through the
    // guest allocator and the result slots are written whatever its status.
    proxy_call_foreign_function: [i32x(6), function (np, ns, ap, as, rp, rs) {
      const name = this.readString(np, ns);
      if (name === null || !this.inBounds(ap, as)) return Status.INVALID_MEMORY_ACCESS;
      if (this.host.verifySignature === 'absent' || name !== 'verify_signature') return Status.NOT_FOUND;
      const { status, result } = verifySignature(Buffer.from(this.u8.subarray(ap, ap + as)));
      if (status !== Status.OK) return this.returnEmpty(rp, rs) === Status.OK ? status : Status.INVALID_MEMORY_ACCESS;
      return this.returnBytes(result, rp, rs);
    }],
    proxy_continue_stream: [i32x(1), function (streamType) {
      const st = this.effectiveStream();
      if (st === null || (streamType >>> 0) > 1) return Status.BAD_ARGUMENT;
      st.continued = true;
      return Status.OK;
    }],
    proxy_close_stream: [i32x(1), function () {
      const st = this.effectiveStream();
      if (st === null) return Status.BAD_ARGUMENT;
      st.reset = true;
      return Status.OK;
    }],
    // Emscripten helpers Envoy registers for every module.
    pthread_equal: [i32x(2), (a, b) => (a === b ? 1 : 0)],
    emscripten_notify_memory_growth: ['i32->', () => {}],
  };
  if (abi === '0.2.1') {
    fs.proxy_get_log_level = [i32x(1), function (p) {
      return this.writeU32(p, this.host.logLevel) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
    }];
  }
  return fs;
}

function noGRPC() { return Status.BAD_ARGUMENT; }

// propertyKey turns a NUL-separated property path into a dotted name.
function propertyKey(path) {
  return path.replace(/\0+$/, '').split('\0').join('.');
}

// wasiFunctions are exactly the WASI functions Envoy 1.33 provides,
// answering as Envoy does (most file functions are stubs).
function wasiFunctions() {
  return {
    fd_write: [i32x(4), function (fd, iovs, n, wp) {
      let level;
      if (fd === 1) level = LogLevel.info;
      else if (fd === 2) level = LogLevel.error;
      else return ERRNO_BADF;
      let out = '';
      for (let i = 0; i < n >>> 0; i++) {
        const p = this.readU32(iovs + 8 * i), size = this.readU32(iovs + 8 * i + 4);
        if (p === null || size === null) return ERRNO_FAULT;
        const s = this.readString(p, size);
        if (s === null) return ERRNO_FAULT;
        out += s;
      }
      if (out.length > 0) this.host.log(level, this.name, out.replace(/\n$/, ''));
      return this.writeU32(wp, out.length) ? ERRNO_SUCCESS : ERRNO_FAULT;
    }],
    fd_read: [i32x(4), () => ERRNO_NOSYS],
    fd_seek: ['i32,i64,i32,i32->i32', function () {
      this.host.log(LogLevel.error, this.name, 'wasi_unstable fd_seek');
      return ERRNO_SUCCESS;
    }],
    fd_close: [i32x(1), function () {
      this.host.log(LogLevel.error, this.name, 'wasi_unstable fd_close');
      return ERRNO_SUCCESS;
    }],
    fd_fdstat_get: [i32x(2), function (fd, p) {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      if (!this.inBounds(p, 24)) return ERRNO_FAULT;
      this.u8.fill(0, p, p + 24);
      this.u8[p + 8] = 64; // fs_rights_base: fd_write
      return ERRNO_SUCCESS;
    }],
    fd_fdstat_set_flags: [i32x(2), () => ERRNO_NOSYS],
    environ_get: [i32x(2), () => ERRNO_SUCCESS],
    environ_sizes_get: [i32x(2), zeroSizes],
    args_get: [i32x(2), () => ERRNO_SUCCESS],
    args_sizes_get: [i32x(2), zeroSizes],
    clock_time_get: ['i32,i64,i32->i32', function (id, precision, p) {
      let t;
      if (id === 0) t = realtimeNanos();
      else if (id === 1) t = Math.round(performance.now() * 1e6) + 1;
      else return ERRNO_NOTSUP;
      return this.writeU64(p, t) ? ERRNO_SUCCESS : ERRNO_FAULT;
    }],
    random_get: [i32x(2), function (p, n) {
      if ((n >>> 0) > MAX_RANDOM_GET) return ERRNO_INVAL;
      if (n === 0) return ERRNO_SUCCESS;
      if (!this.inBounds(p, n)) return ERRNO_FAULT;
      getRandomValues(this.u8.subarray(p, p + n));
      return ERRNO_SUCCESS;
    }],
    sched_yield: [i32x(0), () => ERRNO_SUCCESS],
    poll_oneoff: [i32x(4), function (inp, outp, n, neventsp) {
      if (this.host.pollOneoff !== 'no-events') return ERRNO_NOSYS;
      return this.writeU32(neventsp, 0) ? ERRNO_SUCCESS : ERRNO_FAULT;
    }],
    proc_exit: ['i32->', function (code) {
      this.host.log(LogLevel.error, this.name, 'wasi_unstable proc_exit');
      throw new Error(`proc_exit(${code})`);
    }],
    path_open: ['i32,i32,i32,i32,i32,i64,i64,i32,i32->i32', () => ERRNO_NOENT],
    fd_prestat_get: [i32x(2), () => ERRNO_BADF],
    fd_prestat_dir_name: [i32x(3), () => ERRNO_NOSYS],
  };
}

function zeroSizes(a, b) {
  return this.writeU32(a, 0) && this.writeU32(b, 0) ? ERRNO_SUCCESS : ERRNO_FAULT;
}

// --- VMs and streams ---

// RestrictedCall is thrown (trapping the VM) for a forbidden host call, as
// V8's "restricted_callback" trap in Envoy.
class RestrictedCall extends Error {}

class Stream {
  constructor(id, headers, body, remoteAddr) {
    this.id = id;
    this.reqHeaders = headers;
    this.reqTrailers = [];
    this.reqBody = body;
    this.remoteAddr = remoteAddr;
    this.respStarted = false;
    this.respHeaders = [];
    this.respTrailers = [];
    this.respBody = '';
    this.continued = false; // continue_stream was called in the current phase
    this.local = null; // send_local_response's decision
    this.reset = false; // close_stream was called
    this.ended = false; // on_delete has run
  }
}

// VM is one instance of the module: the canary or the worker.
class VM {
  constructor(host, name) {
    this.host = host;
    this.name = name;
    this.phase = PHASE_NORMAL;
    this.failed = false;
    this.failReason = '';
    this.rootID = 0;
    this.nextID = 1;
    this.effective = 0;
    // Live streams: a short array, not a Map. A Map whose size keeps
    // returning to zero reorganises itself on every insert and delete
    // (about 0.5 µs a request in Node 20's V8).
    this.streams = [];
    this.props = new Map();
    this.starting = false;
    this.calloutResp = null;
    this.nextToken = 0;
    this.ended = 0;
    this.tickPeriodMs = 0;
    this.lastTick = 0; // performance.now() of the last tick (or of setting the period)
    this.pending = []; // callouts and queue notifications to deliver after the current callback
    this.buf = null; // Buffer over the linear memory, renewed when it grows
    this.u8 = null;
    this.dv = null;
  }

  async instantiate() {
    const imports = {};
    const bind = (moduleName, fns) => {
      const out = {};
      for (const [name, [, fn]] of Object.entries(fns)) {
        const key = moduleName === 'env' ? 'env.' + name : name;
        const full = moduleName + '.' + name;
        const vm = this;
        // Envoy's call restrictions are checked only outside the normal phase.
        out[name] = function (a, b, c, d, e, f, g, h, i, j, k, l) {
          if (vm.phase !== PHASE_NORMAL) vm.checkRestricted(key, full);
          if (vm.host.calls !== null) vm.host.count(full);
          return fn.call(vm, a, b, c, d, e, f, g, h, i, j, k, l);
        };
      }
      imports[moduleName] = out;
    };
    bind('env', this.host.env);
    bind('wasi_snapshot_preview1', this.host.wasi);
    bind('wasi_unstable', this.host.wasi);
    this.instance = await WebAssembly.instantiate(this.host.module, imports);
    this.exports = this.instance.exports;
    this.memory = this.exports.memory;
    this.allocator = this.exports.malloc ?? this.exports.proxy_on_memory_allocate;
    this.refresh();
  }

  checkRestricted(key, full) {
    if (this.phase === PHASE_INIT) {
      if (INIT_ALLOWED.has(key) || (key === 'poll_oneoff' && this.host.pollOneoff === 'no-events')) return;
      const msg = `${full} called during _initialize (Envoy allows only proxy_log and WASI there)`;
      this.host.violation(this.name, Rule.INIT_CALL, msg);
      throw new RestrictedCall('restricted_callback: ' + msg);
    }
    if (this.phase === PHASE_ALLOC && !ALLOC_ALLOWED.has(key)) {
      const msg = `${full} called inside the allocator (Envoy allows only proxy_log, fd_write, clock_time_get there)`;
      this.host.violation(this.name, Rule.ALLOCATOR_CALL, msg);
      throw new RestrictedCall('restricted_callback: ' + msg);
    }
  }

  // refresh renews the views of linear memory after it grew (the old
  // ArrayBuffer is detached then).
  refresh() {
    const b = this.memory.buffer;
    if (this.u8 === null || this.u8.buffer !== b) {
      this.buf = Buffer.from(b);
      this.u8 = this.buf;
      this.dv = new DataView(b);
    }
  }

  // inBounds reports whether [p, p+n) lies in linear memory. A view of a
  // memory that grew since is detached (length 0): renew it then.
  // Wasm passes i32s to JavaScript signed: a negative p or n is an address
  // or size of 2 GiB or more, past any memory Envoy allows.
  inBounds(p, n) {
    if (this.u8.length === 0) this.refresh();
    return p >= 0 && n >= 0 && p + n <= this.u8.length;
  }

  // keyIndex returns the index of the first pair at or after from whose
  // name equals the n key bytes at p, ASCII case folded (names in the maps
  // are lower case), or -1. The key is compared in place: no string.
  keyIndex(map, p, n, from) {
    for (let i = from; i < map.length; i++) if (this.keyIs(map[i][0], p, n)) return i;
    return -1;
  }

  keyIs(name, p, n) {
    if (name.length !== n) return false;
    const u8 = this.u8;
    for (let j = 0; j < n; j++) {
      let c = u8[p + j];
      if (c >= 65 && c <= 90) c += 32;
      if (c !== name.charCodeAt(j)) return false;
    }
    return true;
  }

  // removeKey drops the pairs at or after from named like the key at p.
  removeKey(map, p, n, from) {
    let i = this.keyIndex(map, p, n, from);
    if (i < 0) return;
    map.encoded = null;
    let w = i;
    for (; i < map.length; i++) if (!this.keyIs(map[i][0], p, n)) map[w++] = map[i];
    map.length = w;
  }

  // readString returns the n bytes at p as a latin1 string (one character
  // per byte), or null when they are out of bounds.
  readString(p, n) {
    if (n === 0) return '';
    if (!this.inBounds(p, n)) return null;
    return latin1Slice.call(this.buf, p, p + n);
  }

  readU32(p) {
    if (!this.inBounds(p, 4)) return null;
    return this.dv.getUint32(p, true);
  }

  writeU32(p, x) {
    if (!this.inBounds(p, 4)) return false;
    this.dv.setUint32(p, x, true);
    return true;
  }

  // writeU64 writes x, a non-negative Number (exact up to 2^53) or a BigInt.
  writeU64(p, x) {
    if (!this.inBounds(p, 8)) return false;
    if (typeof x === 'bigint') {
      this.dv.setBigUint64(p, x, true);
    } else {
      this.dv.setUint32(p, x % 4294967296, true);
      this.dv.setUint32(p + 4, Math.floor(x / 4294967296), true);
    }
    return true;
  }

  // alloc calls the guest allocator under Envoy's allocator restrictions.
  alloc(size) {
    if (this.host.calls !== null) this.host.count('guest allocator');
    const prev = this.phase;
    this.phase = PHASE_ALLOC;
    let p;
    try {
      p = this.allocator(size) >>> 0;
    } finally {
      this.phase = prev;
    }
    this.refresh();
    return p;
  }

  returnEmpty(rp, rs) {
    return this.writeU32(rp, 0) && this.writeU32(rs, 0) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
  }

  // returnString hands data (a latin1 string) to the guest: one allocation,
  // a copy, and the pointer and size written to the return slots.
  returnString(s, rp, rs) {
    const n = s.length;
    if (n === 0) return this.returnEmpty(rp, rs);
    const p = this.alloc(n);
    if (p === 0 || p + n > this.u8.length) return Status.INVALID_MEMORY_ACCESS;
    writeLatin1(this.buf, s, p);
    return this.writeU32(rp, p) && this.writeU32(rs, n) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
  }

  // returnBytes hands data (a Buffer) to the guest, as returnString does.
  returnBytes(b, rp, rs) {
    const n = b.length;
    if (n === 0) return this.returnEmpty(rp, rs);
    const p = this.alloc(n);
    if (p === 0 || p + n > this.u8.length) return Status.INVALID_MEMORY_ACCESS;
    this.u8.set(b, p);
    return this.writeU32(rp, p) && this.writeU32(rs, n) ? Status.OK : Status.INVALID_MEMORY_ACCESS;
  }

  // guestPairs decodes the map of n bytes at p the guest handed over (in
  // bounds), with lowercased names. Envoy turns a map over its limits, or a
  // malformed one, into an empty map without telling the guest; the host
  // does the same and reports it.
  guestPairs(p, n, where) {
    const r = decodePairs(this.buf, this.dv, p, n);
    if (r.error) {
      const rule = r.tooLarge ? Rule.HEADER_MAP_LIMIT : Rule.MALFORMED_HEADER_MAP;
      const detail = r.tooLarge ? `${where}: header map over 1024 pairs or 1 MiB, treated as empty` : `${where}: ${r.error}, treated as empty`;
      this.host.violation(this.name, rule, detail);
      return [];
    }
    return r.pairs;
  }

  effectiveStream() {
    if (this.effective === this.rootID) return null;
    return this.stream(this.effective);
  }

  stream(id) {
    const streams = this.streams;
    for (let i = 0; i < streams.length; i++) if (streams[i].id === id) return streams[i];
    return null;
  }

  // calloutAnswer is the callout response the effective context can see:
  // only the root context that receives it.
  calloutAnswer() {
    return this.effective === this.rootID ? this.calloutResp : null;
  }

  headerMap(mt) {
    if (mt === MAP_CALLOUT_HEADERS) return this.calloutAnswer()?.headers ?? null;
    if (mt === MAP_CALLOUT_TRAILERS) return this.calloutAnswer()?.trailers ?? null;
    const st = this.effectiveStream();
    if (st === null) return null;
    switch (mt) {
      case MAP_REQUEST_HEADERS: return st.reqHeaders;
      case MAP_REQUEST_TRAILERS: return st.reqTrailers;
      case MAP_RESPONSE_HEADERS: return st.respStarted ? st.respHeaders : null;
      case MAP_RESPONSE_TRAILERS: return st.respStarted ? st.respTrailers : null;
    }
    return null;
  }

  // buffer returns {get, set} for a buffer of the effective context, or null.
  buffer(bt) {
    switch (bt) {
      case BUFFER_VM_CONFIG: return { get: () => this.host.vmConfig };
      case BUFFER_PLUGIN_CONFIG:
        // Envoy exposes the plugin configuration only while the plugin starts.
        return this.starting ? { get: () => this.host.pluginConfig } : null;
      case BUFFER_CALLOUT_BODY: {
        const r = this.calloutAnswer();
        return r === null ? null : { get: () => r.body };
      }
    }
    const st = this.effectiveStream();
    if (st === null) return null;
    if (bt === BUFFER_REQUEST_BODY) return { get: () => st.reqBody, set: (v) => { st.reqBody = v; } };
    if (bt === BUFFER_RESPONSE_BODY) return { get: () => st.respBody, set: (v) => { st.respBody = v; } };
    return null;
  }

  property(key) {
    if (this.props.has(key)) return this.props.get(key);
    switch (key) {
      case 'plugin_name': return this.host.pluginName;
      case 'plugin_root_id': return this.host.rootIDName;
      case 'plugin_vm_id': return '';
      // Envoy's bootstrap Node message (id = 1, cluster = 2), serialized,
      // with the Go host's values: the filter asks for it to tell Envoy
      // from proxies whose foreign functions trap.
      case 'xds.node': return XDS_NODE;
    }
    const st = this.effectiveStream();
    if (st === null) return null;
    const header = (k) => {
      const i = findHeader(st.reqHeaders, k);
      return i < 0 ? '' : st.reqHeaders[i][1];
    };
    switch (key) {
      case 'request.path': return header(':path');
      case 'request.url_path': return header(':path').split('?')[0];
      case 'request.method': return header(':method');
      case 'request.host': return header(':authority');
      case 'request.scheme': return header(':scheme');
      case 'request.protocol': return 'HTTP/1.1';
      case 'request.id': {
        const i = findHeader(st.reqHeaders, 'x-request-id');
        return i < 0 ? null : st.reqHeaders[i][1];
      }
      case 'source.address': return st.remoteAddr || null;
      case 'response.code': {
        if (!st.respStatus) return null;
        const b = Buffer.alloc(8);
        b.writeBigUInt64LE(BigInt(st.respStatus));
        return b.toString('latin1');
      }
    }
    return null;
  }

  // call invokes a guest export; a missing export returns 0. Any exception
  // out of the guest traps the VM: it fails closed from then on.
  call(name, a, b, c, d, e) {
    if (this.failed) throw new VMFailed();
    const f = this.exports[name];
    if (f === undefined) return 0;
    try {
      const r = f(a, b, c, d, e);
      return r === undefined ? 0 : r >>> 0;
    } catch (err) {
      this.fail(name, err);
      throw new VMFailed();
    }
  }

  // callOn calls an export with ctxID as the effective context, as Envoy does.
  callOn(ctxID, name, a, b, c, d, e) {
    const prev = this.effective;
    this.effective = ctxID;
    try {
      return this.call(name, a, b, c, d, e);
    } finally {
      this.effective = prev;
    }
  }

  fail(fn, err) {
    if (this.failed) return;
    this.failed = true;
    this.failReason = `Function: ${fn} failed: ${err && err.message ? err.message : err}`;
    this.host.traps++;
    this.host.log(LogLevel.critical, this.name, 'Plugin Crash: ' + this.failReason);
  }

  // start runs Envoy's start sequence: _initialize (restricted), root
  // context create, on_vm_start, on_configure.
  start() {
    this.phase = PHASE_INIT;
    try {
      if (this.exports._initialize) this.call('_initialize');
      else if (this.exports._start) this.call('_start');
    } finally {
      this.phase = PHASE_NORMAL;
    }
    this.rootID = this.nextID++;
    this.callOn(this.rootID, 'proxy_on_context_create', this.rootID, 0);
    this.starting = true;
    try {
      if (this.exports.proxy_on_vm_start &&
          this.callOn(this.rootID, 'proxy_on_vm_start', this.rootID, this.host.vmConfig.length) === 0) {
        throw new Error('proxy_on_vm_start returned false (Envoy rejects the VM)');
      }
      if (this.exports.proxy_on_configure &&
          this.callOn(this.rootID, 'proxy_on_configure', this.rootID, this.host.pluginConfig.length) === 0) {
        throw new Error('proxy_on_configure returned false (Envoy rejects the plugin configuration)');
      }
    } finally {
      this.starting = false;
    }
    this.drain();
  }

  // deliverCallout runs proxy_on_http_call_response on the root context; a
  // null answer is a failed call, delivered as (0, 0, 0).
  deliverCallout(token, answer) {
    const resp = answer ? {
      headers: [[':status', String(answer.status)], ...(answer.headers ?? []).map(([k, v]) => [asciiLower(k), v])],
      body: answer.body ?? '',
      trailers: [],
    } : { headers: [], body: '', trailers: [] };
    this.calloutResp = resp;
    try {
      this.callOn(this.rootID, 'proxy_on_http_call_response', this.rootID, token,
        resp.headers.length, resp.body.length, resp.trailers.length);
    } finally {
      this.calloutResp = null;
    }
  }

  // drain delivers what the last callback scheduled (callouts, queue
  // notifications), as the proxy's event loop would afterwards.
  drain() {
    while (this.pending.length > 0 && !this.failed) this.pending.shift()();
  }

  // request runs one request: context create, on_request_headers (and
  // on_request_body when there is a body), waiting through pauses while
  // callouts are answered, then on_log/on_done (order alternating, as
  // Envoy fixes none) and on_delete.
  request(req) {
    if (this.failed) return failDecision();
    // Between requests the event loop fires the tick timer when it is due.
    if (this.tickPeriodMs > 0 && performance.now() - this.lastTick >= this.tickPeriodMs) this.tick();
    if (this.failed) return failDecision();
    const st = new Stream(this.nextID++, requestHeaders(req), req.body ?? '', req.remoteAddr ?? '');
    this.streams.push(st);
    try {
      return this.runRequest(st);
    } catch (err) {
      if (err instanceof VMFailed) return failDecision();
      throw err;
    } finally {
      this.endStream(st);
    }
  }

  runRequest(st) {
    this.callOn(st.id, 'proxy_on_context_create', st.id, this.rootID);
    const hasBody = st.reqBody.length > 0 && this.exports.proxy_on_request_body !== undefined;
    let a = this.callOn(st.id, 'proxy_on_request_headers', st.id, st.reqHeaders.length, hasBody ? 0 : 1);
    let bodyDelivered = false;
    if (a !== ACTION_CONTINUE && hasBody && st.local === null && !st.continued && !st.reset) {
      // Envoy keeps delivering the body to a filter whose headers stopped;
      // a Continue from the body callback resumes the stopped headers too.
      bodyDelivered = true;
      if (this.callOn(st.id, 'proxy_on_request_body', st.id, st.reqBody.length, 1) === ACTION_CONTINUE) a = ACTION_CONTINUE;
    }
    const stopped = this.await(st, a);
    if (stopped) return stopped;
    if (hasBody && !bodyDelivered) {
      const b = this.callOn(st.id, 'proxy_on_request_body', st.id, st.reqBody.length, 1);
      const stoppedBody = this.await(st, b);
      if (stoppedBody) return stoppedBody;
    }
    return { continue: true, headers: st.reqHeaders.slice(), requestBody: st.reqBody };
  }

  // await settles a paused stream as the proxy's event loop would: it
  // delivers pending callouts and, when there are none, waits for the next
  // tick and runs it, until the filter resumes or answers. It returns the
  // final decision when the stream ended in a local response, a reset or a
  // failure; null when it goes on.
  await(st, action) {
    const deadline = performance.now() + MAX_PAUSE_MS;
    for (;;) {
      if (this.failed) return failDecision();
      if (st.local !== null) return st.local;
      if (st.reset) return { continue: false, status: 0, reset: true };
      if (action === ACTION_CONTINUE || st.continued) {
        st.continued = false;
        return null;
      }
      if (this.pending.length > 0) {
        this.pending.shift()();
        continue;
      }
      const due = this.lastTick + this.tickPeriodMs;
      if (this.tickPeriodMs === 0 || due > deadline) {
        throw new Error('request paused by the filter was never resumed');
      }
      sleep(due - performance.now());
      this.tick();
    }
  }

  endStream(st) {
    if (!this.failed) {
      try {
        this.ended++;
        const logFirst = this.ended % 2 === 1;
        this.callOn(st.id, logFirst ? 'proxy_on_log' : 'proxy_on_done', st.id);
        this.callOn(st.id, logFirst ? 'proxy_on_done' : 'proxy_on_log', st.id);
        this.callOn(st.id, 'proxy_on_delete', st.id);
      } catch (err) {
        if (!(err instanceof VMFailed)) throw err;
      }
    }
    st.ended = true;
    const i = this.streams.indexOf(st);
    this.streams[i] = this.streams[this.streams.length - 1];
    this.streams.pop();
  }

  tick() {
    this.lastTick = performance.now();
    if (!this.failed) {
      try {
        this.callOn(this.rootID, 'proxy_on_tick', this.rootID);
        this.drain();
      } catch (err) {
        if (!(err instanceof VMFailed)) throw err;
      }
    }
  }
}

// XDS_NODE is the xds.node property (see property), as a latin1 string.
const XDS_NODE = Buffer.concat([Buffer.from([0x0a, 15]), Buffer.from('scopegate-proxy'),
  Buffer.from([0x12, 5]), Buffer.from('local')]).toString('latin1');

// realtimeNanos is the wall clock in nanoseconds since the epoch, as a
// Number: microsecond precision, which is all a double holds there.
function realtimeNanos() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000) * 1000;
}

// MAX_PAUSE_MS bounds how long a paused request may wait for ticks.
const MAX_PAUSE_MS = 30000;

// sleep blocks the thread for ms milliseconds (a paused request waits for
// the next tick; JavaScript has no other synchronous wait).
function sleep(ms) {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

class VMFailed extends Error {
  constructor() { super('wasm VM failed (trapped earlier)'); }
}

// requestHeaders builds the header map the filter sees: pseudo headers
// first, names lowercased. The map of a request object is built and
// serialized once and copied for each stream (its pairs are never changed
// in place), as a proxy gets a decoded header map from its codec.
const templates = new WeakMap();
function requestHeaders(req) {
  let t = templates.get(req);
  if (t === undefined) {
    const hs = [[':authority', req.authority ?? ''], [':path', req.path || '/'],
      [':method', req.method || 'GET'], [':scheme', req.scheme || 'http']];
    for (const [k, v] of req.headers ?? []) hs.push([asciiLower(k), v]);
    t = { pairs: hs, encoded: encodePairs(hs) };
    templates.set(req, t);
  }
  const map = t.pairs.slice();
  map.encoded = t.encoded;
  return map;
}

/**
 * Host runs one plugin: a canary VM (started, then discarded) and one worker VM.
 *
 * options: pluginConfig and vmConfig (strings, bytes as latin1), pluginName
 * (default "scopegate"), rootID, logLevel (a LogLevel number, default info),
 * pollOneoff ("enosys" as Envoy 1.33-1.38, or "no-events"), clusters (name ->
 * function(headers, body) returning {status, headers, body} or null for a
 * failed call), log (function(entry) receiving every entry at or above
 * logLevel), verifySignature ("present": Envoy 1.30+'s verify_signature,
 * the default, as in the Go host; "absent": every foreign function is
 * NotFound), bareEnv (measurement only: proxy-wasm imports that do nothing).
 */
export class Host {
  constructor(module, bytes, options = {}) {
    this.module = module;
    this.pluginConfig = options.pluginConfig ?? '';
    this.vmConfig = options.vmConfig ?? '';
    this.pluginName = options.pluginName ?? 'scopegate';
    this.rootIDName = options.rootID ?? '';
    this.logLevel = options.logLevel ?? LogLevel.info;
    this.pollOneoff = options.pollOneoff ?? 'enosys';
    this.verifySignature = options.verifySignature ?? 'present';
    this.clusters = options.clusters ?? {};
    this.logSink = options.log ?? null;
    this.logs = [];
    this.violations = [];
    this.traps = 0;
    this.callouts = 0;
    this.calls = null; // host calls by name while counting (countCalls)
    this.shared = new Map();
    this.lastCas = 0;
    this.queues = { byName: new Map(), items: [], owner: new Map() };
    this.metrics = { byName: new Map(), byID: [] };
    this.abi = checkModule(bytes);
    this.env = envFunctions(this.abi);
    if (options.bareEnv) {
      // Measurement only (callcost.mjs): every proxy-wasm import does
      // nothing and answers 0, V8's floor for a call from wasm to JavaScript.
      for (const name of Object.keys(this.env)) this.env[name] = [this.env[name][0], () => 0];
    }
    this.wasi = wasiFunctions();
    checkImports(bytes, { env: this.env, wasi_snapshot_preview1: this.wasi, wasi_unstable: this.wasi });
  }

  // load compiles the module at path and starts the canary and the worker.
  static async load(bytes, options) {
    const module = await WebAssembly.compile(bytes);
    const host = new Host(module, bytes, options);
    const canary = new VM(host, 'canary');
    await canary.instantiate();
    host.startOrThrow(canary, 'canary VM');
    host.worker = new VM(host, 'worker-0');
    await host.worker.instantiate();
    host.startOrThrow(host.worker, 'worker VM 0');
    if (host.violations.length > 0) {
      throw new Error('host: Envoy rule violations while loading: ' + host.violations.map(violationString).join('; '));
    }
    return host;
  }

  startOrThrow(vm, what) {
    try {
      vm.start();
    } catch (err) {
      const reason = err instanceof VMFailed ? vm.failReason : err.message;
      throw new Error(`host: ${what}: ${reason}`);
    }
  }

  // request runs one request through the worker VM and returns the
  // decision: {continue: true, headers} or {continue: false, status,
  // responseHeaders, body}.
  request(req) { return this.worker.request(req); }

  tick() { this.worker.tick(); }

  // countCalls runs fn with every host call (and guest allocator call)
  // counted by name, and returns the counts.
  countCalls(fn) {
    this.calls = new Map();
    try {
      fn();
      return Object.fromEntries(this.calls);
    } finally {
      this.calls = null;
    }
  }

  count(name) { this.calls.set(name, (this.calls.get(name) ?? 0) + 1); }

  setShared(key, value, cas) {
    const e = this.shared.get(key);
    if (e !== undefined && cas !== 0 && cas !== e.cas) return Status.CAS_MISMATCH;
    this.lastCas = (this.lastCas + 1) >>> 0 || 1;
    this.shared.set(key, { value, cas: this.lastCas });
    return Status.OK;
  }

  // metric returns a counter's or gauge's value, or a histogram's count.
  metric(name) {
    const id = this.metrics.byName.get(name);
    if (id === undefined) return undefined;
    const m = this.metrics.byID[id - 1];
    return m.kind === 2 ? m.count : m.value;
  }

  log(level, vmName, message) {
    if (this.logs.length >= 10000) this.logs.splice(0, 5000);
    const entry = { level, vm: vmName, message };
    this.logs.push(entry);
    if (this.logSink !== null && level >= this.logLevel) this.logSink(entry);
  }

  violation(vmName, rule, detail) {
    const v = { rule, vm: vmName, detail };
    this.violations.push(v);
    this.log(LogLevel.error, vmName, 'Envoy rule violation: ' + violationString(v));
  }
}

function violationString(v) { return `${v.rule} (${v.vm}): ${v.detail}`; }

// checkModule verifies the ABI marker, the allocator and the exports'
// signatures, and returns the ABI version.
function checkModule(bytes) {
  const { exports } = readSections(bytes);
  const names = new Set(exports.map((e) => e.name));
  let abi;
  if (names.has('proxy_abi_version_0_2_1')) abi = '0.2.1';
  else if (names.has('proxy_abi_version_0_2_0')) abi = '0.2.0';
  else if (names.has('proxy_abi_version_0_1_0')) throw new Error('host: module declares proxy-wasm ABI 0.1.0; only 0.2.0 and 0.2.1 are supported');
  else throw new Error('host: module exports no proxy_abi_version_0_2_x marker; is it a proxy-wasm module?');
  if (!names.has('malloc') && !names.has('proxy_on_memory_allocate')) {
    throw new Error('host: module is missing malloc function (export malloc or proxy_on_memory_allocate)');
  }
  const bad = [];
  for (const e of exports) {
    const want = GUEST_SIGNATURES[e.name];
    if (want === undefined) continue;
    const allI32 = (list, n) => list.length === n && list.every((t) => t === 'i32');
    if (!allI32(e.type.params, want[0]) || !allI32(e.type.results, want[1])) bad.push(e.name);
  }
  if (bad.length > 0) {
    throw new Error(`host: bad function signature for ${bad.sort().join(', ')} (Envoy requires the ABI's i32 parameters and results)`);
  }
  return abi;
}

// checkImports fails the load for an import Envoy does not provide, or one
// whose type differs from Envoy's.
function checkImports(bytes, provided) {
  const unknown = [], mismatched = [];
  for (const imp of readSections(bytes).imports) {
    const full = `${imp.module}.${imp.name}`;
    if (imp.kind !== 'function') {
      unknown.push(`${full} (${imp.kind})`);
      continue;
    }
    const f = provided[imp.module]?.[imp.name];
    if (f === undefined) unknown.push(full);
    else if (sig(imp.type) !== f[0]) mismatched.push(`${full} (module wants ${sig(imp.type)}, host has ${f[0]})`);
  }
  if (unknown.length > 0) throw new Error(`host: module imports ${unknown.sort().join(', ')}, which Envoy does not provide`);
  if (mismatched.length > 0) throw new Error(`host: import type mismatch: ${mismatched.sort().join(', ')}`);
}
