#!/bin/bash
# make deb's packages, as a Debian 12 machine would live them: built with
# debhelper and lintian-clean (scripts/build-deb), installed with dpkg into
# a copy-on-write view of this machine (overlayfs over /usr, /etc and /var
# in a private mount namespace, entered with chroot), checked (files,
# conffiles, users and groups, config permissions, units not enabled,
# `systemd-analyze verify` on the installed units, the installed scheduler
# answering), then removed and purged: no user, no file, no state left,
# and nothing of the machine's own changed or deleted.
# Usage: debian_packages.sh SOURCE_ROOT WORK_DIR
set -u
src=${1:?}; work=${2:?}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg, chroot, overlay mounts)"
for t in dpkg-buildpackage dh lintian unshare chroot help2man; do
    command -v "$t" >/dev/null 2>&1 || skip "no $t (scripts/install-deps installs it)"
done
unshare -m true 2>/dev/null || skip "cannot make a mount namespace here"

rm -rf "$work" && mkdir -p "$work/out" || exit 1
echo "== make deb (scripts/build-deb)"
if ! "$src/scripts/build-deb" "$work/out" >"$work/build.log" 2>&1; then
    tail -40 "$work/build.log"
    fail "the package build or lintian failed (log: $work/build.log)"
fi
grep -E '^[EW]: ' "$work/build.log" && fail "lintian reported the above"
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
for p in weftd weft-scheduler weft-tools; do
    [ -f "$work/out/${p}_${version}_${arch}.deb" ] || fail "no ${p}_${version}_${arch}.deb"
done

# What each package must carry.
has() { # PACKAGE PATH...
    local p=$1 list
    shift
    list=$(dpkg-deb -c "$work/out/${p}_${version}_${arch}.deb" | awk '{print $6}')
    for f in "$@"; do
        grep -qx "\./${f#/}" <<<"$list" || fail "$p lacks $f"
    done
}
has weftd /usr/bin/weftd /lib/systemd/system/weftd.service /etc/weft/weftd.json \
    /usr/share/man/man8/weftd.8.gz /usr/share/doc/weftd/node.md.gz /usr/share/doc/weftd/copyright
has weft-scheduler /usr/bin/weft-scheduler /lib/systemd/system/weft-scheduler.service \
    /etc/weft/weft-scheduler.json /usr/share/man/man8/weft-scheduler.8.gz
has weft-tools /usr/bin/weftctl /usr/bin/weft-energy /usr/bin/weft-panelsim /usr/bin/weft-infer \
    /usr/bin/weft-convert /usr/share/man/man1/weftctl.1.gz
for p in weftd weft-scheduler; do
    conf=$(dpkg-deb -I "$work/out/${p}_${version}_${arch}.deb" conffiles)
    [ "$conf" = "/etc/weft/$p.json" ] || fail "$p conffiles: '$conf'"
done

cp "$work"/out/weftd_"$version"_"$arch".deb "$work"/out/weft-scheduler_"$version"_"$arch".deb \
    "$work"/out/weft-tools_"$version"_"$arch".deb "$work/" || exit 1

# Everything below runs in its own mount namespace: the overlays vanish
# with it, whatever happens.
export work version arch
unshare -m --propagation private bash -s <<'INNER'
set -u
fail() { echo "FAIL: $*"; exit 1; }
R=$work/root
mkdir -p "$R" || exit 1
for d in usr etc var; do
    mkdir -p "$work/up/$d" "$work/wk/$d" "$R/$d"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/up/$d,workdir=$work/wk/$d" "$R/$d" ||
        fail "cannot mount an overlay on /$d"
done
for d in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$d" ]; then
        ln -s "$(readlink "/$d")" "$R/$d"
    elif [ -d "/$d" ]; then
        fail "/$d is not a link into /usr (this test expects a merged /usr)"
    fi
done
mkdir -p "$R/proc" "$R/dev" "$R/tmp" "$R/run" "$R/root"
mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" &&
    mount -t tmpfs tmpfs "$R/tmp" && mount -t tmpfs tmpfs "$R/run" || fail "cannot mount proc/dev/tmp/run"
