// SealDesk pages work without this file; it only adds a preview of a chosen scan next to its upload field.
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
