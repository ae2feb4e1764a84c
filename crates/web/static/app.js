// SealDesk pages work without this file; it adds a preview of a chosen scan next to its upload field, and zoom and
// rotation of the scans on the review page.
"use strict";
document.addEventListener("change", function (ev) {
  var input = ev.target;
  if (!(input instanceof HTMLInputElement) || input.type !== "file" || !input.dataset.preview) {
    return;
  }
  var img = document.getElementById(input.dataset.preview);
  if (!img) {
    return;
  }
  var file = input.files && input.files[0];
  if (img.src && img.src.indexOf("blob:") === 0) {
    URL.revokeObjectURL(img.src);
  }
  if (file && /^image\/(jpeg|png)$/.test(file.type)) {
    img.src = URL.createObjectURL(file);
    img.hidden = false;
  } else {
    img.removeAttribute("src");
    img.hidden = true;
  }
});

// 放大 / 缩小 / 旋转 on the review page: each scan keeps its zoom and quarter-turns on its own image.
document.addEventListener("click", function (ev) {
  var button = ev.target;
  if (!(button instanceof HTMLButtonElement) || !button.classList.contains("scan-tool")) {
    return;
  }
  var figure = button.closest("figure.scan");
  var img = figure && figure.querySelector("img");
  if (!img) {
    return;
  }
  var zoom = parseFloat(img.dataset.zoom || "1");
  var turns = parseInt(img.dataset.turns || "0", 10);
  if (button.dataset.act === "zoom-in") {
    zoom = Math.min(zoom * 1.5, 6);
  } else if (button.dataset.act === "zoom-out") {
    zoom = Math.max(zoom / 1.5, 0.5);
  } else if (button.dataset.act === "rotate") {
    turns = (turns + 1) % 4;
  }
  img.dataset.zoom = String(zoom);
  img.dataset.turns = String(turns);
  // Through the CSSOM, which the page's CSP (no inline style) allows.
  img.style.transform = "rotate(" + turns * 90 + "deg) scale(" + zoom + ")";
});

// 申请开票: the 抬头's label follows the 发票类型 (企业名称 / 单位名称 / 姓名), and 纳税人识别号 is marked required
// for an enterprise.
document.addEventListener("change", function (ev) {
  var input = ev.target;
  if (!(input instanceof HTMLInputElement) || input.type !== "radio" || input.name !== "kind") {
    return;
  }
  var form = input.form;
  var title = form && form.querySelector("#invoice-title-label");
  if (!title) {
    return;
  }
  title.textContent = (title.dataset[input.value] || title.textContent.replace(/：$/, "")) + "：";
  var taxpayer = form.querySelector("#invoice-taxpayer-label");
  if (taxpayer) {
    taxpayer.classList.toggle("req", input.value === "enterprise");
  }
});
