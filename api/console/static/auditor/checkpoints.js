// The checkpoints page: the signature of the checkpoint against the pinned key, then each
// consistency proof between consecutive trees of the table, the last one the signed tree.
(function () {
  "use strict";
  var button = document.getElementById("check-consistency");
  var result = document.getElementById("verify-result");
  if (!button) { return; }

  button.addEventListener("click", async function () {
    var d = button.dataset, t = window.tlog;
    result.textContent = "";
    result.className = "refused";
    if (!(window.crypto && crypto.subtle)) { result.textContent = d.unsupported; return; }
    try {
      var signed = await t.verifyNote(document.getElementById("note").value,
                                      document.getElementById("vkey").value);
      var rows = Array.prototype.slice.call(document.querySelectorAll("#heads tbody tr[data-size]"));
      var last = rows[rows.length - 1];
      if (!signed.ok || !last || Number(last.dataset.size) !== signed.size ||
          last.dataset.root !== btoa(String.fromCharCode.apply(null, signed.root))) {
        result.textContent = d.unsigned;
        return;
      }
      var all = true;
      for (var i = 0; i < rows.length; i++) {
        var cell = rows[i].querySelector(".consistency");
        if (i === 0) { cell.textContent = "—"; continue; }
        var old = rows[i - 1].dataset, now = rows[i].dataset;
        var answer = await fetch("/ledger/proof/consistency?old=" + old.size + "&new=" + now.size);
        var proof = await answer.json();
        var ok = answer.ok && await t.verifyConsistency(
          Number(old.size), Number(now.size), proof.hashes.map(t.bytes), t.bytes(old.root),
          t.bytes(now.root));
        cell.textContent = ok ? d.ok : d.bad;
        all = all && ok;
      }
      result.className = all ? "verified" : "refused";
      result.textContent = all ? d.signed : d.inconsistent;
    } catch (e) {
      result.textContent = e && e.name === "NotSupportedError" ? d.unsupported : d.unsigned;
    }
  });
})();
