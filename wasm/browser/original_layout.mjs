// The original's IndexedDB layout, in plain JavaScript, as its `web_storage.rs` does it:
// one database per store (version 1) with object stores `a`, `b` and `meta`; the log in
// blocks of 16384 bytes keyed by offset in the active store; meta `length` and `store`.
const BLOCK = 16384;

function request(r) {
  return new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
}

function done(t) {
  return new Promise((resolve, reject) => { t.oncomplete = resolve; t.onerror = () => reject(t.error); t.onabort = () => reject(t.error); });
}

export function open(name) {
  const r = indexedDB.open(name, 1);
  r.onupgradeneeded = () => { for (const s of ["a", "b", "meta"]) r.result.createObjectStore(s); };
  return request(r);
}

// Write `bytes` (a Uint8Array) as the log, in content store `store` (0: a, 1: b).
export async function writeOriginal(name, bytes, store) {
  const db = await open(name);
  const t = db.transaction(["a", "b", "meta"], "readwrite");
  const content = t.objectStore(store === 0 ? "a" : "b");
  for (let offset = 0; offset < bytes.length; offset += BLOCK) {
    const block = new Uint8Array(BLOCK);
    block.set(bytes.subarray(offset, offset + BLOCK));
    content.put(block, offset);
  }
  t.objectStore("meta").put(bytes.length, "length");
  if (store !== 0) t.objectStore("meta").put(store, "store");
  await done(t);
  db.close();
}

// Read the log as the original does: the active store's blocks, concatenated, up to
// `length`; and what every object store holds (keys, block sizes, meta values).
export async function readOriginal(name) {
  const db = await open(name);
  const t = db.transaction(["a", "b", "meta"], "readonly");
  const all = {};
  for (const s of ["a", "b", "meta"]) all[s] = [t.objectStore(s).getAllKeys(), t.objectStore(s).getAll()];
  await done(t);
  db.close();
  const meta = Object.fromEntries(all.meta[0].result.map((k, i) => [k, all.meta[1].result[i]]));
  const length = meta.length ?? 0;
  const active = (meta.store ?? 0) === 0 ? "a" : "b";
  const keys = all[active][0].result;
  const blocks = all[active][1].result;
  const log = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += BLOCK) {
    const block = blocks[keys.indexOf(offset)];
    log.set(block.subarray(0, Math.min(BLOCK, length - offset)), offset);
  }
  const shape = (s) => all[s][0].result.map((k, i) => [k, all[s][1].result[i].length]);
  const numbers = Object.fromEntries(Object.entries(meta).filter(([, v]) => typeof v === "number"));
  const tails = blocks.map((b, i) => [keys[i], b.subarray(Math.max(0, length - keys[i])).every((x) => x === 0)]);
  return {
    hex: Array.from(log, (x) => x.toString(16).padStart(2, "0")).join(""),
    meta: numbers, a: shape("a"), b: shape("b"), zeroPadded: tails.every(([, zero]) => zero),
  };
}
