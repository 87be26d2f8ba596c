#!/usr/bin/env bash
# Debian packages the project uses beyond PyPI: the colour emoji font (figures, report, demo
# images) and Chromium + its driver (browser tests). Installed only where missing, only as root
# with apt-get; elsewhere a warning, and the code falls back (emoji names, skipped browser tests).
set -u
want=()
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || want+=(fonts-noto-color-emoji)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v chromedriver >/dev/null 2>&1 || want+=(chromium-driver)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${want[*]}"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null \
    || echo "warning: could not install ${want[*]}; emoji glyphs fall back to names, browser tests are skipped" >&2
else
  echo "warning: missing ${want[*]} (install them with your package manager); emoji glyphs fall back to names, browser tests are skipped" >&2
fi
exit 0
