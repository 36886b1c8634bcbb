// The member's market page, live: the order book and the trades arrive as server-sent events
// (the registry's own market feed, via the console's signed-in stream), and the price chart
// (inline SVG) grows with each trade. Amounts are exact: integers of kg and fen are shown
// as tonnes and yuan by moving the decimal point, never through a float.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var status = document.getElementById("live-state");
  var names = document.getElementById("state-names").content;
  var priceSample = live.dataset.priceSample.split(" ");
  var qtySample = live.dataset.quantitySample.split(" ");
  var group = priceSample[0].charAt(1), point = priceSample[0].charAt(5);
  var priceUnit = priceSample.slice(1).join(" "), qtyUnit = qtySample.slice(1).join(" ");
  var chart = document.getElementById("price-chart");
  var prices = chart.dataset.prices ? chart.dataset.prices.split(",").map(Number) : [];
  var seen = {};

  function exact(n, decimals) {
    var s = String(Math.abs(n)).padStart(decimals + 1, "0");
    var whole = s.slice(0, s.length - decimals), frac = s.slice(s.length - decimals);
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, group);
    return (n < 0 ? "-" : "") + whole + point + frac;
  }
  function price(fen) { return exact(fen, 2) + " " + priceUnit; }
  function qty(kg) { return exact(kg, 3) + " " + qtyUnit; }
  function stateName(code) {
    var el = names.querySelector('[data-state="' + code + '"]');
    return el ? el.textContent : code;
  }
  function cell(text, numeric) {
    var td = document.createElement("td");
    td.textContent = text;
    if (numeric) { td.className = "num"; }
    return td;
  }

  function showBook(book) {
    var body = document.querySelector("#depth tbody");
    var rows = Math.max(book.bids.length, book.asks.length);
    body.textContent = "";
    for (var n = 0; n < rows; n++) {
      var b = book.bids[n], a = book.asks[n], tr = document.createElement("tr");
      tr.appendChild(cell(b ? qty(b.quantity) : "", true));
      tr.appendChild(cell(b ? price(b.price) : "", true));
      tr.appendChild(cell(a ? price(a.price) : "", true));
      tr.appendChild(cell(a ? qty(a.quantity) : "", true));
      body.appendChild(tr);
    }
  }

  function drawChart() {
    var box = chart.viewBox.baseVal, w = box.width, h = box.height;
    var shown = prices.slice(-60);
    if (!shown.length) { return; }
    if (shown.length === 1) { shown = [shown[0], shown[0]]; }  // one trade: a level line
    var low = Math.min.apply(null, shown), high = Math.max.apply(null, shown);
    var span = (high - low) || 1, step = (w - 20) / Math.max(shown.length - 1, 1);
    var points = shown.map(function (p, n) {
      return (10 + n * step).toFixed(1) + "," + (h - 10 - (p - low) * (h - 20) / span).toFixed(1);
    });
    chart.querySelector("polyline").setAttribute("points", points.join(" "));
  }

  function showTrade(t) {
    var body = document.querySelector("#trades tbody");
    var existing = body.querySelector('tr[data-trade="' + t.trade + '"]');
    var tr = document.createElement("tr");
    tr.dataset.trade = t.trade;
    tr.appendChild(cell(t.at.slice(0, 16).replace("T", " ")));
    var code = document.createElement("code");
    code.textContent = t.trade;
    var td = document.createElement("td");
    td.appendChild(code);
    tr.appendChild(td);
    tr.appendChild(cell(price(t.price), true));
    tr.appendChild(cell(qty(t.quantity), true));
    tr.appendChild(cell(stateName(t.state)));
    if (existing) { body.replaceChild(tr, existing); } else { body.insertBefore(tr, body.firstChild); }
    if (!seen[t.trade] && t.state !== "rejected") {
      seen[t.trade] = true;
      prices.push(t.price);
      drawChart();
    }
  }

  var source = new EventSource(live.dataset.stream);
  source.addEventListener("open", function () { status.textContent = stateName("live"); });
  source.addEventListener("error", function () { status.textContent = stateName("lost"); });
  source.addEventListener("book", function (e) { showBook(JSON.parse(e.data)); });
  source.addEventListener("trade", function (e) { showTrade(JSON.parse(e.data)); });
}());
