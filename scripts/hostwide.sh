#!/bin/sh
# hostwide.sh: host-wide mode's two system files, for make install-preload
# and make uninstall (README, "Host-wide mode"): /etc/ld.so.preload, which
# makes the loader put the library into every dynamically linked program
# the host starts, and /etc/swerve/swerve.ini, the config those programs
# read when SWERVE_CONFIG does not name another.
#   scripts/hostwide.sh enable  ROOT LIBRARY EXAMPLE
#   scripts/hostwide.sh disable ROOT LIBRARY EXAMPLE
# ROOT is make's DESTDIR (empty for this machine), LIBRARY the library's
# path as the loader will read it (without ROOT), EXAMPLE the config that
# enable installs when there is none and that disable removes while it is
# still unedited. Both are idempotent. Every change to a file is a rename
# of a complete new one: each program the host starts meanwhile reads
# these files, and must find them whole.
set -eu

die() {
	echo "hostwide: $*" >&2
	exit 1
}

[ $# -eq 4 ] || die "usage: hostwide.sh enable|disable ROOT LIBRARY EXAMPLE"
cmd=$1 root=$2 lib=$3 example=$4
preload=$root/etc/ld.so.preload
conf=$root/etc/swerve/swerve.ini

# Writes standard input to <file> through a temporary file beside it,
# keeping the old file's mode (0644 for a new one).
replace() {
	tmp=$1.swerve-new
	cat > "$tmp"
	if [ -e "$1" ]; then
		chmod --reference="$1" "$tmp"
	else
		chmod 0644 "$tmp"
	fi
	mv -f "$tmp" "$1"
}

warn_enabled() {
	cat >&2 <<EOF

  WARNING: swerve's host-wide mode is on.
  Every dynamically linked program this host starts from now on, for every
  user, loads $lib (named in /etc/ld.so.preload) and
  reads /etc/swerve/swerve.ini: the names configured there resolve to
  swerve's service addresses and their connections are steered, in every
  program. Setuid and setgid programs too: they read only
  /etc/swerve/swerve.ini (never SWERVE_CONFIG) and keep a health table of
  their own (/swerve.<euid>). Programs already running are not affected.
  Edit /etc/swerve/swerve.ini before anything relies on it: as installed
  it holds the example service mydb.com.
  Undo: make uninstall (as root), or delete the line
        $lib from /etc/ld.so.preload.

EOF
}

hostwide_enable() {
	if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
		die "host-wide mode changes /etc/ld.so.preload: run as root"
	fi
	# The loader splits ld.so.preload at blanks and colons.
	case $lib in
	*[[:space:]:]*)
		die "'$lib': the loader splits a path with blanks or ':'" ;;
	/*) ;;
	*) die "'$lib' is not an absolute path" ;;
	esac
	# A library the loader cannot load costs every program on the host an
	# error line: it must load cleanly before it is listed.
	out=$(LD_PRELOAD=$root$lib /bin/true 2>&1) ||
		die "$root$lib does not load: $out"
	[ -z "$out" ] || die "$root$lib does not load cleanly: $out"

	# The config before the line: a program that loads the library must
	# find the config complete.
	if [ -e "$conf" ]; then
		echo "hostwide: $conf exists: kept as it is"
	else
		mkdir -p "$(dirname "$conf")"
		replace "$conf" < "$example"
		echo "hostwide: wrote $conf from $example"
	fi
	if [ -f "$preload" ] && grep -qxF "$lib" "$preload"; then
		echo "hostwide: $preload already names $lib"
	else
		{
			# sed adds the newline a last line may lack.
			# shellcheck disable=SC1003 # sed's own backslash
			if [ -s "$preload" ]; then sed -e '$a\' "$preload"; fi
			printf '%s\n' "$lib"
		} | replace "$preload"
		echo "hostwide: added $lib to $preload"
	fi
	warn_enabled
}

hostwide_disable() {
	if [ -f "$preload" ] && grep -qxF "$lib" "$preload"; then
		# Every other line stays as it was; a file left empty goes
		# (to the loader, no file and an empty one are the same).
		grep -vxF "$lib" "$preload" | replace "$preload"
		[ -s "$preload" ] || rm -f "$preload"
		echo "hostwide: removed $lib from $preload"
	fi
	[ -f "$conf" ] || return 0
	if cmp -s "$example" "$conf"; then
		rm -f "$conf"
		rmdir "$(dirname "$conf")" 2>/dev/null || true
		echo "hostwide: removed $conf (unedited)"
	else
		echo "hostwide: note: $conf was edited: kept; delete it" \
			"yourself if you no longer need it" >&2
	fi
}

case $cmd in
enable) hostwide_enable ;;
disable) hostwide_disable ;;
*) die "usage: hostwide.sh enable|disable ROOT LIBRARY EXAMPLE" ;;
esac
