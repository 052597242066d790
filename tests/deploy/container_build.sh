#!/usr/bin/env bash
# The container image of deploy/container/Dockerfile builds, and `spanwatch demo` runs from it.
#
# 1. With buildah (Debian package `buildah`) and a registry that serves the base images
#    (rust:1-bookworm, debian:bookworm-slim): `buildah build` from the repository root, then
#    `spanwatch demo` inside the image (buildah from + buildah run).
# 2. Otherwise (no buildah, or the base images cannot be pulled: a CI machine that reaches
#    crates.io and Debian but no container registry), what the build stage sees is rebuilt
#    from exactly the files the Dockerfile COPYs (its COPY lines parsed, its .dockerignore
#    applied; tests/deploy/lint.py docker-context) and `cargo build --release --locked` runs
#    there, as the build stage's RUN does. Then `spanwatch demo` runs with the configuration
#    the final stage copies, and its EVE output must equal the repository build's record for
#    record. A COPY missing from the Dockerfile fails the build (build.rs: OUT_DIR not
#    defined) or the comparison (rules/ missing: no alert). To build only spanwatch itself,
#    the compiled dependencies of the repository build are reused: hard links from
#    ${CARGO_TARGET_DIR:-target}/release into ${CARGO_TARGET_DIR:-target}/container-build.
#
# Needs: python3, cargo, libpcap-dev; the repository build's binary as $SPANWATCH_BIN
# (default ${CARGO_TARGET_DIR:-target}/release/spanwatch) for the comparison. Under CI=true
# a missing prerequisite is a failure. Prints "container_build: N passed, M failed".
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DF="$ROOT/deploy/container/Dockerfile"
LINT="python3 $HERE/lint.py"
TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
SPANWATCH_BIN="${SPANWATCH_BIN:-$TARGET/release/spanwatch}"
case "$SPANWATCH_BIN" in /*) ;; *) SPANWATCH_BIN="$ROOT/$SPANWATCH_BIN" ;; esac

PASS=0; FAIL=0
pass() { PASS=$((PASS + 1)); echo "PASS  $1"; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL  $1"; [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/      | /' "$2" | tail -n 30; return 0; }
finish() { echo "container_build: $PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }
skip() {
    if [ "${CI:-}" = true ]; then fail "cannot run under CI=true: $1"; else echo "SKIPPED: container_build: $1"; fi
    finish
}
for t in python3 cargo; do command -v "$t" >/dev/null || skip "$t not installed"; done
[ -x "$SPANWATCH_BIN" ] || skip "no spanwatch binary at $SPANWATCH_BIN to compare with (cargo build --release)"

TMP="$(mktemp -d /tmp/spanwatch-container.XXXXXX)"
CTR="" IMG="spanwatch-ci-test:$$"
cleanup() {
    if [ -n "$CTR" ]; then buildah rm "$CTR" >/dev/null 2>&1; buildah rmi "$IMG" >/dev/null 2>&1; fi
    if [ "$FAIL" = 0 ]; then rm -rf "$TMP"; else echo "(kept $TMP)"; fi
}
trap cleanup EXIT

# The static check first: the build stage copies every input of `cargo build`.
if $LINT dockerfile >"$TMP/lint.txt" 2>&1; then
    pass "Dockerfile: the build stage COPYs every input of the build ($(python3 -c "import sys; sys.path.insert(0, '$HERE'); sys.argv = ['x']; import lint; print(', '.join(lint.build_inputs()))"))"
else
    fail "Dockerfile lint" "$TMP/lint.txt"
fi
# negative control: the same Dockerfile without `COPY rules` is caught
grep -v '^COPY rules' "$DF" >"$TMP/Dockerfile.mutant"
cp "$DF.dockerignore" "$TMP/Dockerfile.mutant.dockerignore" 2>/dev/null
if $LINT dockerfile "$TMP/Dockerfile.mutant" >"$TMP/mutant.txt" 2>&1; then
    fail "the lint did not notice a Dockerfile without COPY rules (negative control)" "$TMP/mutant.txt"
else
    pass "the lint notices a Dockerfile without COPY rules (negative control)"
fi

# The reference: the repository build's demo with the image's configuration.
$LINT docker-context "$TMP/ctx" >"$TMP/context.txt" 2>&1 || { fail "docker-context: the COPY sources" "$TMP/context.txt"; finish; }
CONF="$TMP/ctx/final/etc/spanwatch/spanwatch.toml"
[ -f "$CONF" ] || { fail "the final stage copies no /etc/spanwatch/spanwatch.toml" "$TMP/context.txt"; finish; }
# the state file goes to the scratch folder, not /var/lib/spanwatch of this machine
sed -i "s|^state_file = .*|state_file = \"$TMP/hosts.json\"|" "$CONF"
# One worker (with several, which of two alerts of one identity is kept varies between runs)
# and no host state carried from one run to the next (each run starts without the file).
"$SPANWATCH_BIN" --config "$CONF" --workers 1 --eve "$TMP/eve-ref.json" -q demo >"$TMP/demo-ref.log" 2>&1 \
    || { fail "the repository build's demo with the image's configuration" "$TMP/demo-ref.log"; finish; }

demo_matches() {  # LOG EVE: same records as the reference, and alerts among them
    python3 - "$TMP/eve-ref.json" "$2" >"$TMP/compare.txt" 2>&1 <<'EOF'
import json, sys
ref = sorted(open(sys.argv[1]).read().splitlines())
got = sorted(open(sys.argv[2]).read().splitlines())
alerts = sum(1 for l in got if json.loads(l).get("event_type") == "alert")
print(f"{len(got)} records ({alerts} alerts); the repository build: {len(ref)}")
sys.exit(0 if got == ref and alerts > 0 else 1)
EOF
}

# ------------------------------------------------------------------ 1. a real builder
built=0
if command -v buildah >/dev/null; then
    bases=$(awk 'toupper($1) == "FROM" {print $2}' "$DF" | sort -u)
    pulled=1
    for b in $bases; do
        if ! timeout 120 buildah pull -q "docker.io/library/$b" >"$TMP/pull.log" 2>&1; then pulled=0; break; fi
    done
    if [ "$pulled" = 1 ]; then
        if timeout 1800 buildah build --layers -f "$DF" -t "$IMG" "$ROOT" >"$TMP/build.log" 2>&1; then
            pass "buildah build -f deploy/container/Dockerfile: image built"
            CTR=$(buildah from "$IMG" 2>/dev/null)
            if buildah run "$CTR" -- /usr/bin/spanwatch --workers 1 --eve /tmp/eve.json -q demo >"$TMP/demo-img.log" 2>&1 &&
               buildah run "$CTR" -- cat /tmp/eve.json >"$TMP/eve-img.json" 2>>"$TMP/demo-img.log" &&
               demo_matches "$TMP/demo-img.log" "$TMP/eve-img.json"; then
                pass "spanwatch demo inside the image (uid $(buildah run "$CTR" -- id -u 2>/dev/null)): $(cat "$TMP/compare.txt")"
            else
                cat "$TMP/compare.txt" >>"$TMP/demo-img.log" 2>/dev/null
                fail "spanwatch demo inside the image" "$TMP/demo-img.log"
            fi
            built=1
        else
            fail "buildah build -f deploy/container/Dockerfile" "$TMP/build.log"; finish
        fi
    else
        echo "      buildah cannot pull $b here ($(tail -1 "$TMP/pull.log" | cut -c1-160)): building from the files the Dockerfile copies instead"
    fi
else
    echo "      buildah not installed: building from the files the Dockerfile copies"
fi

# ------------------------------------------------------------------ 2. from the copied files
if [ "$built" = 0 ]; then
    SRC="$TMP/ctx/build/$(sed -n 's/^build stage workdir \///p' "$TMP/context.txt")"
    [ -f "$SRC/Cargo.toml" ] || { fail "the build stage's WORKDIR holds no Cargo.toml" "$TMP/context.txt"; finish; }
    CT="$TARGET/container-build"
    if [ ! -d "$CT/release/deps" ] && [ -d "$TARGET/release/deps" ]; then
        mkdir -p "$CT/release"
        for d in deps build .fingerprint; do cp -al "$TARGET/release/$d" "$CT/release/" 2>/dev/null || cp -a "$TARGET/release/$d" "$CT/release/"; done
    fi
    t0=$(date +%s)
    if (cd "$SRC" && CARGO_TARGET_DIR="$CT" cargo build --release --locked --bin spanwatch) >"$TMP/build.log" 2>&1 &&
       "$CT/release/spanwatch" --version >>"$TMP/build.log" 2>&1; then
        pass "cargo build --release --locked in a folder holding only what the Dockerfile COPYs ($(sed -n 's/^build: //p' "$TMP/context.txt" | cut -d' ' -f1 | tr '\n' ' ')) in $(( $(date +%s) - t0 ))s"
    else
        fail "cargo build from the files the Dockerfile copies" "$TMP/build.log"; finish
    fi
    rm -f "$TMP"/hosts.json*
    if "$CT/release/spanwatch" --config "$CONF" --workers 1 --eve "$TMP/eve-img.json" -q demo >"$TMP/demo-img.log" 2>&1 &&
       demo_matches "$TMP/demo-img.log" "$TMP/eve-img.json"; then
        pass "spanwatch demo from that build, with the configuration the image copies: $(cat "$TMP/compare.txt")"
    else
        cat "$TMP/compare.txt" >>"$TMP/demo-img.log" 2>/dev/null
        fail "spanwatch demo from the copied files' build differs from the repository build" "$TMP/demo-img.log"
    fi
fi
finish
