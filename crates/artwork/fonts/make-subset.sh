#!/bin/sh
# Rebuilds NotoSerifSC-Bold-GB2312.otf: Noto Serif CJK SC Bold (SIL OFL 1.1, Debian package
# fonts-noto-cjk) cut to ASCII + every GB2312 character, so seals render the same everywhere
# without a system font. Needs: apt-get install fonts-noto-cjk; pip install fonttools.
set -eu
here=$(dirname "$0")
ttc=/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc
# Find the SC face by name instead of trusting a fixed index.
face=$(python3 - "$ttc" <<'PY'
import sys
from fontTools.ttLib import TTCollection
for i, f in enumerate(TTCollection(sys.argv[1]).fonts):
    if f["name"].getDebugName(4) == "Noto Serif CJK SC Bold":
        print(i)
        break
else:
    sys.exit("Noto Serif CJK SC Bold not found in " + sys.argv[1])
PY
)
# Every character GB2312 encodes (rows 1-9 symbols, 16-87 hanzi), plus printable ASCII.
python3 - > "$here/charset.txt" <<'PY'
chars = {chr(c) for c in range(0x20, 0x7F)}
for hi in range(0xA1, 0xF8):
    for lo in range(0xA1, 0xFF):
        try:
            chars.add(bytes([hi, lo]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
print("".join(sorted(chars)))
PY
pyftsubset "$ttc" --font-number="$face" --text-file="$here/charset.txt" \
    --layout-features='' --no-hinting --desubroutinize --name-IDs='*' --name-legacy \
    --output-file="$here/NotoSerifSC-Bold-GB2312.otf"
rm "$here/charset.txt"
ls -l "$here/NotoSerifSC-Bold-GB2312.otf"
