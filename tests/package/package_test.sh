#!/usr/bin/env bash
# The Debian package as a user gets it: `make package` builds it (CPack);
# here it is built from the test's build tree, its contents checked,
# installed with dpkg into a private root (so the machine is not changed),
# and the installed mpc-node asked for its version. apt-get checks, without
# installing, that its dependencies resolve on this system.
set -euo pipefail
build="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cpack --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log"; exit 1; }
deb="$(ls "$tmp"/out/*.deb)"
echo "package: $(basename "$deb")"

info="$(dpkg-deb --info "$deb")"
grep -q "Package: mpc-backup" <<<"$info" || { echo "FAIL: not the mpc-backup package"; exit 1; }
grep -q "Depends: .*libssl3" <<<"$info" || { echo "FAIL: no library dependencies recorded"; echo "$info"; exit 1; }
# mpc-node's allocator (jemalloc unless a sanitizer build) is a dependency too.
if ldd "$build/apps/mpc-node" | grep -q libjemalloc; then
  grep -q "Depends: .*libjemalloc2" <<<"$info" || { echo "FAIL: mpc-node links jemalloc, the package does not depend on it"; echo "$info"; exit 1; }
fi

contents="$(dpkg-deb --contents "$deb")"
for f in usr/bin/mpc-node usr/bin/backup-cli usr/bin/mpc-sandbox usr/bin/mpc-devnet usr/bin/mpc-attest \
         usr/lib/systemd/system/mpc-node.service usr/lib/systemd/system/backup-cli.service \
         usr/share/man/man1/mpc-node.1.gz usr/share/man/man1/backup-cli.1.gz \
         usr/share/man/man1/mpc-sandbox.1.gz usr/share/man/man1/mpc-devnet.1.gz usr/share/man/man1/mpc-attest.1.gz; do
  grep -q " \./$f\$" <<<"$contents" || { echo "FAIL: $f missing from the package"; echo "$contents"; exit 1; }
done

root="$tmp/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
dpkg --root="$root" --log=/dev/null --force-depends --force-not-root -i "$deb" >"$tmp/dpkg.log" 2>&1 ||
  { cat "$tmp/dpkg.log"; exit 1; }
dpkg --root="$root" -s mpc-backup | grep -q "Status: install ok installed" || { echo "FAIL: dpkg does not list it"; exit 1; }
version="$("$root/usr/bin/mpc-node" --version)"
[[ "$version" == mpc-node\ * ]] || { echo "FAIL: mpc-node --version printed '$version'"; exit 1; }
echo "installed: $version"
zcat "$root/usr/share/man/man1/backup-cli.1.gz" | grep -Eq 'get\\?-keyshares' || { echo "FAIL: the man page lacks the subcommands"; exit 1; }

if command -v apt-get >/dev/null && [ "$(id -u)" -eq 0 ]; then
  apt-get install --simulate --no-install-recommends "$deb" >"$tmp/apt.log" 2>&1 ||
    { echo "FAIL: the package's dependencies do not resolve"; cat "$tmp/apt.log"; exit 1; }
fi
