# Sourced by demo.sh and test.sh: installs with apt-get what a fresh Debian
# machine lacks, as root or through sudo: tmux (all the demo needs).
#
# `ensure_deps tests` also installs node with npm (the tests' real-runtime
# lab installs pi, Codex CLI and Claude Code from npm); systemd, for
# systemd-analyze: the tests
# check the unit `fleet init` writes with `systemd-analyze verify` (systemd
# need not be running); and OpenSSH, server and client: the multi-host
# tests run real sshd hosts on loopback (tests/runner/sshlab.rs); and
# Chromium with its chromedriver: the web page's tests drive real headless
# Chromium over WebDriver (tests/runner/browser.rs).
ensure_deps() {
    local missing=()
    command -v tmux >/dev/null 2>&1 || missing+=(tmux)
    if [ "${1:-}" = tests ]; then
        command -v node >/dev/null 2>&1 || missing+=(nodejs)
        command -v npm >/dev/null 2>&1 || missing+=(npm)
        command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
        # sshd is in /usr/sbin, which a user's PATH may lack.
        [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
        command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
        # fleet serve's HTTPS test makes its certificate with openssl.
        command -v openssl >/dev/null 2>&1 || missing+=(openssl)
        # fleet serve's page is tested in real headless Chromium.
        command -v chromium >/dev/null 2>&1 || missing+=(chromium)
        command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
        # The page's tests count the server's connections with ss.
        command -v ss >/dev/null 2>&1 || missing+=(iproute2)
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "==> installing ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
}
