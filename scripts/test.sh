#!/usr/bin/env bash
# The project's test command: `bash scripts/test.sh` (CI runs it via .ci/run).
#
# On a fresh Debian 12 machine, as root, it installs what the tests need and
# then runs every check:
#   apt:    tshark, tmux, iproute2, python3 + python3-venv (only those missing)
#   venv:   target/spdk-venv with SPDK's client (PyPI spdk==26.5), reused
#   rustup: rustfmt, clippy (only if missing)
#   checks: cargo fmt --check, cargo clippy -D warnings, cargo test
# clippy and the tests both use the `ci` profile (release code generation
# with overflow checks and debug assertions on, see Cargo.toml), so the
# workspace is built once. A re-run skips every install that is already in
# place.
set -euo pipefail

SPDK_PY_VERSION=26.5

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*" >&2; }
die() {
    printf '\nscripts/test.sh: ERROR: %s\n' "$*" >&2
    exit 1
}
trap 'rc=$?; printf "\nscripts/test.sh: FAILED (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2' ERR

# ---- toolchain ---------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup first"

# ---- Debian packages ---------------------------------------------------------------
pkgs=()
command -v tshark >/dev/null 2>&1 || pkgs+=(tshark)
command -v tmux >/dev/null 2>&1 || pkgs+=(tmux)
command -v ip >/dev/null 2>&1 || pkgs+=(iproute2) # tests/netns.rs: ip netns, veth
if ! command -v python3 >/dev/null 2>&1; then
    pkgs+=(python3 python3-venv)
elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    pkgs+=(python3-venv) # Debian ships venv's ensurepip separately
fi
if [ "${#pkgs[@]}" -gt 0 ]; then
    step "apt-get install ${pkgs[*]}"
    [ "$(id -u)" -eq 0 ] || die "need root to install ${pkgs[*]} (or install them yourself)"
    export DEBIAN_FRONTEND=noninteractive
    # tshark's wireshark-common asks whether non-root users may capture: no.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -q || die "apt-get update failed"
    apt-get install -y -q --no-install-recommends "${pkgs[@]}" || die "apt-get install ${pkgs[*]} failed"
fi

# ---- SPDK's RPC client in a venv ---------------------------------------------------
VENV="$ROOT/target/spdk-venv"
have_spdk() {
    [ -x "$VENV/bin/spdk-rpc" ] &&
        "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('spdk') != '$SPDK_PY_VERSION')" 2>/dev/null
}
if ! have_spdk; then
    step "python venv $VENV with spdk==$SPDK_PY_VERSION"
    rm -rf "$VENV"
    mkdir -p "$ROOT/target"
    python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
    "$VENV/bin/pip" install -q "spdk==$SPDK_PY_VERSION" || die "pip install spdk==$SPDK_PY_VERSION failed"
    have_spdk || die "$VENV/bin/spdk-rpc missing after installing spdk==$SPDK_PY_VERSION"
fi
export SPDK_RPC="$VENV/bin/spdk-rpc"

# ---- rustfmt, clippy ---------------------------------------------------------------
for c in fmt clippy; do
    if ! cargo "$c" --version >/dev/null 2>&1; then
        comp=$([ "$c" = fmt ] && echo rustfmt || echo clippy)
        step "rustup component add $comp"
        command -v rustup >/dev/null 2>&1 || die "cargo $c missing and no rustup to add $comp"
        rustup component add "$comp" || die "rustup component add $comp failed"
    fi
done

# ---- checks ------------------------------------------------------------------------
step "cargo fmt --all -- --check"
cargo fmt --all -- --check || die "formatting differs: run 'cargo fmt --all'"

step "cargo clippy --profile ci --workspace --all-targets -- -D warnings"
cargo clippy --profile ci --workspace --all-targets -- -D warnings || die "clippy found problems (above)"

step "cargo test --profile ci --workspace --no-fail-fast (SPDK_RPC=$SPDK_RPC)"
cargo test --profile ci --workspace --no-fail-fast || die "tests failed (above)"

step "all checks passed"
