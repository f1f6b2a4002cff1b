# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shared helpers for Span's build and lab scripts. Source it; do not run it.
#
# Layout invariants:
#   $TOP    the repository root (the directory holding this scripts/ folder)
#   $BUILD  $TOP/build, git-ignored: every build output and log lands here
#   $CACHE  outside the repository ($SPAN_CACHE, default ~/.cache/span):
#           downloaded sources, pristine source repositories and build
#           outputs keyed by a hash of their inputs. Deleting it is always
#           safe; it only costs a rebuild.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$TOP/build
CACHE=${SPAN_CACHE:-${HOME:-/root}/.cache/span}
JOBS=${JOBS:-$(nproc)}
export TOP BUILD CACHE JOBS

# Progress lines go to stderr so that stdout stays machine-readable.
say()  { printf '[span %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { printf 'span: error: %s\n' "$*" >&2; exit 1; }

# read_base linux|qemu: sets BASE_package BASE_version BASE_tarball
# BASE_sha256 BASE_topdir from patches/<what>/base.
read_base() {
	local f=$TOP/patches/$1/base k v
	[ -f "$f" ] || die "missing $f"
	# Every key is required; none is left over from the other base.
	BASE_package='' BASE_version='' BASE_tarball='' BASE_sha256='' BASE_topdir=''
	while IFS='=' read -r k v; do
		case "$k" in ''|'#'*) continue ;; esac
		printf -v "BASE_$k" '%s' "$v"
	done < "$f"
	: "${BASE_package:?}" "${BASE_version:?}" "${BASE_tarball:?}" "${BASE_sha256:?}" "${BASE_topdir:?}"
}

# base_tarball linux|qemu: prints the path of the pinned source tarball.
base_tarball() {
	read_base "$1"
	case "$BASE_tarball" in
	/*) echo "$BASE_tarball" ;;
	*) echo "$CACHE/src/$BASE_tarball" ;;
	esac
}

# hash_inputs PATH...: one sha256 over the names and contents of every file
# below the given paths (missing paths hash as absent). Stable across clones.
hash_inputs() {
	local p
	for p in "$@"; do
		if [ -d "$p" ]; then
			(cd "$p" && find . -type f ! -name '*.swp' -print0 | LC_ALL=C sort -z |
				xargs -0r sha256sum) | sed "s|  \./|  $p/|"
		elif [ -f "$p" ]; then
			sha256sum "$p"
		else
			echo "absent $p"
		fi
	done | sed "s|$TOP/||" | sha256sum | cut -c1-16
}

# cache_restore KEY DEST: unpack a cached output directory; false on a miss.
cache_restore() {
	local tar=$CACHE/out/$1.tar
	[ -f "$tar" ] || return 1
	rm -rf "$2" && mkdir -p "$2" && tar -xf "$tar" -C "$2"
}

# cache_store KEY SRC: save an output directory under KEY (atomically).
cache_store() {
	mkdir -p "$CACHE/out"
	tar -cf "$CACHE/out/$1.tar.tmp.$$" -C "$2" . &&
		mv "$CACHE/out/$1.tar.tmp.$$" "$CACHE/out/$1.tar"
	# Keep the cache bounded: drop outputs unused for two weeks.
	find "$CACHE/out" -name '*.tar' -mtime +14 -delete 2>/dev/null || true
}

# tree_state linux|qemu: the state of build/<what>:
#   pristine  exactly the exported series (its outputs may be cached);
#   stale     no local work, but patches/<what> changed since it was
#             prepared (prepare-tree may replace it);
#   dev       local commits or edits not exported (never thrown away);
#   absent    no tree.
tree_state() {
	local t=$BUILD/$1
	[ -d "$t/.git" ] || { echo absent; return; }
	if [ "$(git -C "$t" rev-parse HEAD)" != "$(cat "$t/.git/span-prepared-head" 2>/dev/null)" ] ||
	   [ -n "$(git -C "$t" status --porcelain --untracked-files=no)" ]; then
		echo dev
	elif [ "$(cat "$t/.git/span-series-hash" 2>/dev/null)" = "$(series_hash "$1")" ]; then
		echo pristine
	else
		echo stale
	fi
}

# series_hash linux|qemu: identifies the base and the patch series. (The new
# files are symlinked into the tree, so they never make it stale.)
series_hash() {
	hash_inputs "$TOP/patches/$1"
}

# overlay_dir linux|qemu: the folder whose files are new upstream files.
overlay_dir() {
	case "$1" in linux) echo "$TOP/kernel" ;; qemu) echo "$TOP/qemu" ;; esac
}

# sync_overlay linux|qemu: symlink every file of kernel/ (or qemu/) into the
# tree at its upstream path and keep git in the tree blind to them, so that
# edits in either place are the same edit and export-patches never sees them.
sync_overlay() {
	local t=$BUILD/$1 src f
	src=$(overlay_dir "$1")
	[ -d "$src" ] || return 0
	: > "$t/.git/info/exclude"
	(cd "$src" && find . -type f ! -name '*.swp' | sed 's|^\./||') | while read -r f; do
		if git -C "$t" ls-files --error-unmatch "$f" >/dev/null 2>&1; then
			die "$src/$f shadows an upstream file; change it with a patch instead"
		fi
		mkdir -p "$t/$(dirname "$f")"
		ln -sfn "$src/$f" "$t/$f"
		echo "/$f" >> "$t/.git/info/exclude"
	done
}
