// The public checkpoint page: verifies the signed checkpoint against the verifier key typed or
// pinned in the page, in the browser (tlog.js: C2SP signed notes, WebCrypto Ed25519).
(function () {
  "use strict";
  var button = document.getElementById("verify");
  var result = document.getElementById("verify-result");
  if (!button) { return; }

  button.addEventListener("click", async function () {
    result.textContent = "";
    result.className = "";
    if (!(window.crypto && crypto.subtle)) {
      result.textContent = button.dataset.unsupported;
      return;
    }
    try {
      var outcome = await window.tlog.verifyNote(document.getElementById("note").value,
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
