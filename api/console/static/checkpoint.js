// Verifies a C2SP signed-note checkpoint against a verifier key, in the browser, trusting
// nothing but the key typed or pinned in the page (WebCrypto: SHA-256 and Ed25519).
//
// vkey:  <name>+<hex key hash>+<base64(0x01 || 32-byte Ed25519 public key)>
// note:  <text ending in \n>\n— <name> <base64(4-byte key hash || 64-byte signature)>\n…
// key hash: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key)
(function () {
  "use strict";
  var button = document.getElementById("verify");
  var result = document.getElementById("verify-result");
  if (!button) { return; }

  function bytes(b64) {
    var raw = atob(b64.trim());
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
  var utf8 = function (s) { return new TextEncoder().encode(s); };

  async function verify(noteText, vkeyText) {
    // the name holds no "+", the base64 key may: split at the first two only
    var trimmed = vkeyText.trim(), a = trimmed.indexOf("+"), b = trimmed.indexOf("+", a + 1);
    if (a < 1 || b < 0) { throw new Error("vkey"); }
    var parts = [trimmed.slice(0, a), trimmed.slice(a + 1, b), trimmed.slice(b + 1)];
    var name = parts[0], key = bytes(parts[2]);
    if (key.length !== 33 || key[0] !== 1) { throw new Error("vkey"); }
    var digest = new Uint8Array(await crypto.subtle.digest(
      "SHA-256", concat([utf8(name), new Uint8Array([0x0a]), key])));
    var keyHash = digest.slice(0, 4);
    if (hex(keyHash) !== parts[1].toLowerCase()) { throw new Error("vkey hash"); }
    var note = noteText.replace(/\r\n/g, "\n");
    var split = note.indexOf("\n\n");
    if (split < 0) { throw new Error("note"); }
    var text = note.slice(0, split + 1);
    var lines = note.slice(split + 2).split("\n").filter(function (l) { return l; });
    var publicKey = await crypto.subtle.importKey("raw", key.slice(1), { name: "Ed25519" },
                                                  false, ["verify"]);
    for (var i = 0; i < lines.length; i++) {
      var m = /^\u2014 (\S+) (\S+)$/.exec(lines[i]);
      if (!m || m[1] !== name) { continue; }
      var sig = bytes(m[2]);
      if (sig.length !== 68 || hex(sig.slice(0, 4)) !== hex(keyHash)) { continue; }
      if (await crypto.subtle.verify({ name: "Ed25519" }, publicKey, sig.slice(4), utf8(text))) {
        return { ok: true, size: text.split("\n")[1] };
      }
    }
    return { ok: false };
  }

  button.addEventListener("click", async function () {
    result.textContent = "";
    result.className = "";
    if (!(window.crypto && crypto.subtle)) {
      result.textContent = button.dataset.unsupported;
      return;
    }
    try {
      var outcome = await verify(document.getElementById("note").value,
                                 document.getElementById("vkey").value);
      result.className = outcome.ok ? "verified" : "refused";
      result.textContent = outcome.ok
        ? button.dataset.ok.replace("{size}", outcome.size) : button.dataset.bad;
    } catch (e) {
      var unsupported = e && (e.name === "NotSupportedError");
      result.className = "refused";
      result.textContent = unsupported ? button.dataset.unsupported
                                       : button.dataset.malformed + " " + e.message;
    }
  });
})();
