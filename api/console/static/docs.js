// Starts the vendored API viewer named by this script tag's data-viewer attribute, over the
// OpenAPI document of this service. Kept out of the page so that the pages carry no inline
// script.
(function () {
  "use strict";
  var script = document.currentScript;
  var url = script.getAttribute("data-openapi");
  if (script.getAttribute("data-viewer") === "swagger") {
    window.ui = SwaggerUIBundle({
      url: url,
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      deepLinking: true,
      validatorUrl: null, // the online validator badge would call another host
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
    });
  } else {
    Redoc.init(url, { hideDownloadButton: false }, document.getElementById("redoc"));
  }
})();
