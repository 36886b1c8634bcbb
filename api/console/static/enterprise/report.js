// The annual report's print button (printing is the browser's own; the page's print style
// leaves out the navigation).
(function () {
  "use strict";
  var button = document.getElementById("print");
  if (!button) { return; }
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
}());
