// The report's SHA-256, computed in the browser from the chosen file (WebCrypto): the file
// input has no name and the form is urlencoded, so only the digest is posted.
(function () {
  "use strict";
  var input = document.getElementById("report-file");
  if (!input) { return; }
  var digestField = document.getElementById("report-sha256");
  var state = document.getElementById("digest-state");
  var messages = document.getElementById("digest-messages").content;
  function say(key) { state.textContent = messages.querySelector('[data-m="' + key + '"]').textContent; }
  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) { return; }
    say("reading");
    file.arrayBuffer().then(function (bytes) {
      return crypto.subtle.digest("SHA-256", bytes);
    }).then(function (digest) {
      digestField.value = hex(digest);
      input.dataset.sha256 = digestField.value;
      say("done");
    }, function () { say("failed"); });
  });
}());
