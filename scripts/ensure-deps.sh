# Sourced by demo.sh and test.sh: installs with apt-get what a fresh Debian
# machine lacks (tmux), as root or through sudo.
ensure_deps() {
    local missing=()
    command -v tmux >/dev/null 2>&1 || missing+=(tmux)
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "==> installing ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
}
