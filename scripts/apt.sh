# Sourced by scripts/install-deps.sh and scripts/install-fuzz-deps.sh.
#
# install_missing LABEL PACKAGE...: installs (apt-get, with sudo when not
# root) those of the Debian packages that are not installed yet; says what
# it installs, prefixed with LABEL, and nothing at all when every package is
# present. A PACKAGE written COMMAND=PACKAGE counts as present when COMMAND
# is on the PATH, whatever installed it (e.g. node=nodejs).
install_missing() {
  local label=$1
  shift
  local missing=() p
  for p in "$@"; do
    if [[ $p == *=* ]]; then
      command -v "${p%%=*}" >/dev/null 2>&1 || missing+=("${p#*=}")
    else
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0

  echo "$label: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
