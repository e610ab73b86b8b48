# Debian packages the Python ones cannot bring, installed one way for `./run demo` (bubblewrap)
# and tests/setup.sh (bubblewrap, chromium, nodejs/npm): as root, or through sudo.
# Sourced, not run: `apt_install WHO PACKAGE...` (WHO names the caller in its messages).

APT_UPDATED=""

# Whether this user may install without being asked anything (root, or sudo without a password).
apt_may_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null
}

apt_install() {
  local who="$1" sudo=""
  shift
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "$who: installing Debian's $*..." >&2
  if [ -z "$APT_UPDATED" ]; then
    $sudo apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}
