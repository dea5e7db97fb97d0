// Newswire console: refresh sections in place, load the map, replay dead letters.
// Plain JavaScript, no dependencies; everything comes from this server.
(function () {
  "use strict";
  var body = document.body;
  var every = parseInt(body.getAttribute("data-refresh") || "15", 10) * 1000;
  var tick = 0;

  function partUrl(part) {
    var params = new URLSearchParams(window.location.search);
    params.set("part", part);
    return window.location.pathname + "?" + params.toString();
  }

  function toast(text, bad) {
    var t = document.getElementById("toast");
    if (!t) { return; }
    t.textContent = text;
    t.className = bad ? "show bad" : "show";
    window.setTimeout(function () { t.className = ""; }, 4000);
  }

  function loadMap() {
    var box = document.getElementById("map");
    if (!box) { return; }
    var src = box.getAttribute("data-src");
    fetch(src, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("map: HTTP " + r.status); } return r.text(); })
      .then(function (svg) {
        box.innerHTML = svg;
        box.setAttribute("data-loaded", "1");
      })
      .catch(function (err) { box.innerHTML = "<p class=\"hint\">" + String(err.message) + "</p>"; });
  }

  function countryOf(node) {
    while (node && node !== document) {
      var cls = node.getAttribute && node.getAttribute("class");
      if (cls && cls.indexOf("map-element") >= 0) {
        var code = cls.split(" ")[0];
        return /^[a-z]{2}$/.test(code) ? code.toUpperCase() : null;
      }
      node = node.parentNode;
    }
    return null;
  }

  document.addEventListener("click", function (ev) {
    var target = ev.target;
    var box = document.getElementById("map");
    if (box && box.contains(target)) {
      var code = countryOf(target);
      if (code) {
        window.location.href = box.getAttribute("data-link").replace("country=XX", "country=" + code);
      }
      return;
    }
    if (target.classList && target.classList.contains("replay")) {
      var id = target.getAttribute("data-id");
      target.disabled = true;
      fetch("/console/replay/" + encodeURIComponent(id), { method: "POST", credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
        .then(function (res) {
          var ok = res[0] === 200;
          var failed = (res[1].failed || []).map(function (f) { return f.error; }).join("; ");
          toast(ok ? "dead letter " + id + " replayed" : "not replayed: " + (failed || res[1].message || res[0]), !ok);
          refresh("pipeline");
        })
        .catch(function (err) { toast("replay failed: " + err.message, true); target.disabled = false; });
    }
  });

  function refresh(part) {
    var section = document.querySelector("section[data-part=\"" + part + "\"]");
    if (!section) { return Promise.resolve(); }
    return fetch(partUrl(part), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.status === 401) { window.location.href = "/console/login"; throw new Error("login"); }
        if (!r.ok) { throw new Error(part + ": HTTP " + r.status); }
        return r.text();
      })
      .then(function (html) {
        section.innerHTML = html;
        if (part === "news") { loadMap(); }
        var stamp = document.getElementById("updated");
        if (stamp) { stamp.textContent = new Date().toISOString().slice(11, 19); }
      })
      .catch(function (err) { if (err.message !== "login") { toast(err.message, true); } });
  }

  function cycle() {
    var box = document.getElementById("autorefresh");
    if ((box && !box.checked) || document.hidden) { return; }
    tick += 1;
    document.querySelectorAll("section[data-part]").forEach(function (s) {
      var n = parseInt(s.getAttribute("data-every") || "1", 10);
      if (tick % n === 0) { refresh(s.getAttribute("data-part")); }
    });
  }

  window.newswireConsole = { refresh: refresh, loadMap: loadMap };
  // The map is a large SVG: fetched once the page itself has loaded.
  if (document.readyState === "complete") { loadMap(); } else { window.addEventListener("load", loadMap); }
  window.setInterval(cycle, every);
})();
