// Transparency-log checks in the browser, trusting nothing but a pinned verifier key:
// C2SP signed notes (Ed25519, WebCrypto) and RFC 9162 Merkle proofs (SHA-256). One script for
// the public checkpoint page and the auditor's pages.
//
// vkey:  <name>+<hex key hash>+<base64(0x01 || 32-byte Ed25519 public key)>
// note:  <origin>\n<size>\n<base64 root>\n\n— <name> <base64(4-byte key hash || signature)>\n…
// key hash: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key)
// leaf hash: SHA-256(0x00 || leaf); node hash: SHA-256(0x01 || left || right)
(function () {
  "use strict";
  var utf8 = function (s) { return new TextEncoder().encode(s); };

  function bytes(b64) {
    var raw = atob(String(b64).trim());
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }
  function hex(a) {
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function concat(parts) {
    var n = parts.reduce(function (s, p) { return s + p.length; }, 0);
    var out = new Uint8Array(n), at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }
  function equal(a, b) { return a.length === b.length && hex(a) === hex(b); }
  async function sha256(data) { return new Uint8Array(await crypto.subtle.digest("SHA-256", data)); }
  function hashLeaf(leaf) { return sha256(concat([new Uint8Array([0]), leaf])); }
  function hashChildren(l, r) { return sha256(concat([new Uint8Array([1]), l, r])); }
  var odd = function (n) { return n % 2 === 1; };
  var half = function (n) { return Math.floor(n / 2); };

  // {ok, size, root} of a checkpoint note signed by the vkey's key; throws on a malformed key
  async function verifyNote(noteText, vkeyText) {
    var trimmed = vkeyText.trim(), a = trimmed.indexOf("+"), b = trimmed.indexOf("+", a + 1);
    if (a < 1 || b < 0) { throw new Error("vkey"); }
    var name = trimmed.slice(0, a), key = bytes(trimmed.slice(b + 1));
    if (key.length !== 33 || key[0] !== 1) { throw new Error("vkey"); }
    var keyHash = (await sha256(concat([utf8(name), new Uint8Array([0x0a]), key]))).slice(0, 4);
    if (hex(keyHash) !== trimmed.slice(a + 1, b).toLowerCase()) { throw new Error("vkey hash"); }
    var note = noteText.replace(/\r\n/g, "\n");
    var split = note.indexOf("\n\n");
    if (split < 0) { throw new Error("note"); }
    var text = note.slice(0, split + 1), body = text.split("\n");
    var lines = note.slice(split + 2).split("\n").filter(function (l) { return l; });
    var publicKey = await crypto.subtle.importKey("raw", key.slice(1), { name: "Ed25519" },
                                                  false, ["verify"]);
    for (var i = 0; i < lines.length; i++) {
      var m = /^\u2014 (\S+) (\S+)$/.exec(lines[i]);
      if (!m || m[1] !== name) { continue; }
      var sig = bytes(m[2]);
      if (sig.length !== 68 || hex(sig.slice(0, 4)) !== hex(keyHash)) { continue; }
      if (await crypto.subtle.verify({ name: "Ed25519" }, publicKey, sig.slice(4), utf8(text))) {
        if (!/^[0-9]+$/.test(body[1])) { throw new Error("note size"); }
        return { ok: true, origin: body[0], size: Number(body[1]), root: bytes(body[2]) };
      }
    }
    return { ok: false };
  }

  // RFC 9162 2.1.3.2: does the proof lead from leaf `index` of a tree of `size` to `root`?
  async function verifyInclusion(index, size, leafHash, proof, root) {
    if (!(index >= 0 && index < size)) { return false; }
    var fn = index, sn = size - 1, r = leafHash;
    for (var i = 0; i < proof.length; i++) {
      if (sn === 0) { return false; }
      if (odd(fn) || fn === sn) {
        r = await hashChildren(proof[i], r);
        if (!odd(fn)) { while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); } }
      } else {
        r = await hashChildren(r, proof[i]);
      }
      fn = half(fn); sn = half(sn);
    }
    return sn === 0 && equal(r, root);
  }

  // RFC 9162 2.1.4.2: does the tree of size2 (root2) extend the tree of size1 (root1)?
  async function verifyConsistency(size1, size2, proof, root1, root2) {
    if (!(size1 > 0 && size1 <= size2)) { return false; }
    if (size1 === size2) { return proof.length === 0 && equal(root1, root2); }
    var path = proof.slice();
    if ((size1 & (size1 - 1)) === 0) { path.unshift(root1); }  // an exact power of two
    if (path.length === 0) { return false; }
    var fn = size1 - 1, sn = size2 - 1;
    while (odd(fn)) { fn = half(fn); sn = half(sn); }
    var fr = path[0], sr = path[0];
    for (var i = 1; i < path.length; i++) {
      if (sn === 0) { return false; }
      if (odd(fn) || fn === sn) {
        fr = await hashChildren(path[i], fr);
        sr = await hashChildren(path[i], sr);
        if (!odd(fn)) { while (!odd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); } }
      } else {
        sr = await hashChildren(sr, path[i]);
      }
      fn = half(fn); sn = half(sn);
    }
    return sn === 0 && equal(fr, root1) && equal(sr, root2);
  }

  window.tlog = { bytes: bytes, hashLeaf: hashLeaf, verifyNote: verifyNote,
                  verifyInclusion: verifyInclusion, verifyConsistency: verifyConsistency };
})();
