// The desk's one script: SLA countdowns that tick, and a ticket's page kept fresh by asking
// its `data-live` address every 2.5 s for the parts the server renders (facts, what you sent,
// the conversation). Without it every page still works: the server writes the remaining
// time, and a reload shows what is new.
"use strict";
(function () {
  var words = JSON.parse(document.querySelector('meta[name="kefu-countdown"]').content);
  var shown = {};

  function fill(pattern, values) {
    return pattern.replace(/\{(\w)\}/g, function (_, key) { return values[key]; });
  }

  function span(seconds) {
    var s = Math.floor(Math.abs(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    var two = function (n) { return String(n).padStart(2, "0"); };
    if (d) return fill(words["span.d"], { d: d, h: h });
    if (h) return fill(words["span.h"], { h: h, m: two(m) });
    return fill(words["span.m"], { m: m, s: two(s % 60) });
  }

  function tick() {
    document.querySelectorAll("time[data-due]").forEach(function (time) {
      var left = (Date.parse(time.dateTime) - Date.now()) / 1000;
      time.textContent = fill(words[left >= 0 ? "due.in" : "due.over"], { t: span(left) });
      time.classList.toggle("over", left < 0);
    });
  }

  async function refresh(address) {
    if (document.hidden) return;
    try {
      var reply = await fetch(address, { headers: { Accept: "application/json" } });
      if (!reply.ok) return;
      var parts = (await reply.json()).parts;
      Object.keys(parts).forEach(function (id) {
        var part = document.getElementById(id);
        if (part && shown[id] !== parts[id]) part.innerHTML = shown[id] = parts[id];
      });
      tick();
    } catch (error) {
      // the network is away for a moment: the next round tries again
    }
  }

  tick();
  setInterval(tick, 1000);
  var live = document.querySelector("[data-live]");
  if (live) setInterval(refresh, 2500, live.dataset.live);
})();
