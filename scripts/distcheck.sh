#!/bin/sh
# distcheck.sh TARBALL VERSION COMMIT: what a fresh machine does with a
# release tarball (make distcheck): unpacks it in a temporary directory,
# away from any git checkout, builds it with make all, checks that both
# tools report VERSION and the COMMIT the tarball was made from (there is
# no .git to ask there), and installs it into a DESTDIR. The outer make's
# variables are left out, so the build is the tarball's own defaults.
set -eu
if [ $# -ne 3 ]; then
	echo "usage: distcheck.sh TARBALL VERSION COMMIT" >&2
	exit 2
fi
tarball=$(realpath "$1")
version=$2
commit=$3
unset MAKEFLAGS MFLAGS MAKELEVEL
tmp=$(mktemp -d /tmp/swerve-distcheck-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "distcheck: $*" >&2
	exit 1
}

tar -C "$tmp" -xzf "$tarball"
src=$tmp/swerve-$version
[ -f "$src/Makefile" ] || fail "the tarball has no swerve-$version/Makefile"
[ ! -e "$src/.git" ] || fail "the tarball holds a .git"
[ "$(cat "$src/COMMIT")" = "$commit" ] || fail "COMMIT is not $commit"

echo "distcheck: building $tarball in $src"
make -C "$src" -j2 all >"$tmp/build.log" 2>&1 ||
	{ tail -30 "$tmp/build.log" >&2; fail "make all failed"; }
for tool in swerve swervectl; do
	got=$("$src/build/$tool" --version)
	want="$tool $version (commit $commit)"
	[ "$got" = "$want" ] || fail "$tool --version: '$got', not '$want'"
done
make -C "$src" install DESTDIR="$tmp/dest" PREFIX=/usr >/dev/null ||
	fail "make install failed"
for f in bin/swerve bin/swervectl lib/swerve/libswerve.so; do
	[ -f "$tmp/dest/usr/$f" ] || fail "make install left out /usr/$f"
done
echo "distcheck: ok ($tarball builds, installs and says '$want')"
