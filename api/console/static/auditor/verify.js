// The receipt page: fetch a receipt, then verify it here with the pinned key (tlog.js).
(function () {
  "use strict";
  var button = document.getElementById("verify-receipt");
  var result = document.getElementById("verify-result");
  var field = document.getElementById("receipt");
  if (!button) { return; }

  function show(ok, text) {
    result.className = ok ? "verified" : "refused";
    result.textContent = text;
  }

  document.getElementById("fetch-receipt").addEventListener("submit", async function (e) {
    e.preventDefault();
    result.textContent = "";
    var position = document.getElementById("position").value;
    var answer = await fetch("/console/auditor/receipts/" + encodeURIComponent(position),
                             { credentials: "same-origin" });
    field.value = JSON.stringify(await answer.json(), null, 1);
    field.dataset.loaded = answer.ok ? "yes" : "no";
  });

  async function check(receipt, vkeyText) {
    var d = button.dataset, t = window.tlog;
    var signed = await t.verifyNote(String(receipt.checkpoint), vkeyText);
    if (!signed.ok) { return [false, d.signature]; }
    var proof = receipt.proof, leaf = t.bytes(receipt.leaf);
    var hashes = proof.hashes.map(t.bytes);
    if (Number(proof.size) !== signed.size ||
        !(await t.verifyInclusion(Number(proof.index), signed.size, await t.hashLeaf(leaf),
                                  hashes, signed.root))) {
      return [false, d.inclusion];
    }
    var record = JSON.parse(new TextDecoder().decode(leaf));
    var topic = String(record.topic || "");
    var event = topic.split(":").pop().split(".").slice(-2, -1)[0];
    if (record.position !== receipt.position || Number(proof.index) !== receipt.index ||
        (receipt.event && receipt.event !== event)) {
      return [false, d.claims];
    }
    return [true, d.ok.replace("{index}", receipt.index).replace("{position}", receipt.position)
                      .replace("{event}", event).replace("{size}", signed.size)];
  }

  button.addEventListener("click", async function () {
    result.textContent = "";
    result.className = "";
    if (!(window.crypto && crypto.subtle)) { show(false, button.dataset.unsupported); return; }
    try {
      var outcome = await check(JSON.parse(field.value), document.getElementById("vkey").value);
      show(outcome[0], outcome[1]);
    } catch (e) {
      show(false, e && e.name === "NotSupportedError" ? button.dataset.unsupported
                                                       : button.dataset.malformed + " " + e.message);
    }
  });
})();