cp "$work"/*.deb "$R/tmp/"
inr() { chroot "$R" "$@"; }

echo "== dpkg -i"
inr env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/weftd_"$version"_"$arch".deb \
    /tmp/weft-scheduler_"$version"_"$arch".deb /tmp/weft-tools_"$version"_"$arch".deb ||
    fail "dpkg -i failed"
for p in weftd weft-scheduler weft-tools; do
    st=$(inr dpkg-query -W -f='${Status}' "$p")
    [ "$st" = "install ok installed" ] || fail "$p: $st"
done

echo "== users, groups, permissions"
for u in weftd weft-scheduler; do
    ent=$(inr getent passwd "$u") || fail "no user $u"
    IFS=: read -r _ _ uid _ _ home shell <<<"$ent"
    [ "$uid" -lt 1000 ] || fail "$u is not a system user (uid $uid)"
    [ "$home" = "/var/lib/$u" ] || fail "$u home: $home"
    [ "$shell" = /usr/sbin/nologin ] || fail "$u shell: $shell"
    inr getent group "$u" >/dev/null || fail "no group $u"
    perm=$(inr stat -c '%U:%G %a' "/var/lib/$u")
    [ "$perm" = "$u:$u 700" ] || fail "/var/lib/$u is $perm, not $u:$u 700"
    perm=$(inr stat -c '%U:%G %a' "/etc/weft/$u.json")
    [ "$perm" = "root:$u 640" ] || fail "/etc/weft/$u.json is $perm, not root:$u 640"
done
groups=$(inr id -nG weftd)
for g in video dialout; do
    inr getent group "$g" >/dev/null || continue
    grep -qw "$g" <<<"$groups" || fail "weftd is not in $g (groups: $groups)"
done
! grep -qw video <<<"$(inr id -nG weft-scheduler)" || fail "weft-scheduler is in video"

echo "== units"
for u in weftd weft-scheduler; do
    [ -e "$R/etc/systemd/system/multi-user.target.wants/$u.service" ] &&
        fail "$u.service was enabled before it was configured"
done
out=$(inr systemd-analyze verify /lib/systemd/system/weftd.service \
    /lib/systemd/system/weft-scheduler.service 2>&1)
[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify on the installed units"; }
grep -q '^ExecStart=/usr/bin/weftd ' "$R/lib/systemd/system/weftd.service" ||
    fail "the installed weftd unit does not run /usr/bin/weftd"

echo "== the installed programs"
inr weftd --version | grep -q "^weftd $version " || fail "weftd --version"
msg=$(inr weftd --check-config /etc/weft/weftd.json 2>&1) && fail "the example config passed without a model"
grep -q 'models\[0\].path' <<<"$msg" || fail "weftd --check-config: $msg"
inr man -w weftctl >/dev/null || fail "man weftctl finds no page"
# The scheduler under its own user, on the state directory systemd would
# make, answering on loopback; and some node state for purge to take.
inr install -d -o weftd -g weftd -m 0700 /var/lib/weftd/models
echo x > "$R/var/lib/weftd/models/placeholder.gguf"
chroot "$R" setpriv --reuid weft-scheduler --regid weft-scheduler --init-groups \
    weft-scheduler --plain-http --listen 127.0.0.1 --port 0 \
    --state-dir /var/lib/weft-scheduler >"$work/sched.log" 2>&1 &
spid=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening on port \([0-9][0-9]*\).*/\1/p' "$work/sched.log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/sched.log"; fail "the installed scheduler did not listen"; }
curl -fsS "http://127.0.0.1:$port/healthz" >"$work/healthz" || fail "GET /healthz"
kill "$spid"; wait "$spid"
[ -s "$R/var/lib/weft-scheduler/weft.db" ] || fail "the scheduler kept no store"

echo "== dpkg --remove, then --purge"
inr dpkg --remove weft-tools weftd weft-scheduler || fail "dpkg --remove"
[ -e "$R/usr/bin/weftd" ] && fail "weftd is still there after --remove"
[ -e "$R/etc/weft/weftd.json" ] || fail "--remove took the conffile (only --purge may)"
st=$(inr dpkg-query -W -f='${Status}' weft-tools 2>/dev/null)
[ -z "$st" ] || [ "$st" = "unknown ok not-installed" ] || fail "weft-tools after --remove: $st"
inr dpkg --purge weftd weft-scheduler || fail "dpkg --purge"
for u in weftd weft-scheduler; do
    inr getent passwd "$u" >/dev/null && fail "user $u left after purge"
    inr getent group "$u" >/dev/null && fail "group $u left after purge"
    inr dpkg-statoverride --list "/etc/weft/$u.json" >/dev/null && fail "statoverride left for $u"
done
grep -h weft "$R/etc/group" "$R/etc/gshadow" && fail "a group still names weftd"

# Nothing left behind: no path with "weft" in it anywhere the overlays
# caught writes; no whiteout (a file of this machine deleted); and every
# other file written is either dpkg's, man-db's or a shadow backup, or is
# again what this machine has. (man-db's cache of formatted pages is its
# own, filled when systemd-analyze checked the units' man: links, and
# pruned by its daily job.)
left=$(cd "$work/up" && find . -path '*weft*' ! -path './var/cache/man/*')
[ -z "$left" ] || { echo "$left"; fail "left after purge"; }
wo=$(cd "$work/up" && find . -type c)
[ -z "$wo" ] || { echo "$wo"; fail "the packages deleted files of the machine"; }
changed=""
while IFS= read -r f; do
    case "$f" in
    ./var/lib/dpkg/* | ./var/log/* | ./var/cache/man/* | ./var/cache/debconf/* | ./etc/*-) continue ;;
    esac
    cmp -s "$work/up/$f" "/$f" || changed="$changed ${f#.}"
done < <(cd "$work/up" && find . ! -type d)
[ -z "$changed" ] || fail "changed and not restored after purge:$changed"
echo "packages built, lintian-clean, installed, verified and purged without a trace"
INNER
