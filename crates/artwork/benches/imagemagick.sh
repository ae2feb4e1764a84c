#!/bin/sh
# The ImageMagick side of the extraction benchmark: the same job done the usual way with Debian's
# ImageMagick 6 — keep pixels near seal red, turn the rest transparent, trim to the ink — on one
# core. Usage: imagemagick.sh IN.jpg OUT.png
# The trim offset stays in the PNG (no +repage; IM 6 writes it in a caNv chunk) so the benchmark
# can place the mask on the page. The colour and fuzz were tuned for ImageMagick on the checked-in
# sample forms (best mean IoU of a small grid: 20-40 %, several reds), not on the benchmark forms.
# /usr/local/bin/convert on some machines is not ImageMagick, so Debian's binary is called by name.
set -eu
CONVERT=${CONVERT:-/usr/bin/convert-im6.q16}
MAGICK_THREAD_LIMIT=1 exec "$CONVERT" "$1" \
    -fuzz "${IM_FUZZ_RED:-25%}" -fill white +opaque "${IM_RED:-rgb(200,50,70)}" \
    -fuzz "${IM_FUZZ_WHITE:-10%}" -transparent white \
    -trim "$2"
