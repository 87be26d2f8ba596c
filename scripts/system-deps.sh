#!/usr/bin/env bash
# Debian packages the project uses beyond PyPI: the colour emoji font (figures, report, demo
# images), Chromium + its driver (browser tests) and a Java runtime of version 17 or newer (the
# Spark distributor of `download`; pyspark 4 starts a JVM). Installed only where missing, only as
# root with apt-get; elsewhere a warning, and the code falls back (emoji names, skipped browser
# and Spark tests, a one-line error from `download --distributor pyspark`).
set -u
java_major() {  # the major version of the java Spark would start (JAVA_HOME's, else PATH's), or 0
  local java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
  command -v "$java" >/dev/null 2>&1 || { echo 0; return; }
  local v
  v=$("$java" -version 2>&1 | sed -n 's/.* version "\([0-9][0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2/p' | head -n1)
  set -- $v
  if [ "${1:-0}" = 1 ]; then echo "${2:-0}"; else echo "${1:-0}"; fi  # "1.8.0" is Java 8
}
want=()
[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || want+=(fonts-noto-color-emoji)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v chromedriver >/dev/null 2>&1 || want+=(chromium-driver)
[ "$(java_major)" -ge 17 ] || want+=(default-jre-headless)  # Debian 12: Java 17, Debian 13: Java 21
[ ${#want[@]} -eq 0 ] && exit 0
fallback="emoji glyphs fall back to names, browser and Spark tests are skipped"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${want[*]}"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null \
    || echo "warning: could not install ${want[*]}; $fallback" >&2
  [ "$(java_major)" -ge 17 ] || echo "warning: no Java 17+ after installing default-jre-headless: install openjdk-17-jre-headless or set JAVA_HOME" >&2
else
  echo "warning: missing ${want[*]} (install them with your package manager); $fallback" >&2
fi
exit 0
