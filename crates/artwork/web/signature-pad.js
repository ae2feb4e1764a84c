/*
 * SealDesk 手写签字 signature pad (no dependencies, no inline script needed).
 *
 * Markup:
 *   <div data-signature-pad>
 *     <canvas width="600" height="240" aria-label="签字区"></canvas>
 *     <input type="hidden" name="signature" data-signature-output>
 *     <button type="button" data-signature-undo>撤销</button>
 *     <button type="button" data-signature-clear>清除</button>
 *   </div>
 * and load this file with a script element (src="/static/signature-pad.js", defer).
 *
 * Every element with data-signature-pad is wired on load: pointer events (mouse, finger, stylus)
 * draw on the canvas, and after each stroke the hidden input holds the JSON below, which the
 * server reads with sealdesk_artwork::SignaturePad::from_json. The input is empty while nothing is
 * drawn, so a form's `required` check works.
 *
 * JSON contract, version 1:
 *   { "version": 1, "width": <pad CSS px>, "height": <pad CSS px>,
 *     "strokes": [ { "pointer": "mouse" | "touch" | "pen",
 *                    "points": [ [x, y, pressure, t], ... ] }, ... ] }
 *   x, y: CSS px from the canvas's top-left corner; pressure: 0..1 as the browser reports it (a
 *   mouse reports 0.5 while a button is down); t: ms since the signature's first point, never
 *   decreasing within a stroke. At most 200 strokes and 20 000 points (the pad stops taking points
 *   beyond that, as the server would refuse them).
 *
 * Script API, for pages that want it: window.SealDeskSignaturePad.attach(container) returns
 * { clear(), undo(), isEmpty(), toJSON() } (also kept as container.signaturePad).
 */
(function () {
  "use strict";

  var MAX_STROKES = 200;
  var MAX_POINTS = 20000;

  function attach(container) {
    if (container.signaturePad) {
      return container.signaturePad;
    }
    var canvas = container.querySelector("canvas");
    var output = container.querySelector("[data-signature-output]");
    var ctx = canvas.getContext("2d");
    var strokes = [];
    var current = null;
    var start = null;
    var total = 0;

    // CSS size of the pad; the bitmap follows the device pixel ratio so lines stay sharp.
    var cssW = canvas.clientWidth || canvas.width;
    var cssH = canvas.clientHeight || canvas.height;
    var ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(cssW * ratio);
    canvas.height = Math.round(cssH * ratio);
    canvas.style.touchAction = "none";
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#1a1f3a";

    function width(pressure, pointer) {
      // The server recomputes widths; this is only the preview.
      return pointer === "mouse" ? 2.2 : 1 + 3 * pressure;
    }

    function point(e) {
      var r = canvas.getBoundingClientRect();
      var now = e.timeStamp;
      if (start === null) {
        start = now;
      }
      var p = Math.min(1, Math.max(0, e.pressure || 0));
      return [
        Math.round((e.clientX - r.left) * 10) / 10,
        Math.round((e.clientY - r.top) * 10) / 10,
        Math.round(p * 1000) / 1000,
        Math.round((now - start) * 10) / 10
      ];
    }

    function add(e) {
      if (!current || total >= MAX_POINTS) {
        return;
      }
      var p = point(e);
      var pts = current.points;
      var last = pts[pts.length - 1];
      if (last && p[3] < last[3]) {
        p[3] = last[3];
      }
      pts.push(p);
      total += 1;
      if (last) {
        ctx.lineWidth = width(p[2], current.pointer);
        ctx.beginPath();
        ctx.moveTo(last[0], last[1]);
        ctx.lineTo(p[0], p[1]);
        ctx.stroke();
      }
    }

    function publish() {
      if (output) {
        output.value = strokes.length ? toJSON() : "";
        output.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }

    function redraw() {
      ctx.clearRect(0, 0, cssW, cssH);
      strokes.forEach(function (s) {
        for (var k = 1; k < s.points.length; k += 1) {
          var a = s.points[k - 1];
          var b = s.points[k];
          ctx.lineWidth = width(b[2], s.pointer);
          ctx.beginPath();
          ctx.moveTo(a[0], a[1]);
          ctx.lineTo(b[0], b[1]);
          ctx.stroke();
        }
      });
    }

    canvas.addEventListener("pointerdown", function (e) {
      if (strokes.length >= MAX_STROKES || total >= MAX_POINTS) {
        return;
      }
      e.preventDefault();
      if (canvas.setPointerCapture) {
        try {
          canvas.setPointerCapture(e.pointerId);
        } catch (ignored) {
          // Synthetic events have no active pointer to capture.
        }
      }
      var kind = e.pointerType === "pen" || e.pointerType === "touch" ? e.pointerType : "mouse";
      current = { pointer: kind, points: [] };
      strokes.push(current);
      add(e);
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!current) {
        return;
      }
      e.preventDefault();
      var events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      if (!events.length) {
        events = [e];
      }
      events.forEach(add);
    });
    function end(e) {
      if (!current) {
        return;
      }
      add(e);
      current = null;
      publish();
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);

    function toJSON() {
      return JSON.stringify({ version: 1, width: cssW, height: cssH, strokes: strokes });
    }

    var api = {
      clear: function () {
        strokes = [];
        total = 0;
        start = null;
        current = null;
        redraw();
        publish();
      },
      undo: function () {
        var s = strokes.pop();
        if (s) {
          total -= s.points.length;
        }
        redraw();
        publish();
      },
      isEmpty: function () {
        return strokes.length === 0;
      },
      toJSON: toJSON
    };
    var clear = container.querySelector("[data-signature-clear]");
    if (clear) {
      clear.addEventListener("click", api.clear);
    }
    var undo = container.querySelector("[data-signature-undo]");
    if (undo) {
      undo.addEventListener("click", api.undo);
    }
    container.signaturePad = api;
    return api;
  }

  function attachAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-signature-pad]"), attach);
  }

  window.SealDeskSignaturePad = { attach: attach };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", attachAll);
  } else {
    attachAll();
  }
})();
