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

# series_hash linux|qemu: identifies the base and the patch series as the
# development tree applies it: the new files the series carries are left out
# (they come from the overlay, which the build keys hash on their own), so
# exporting an edit of a kernel/ or qemu/ file never makes a tree stale.
series_hash() {
	local dir=$TOP/patches/$1 p ex
	ex=$(mktemp)
	new_file_paths "$1" > "$ex"
	{
		cat "$dir/base"
		series_patches "$1"
		series_patches "$1" | while read -r p; do
			strip_new_files "$ex" < "$dir/$p"
		done
	} | sha256sum | cut -c1-16
	rm -f "$ex"
}

# series_key linux|qemu PATH...: the cache key of a build of the development
# tree: the series as series_hash sees it, the overlay and the given paths.
series_key() {
	local what=$1; shift
	printf '%s %s\n' "$(series_hash "$what")" "$(hash_inputs "$(overlay_dir "$what")" "$@")" |
		sha256sum | cut -c1-16
}

# Layout of patches/<what>: "base" pins the upstream; "series" lists either
# patch files or topic folders (applied in that order), each topic folder
# holding patch files, a "series" of its own and optionally a "files" map.
# A flat series is the topic ".".
#
# The files map (patches/<what>/[<topic>/]files) names, for every new file of
# kernel/ or qemu/, the patch that introduces it, by subject:
#     <upstream path> <subject of the patch>
# or "<upstream path> -" for a build-side file that no patch carries
# (kernel/arch/x86/configs/span_lab.config). export-patches puts each file,
# as it is in the overlay, into its patch; prepare-tree applies the series
# without them and symlinks the overlay instead.

# series_topics linux|qemu: the topic folders in order ("." when flat).
series_topics() {
	local dir=$TOP/patches/$1 e flat=0 topics=0
	[ -f "$dir/series" ] || die "missing patches/$1/series"
	while read -r e; do
		case "$e" in ''|'#'*) continue ;; esac
		if [ -d "$dir/$e" ]; then echo "$e"; topics=1; else flat=1; fi
	done < "$dir/series"
	[ $flat = 0 ] || [ $topics = 0 ] || die "patches/$1/series mixes patches and topic folders"
	[ $topics = 1 ] || echo .
}

# series_patches linux|qemu: the patches in the order they apply, as paths
# relative to patches/<what> (topic/NNNN-....patch, or NNNN-....patch).
series_patches() {
	local dir=$TOP/patches/$1 t p
	series_topics "$1" | while read -r t; do
		[ -f "$dir/$t/series" ] || die "patches/$1/$t has no series"
		while read -r p; do
			case "$p" in ''|'#'*) continue ;; esac
			[ -f "$dir/$t/$p" ] || die "patches/$1/$t/series names $p, which does not exist"
			echo "${t#.}${t:+/}$p" | sed 's|^/||'
		done < "$dir/$t/series"
	done
}

# subject_of PATCH: the patch's subject, unfolded, without "[PATCH n/m] ".
subject_of() {
	awk '/^Subject: / { s = substr($0, 10); on = 1; next }
	     on && /^ / { s = s $0; next }
	     on { exit }
	     END { sub(/^\[PATCH[^]]*\] /, "", s); print s }' "$1"
}

# map_entries linux|qemu: every line of the files maps as
# "<topic>\t<path>\t<subject or ->".
map_entries() {
	local dir=$TOP/patches/$1 t path subj
	series_topics "$1" | while read -r t; do
		[ -f "$dir/$t/files" ] || continue
		while read -r path subj; do
			case "$path" in ''|'#'*) continue ;; esac
			[ -n "$subj" ] || die "patches/$1/$t/files: $path names no patch"
			printf '%s\t%s\t%s\n' "$t" "$path" "$subj"
		done < "$dir/$t/files"
	done
}

# overlay_files linux|qemu: the new files of kernel/ (or qemu/), as upstream
# paths, sorted.
overlay_files() {
	local src
	src=$(overlay_dir "$1")
	[ -d "$src" ] || return 0
	(cd "$src" && find . -type f ! -name '*.swp' | sed 's|^\./||' | LC_ALL=C sort)
}

# new_file_paths linux|qemu: every path that the development tree takes from
# the overlay rather than from the series: the overlay's files and the maps'.
new_file_paths() {
	{ overlay_files "$1"; map_entries "$1" | cut -f2; } | LC_ALL=C sort -u
}

# strip_new_files LISTFILE < patch: the patch without its diffstat and
# without the diffs of the paths listed in LISTFILE.
strip_new_files() {
	awk 'NR == FNR { ex[$0] = 1; next }
	     /^diff --git / { hdr = 0; p = $NF; sub(/^b\//, "", p); skip = (p in ex) }
	     hdr && /^---$/ { stat = 1 }
	     hdr && stat { next }
	     !skip { print }' "$1" hdr=1 -
}

# pristine_repo linux|qemu: prints the cached git repository holding the
# pristine upstream source (one commit on branch "base"), creating it from
# the pinned tarball on first use.
pristine_repo() {
	local tarball pristine
	tarball=$(base_tarball "$1")
	read_base "$1"
	[ -f "$tarball" ] || die "$tarball is missing: run 'make deps' (installs $BASE_package $BASE_version)"
	pristine=$CACHE/trees/$1-${BASE_sha256:0:16}
	if [ ! -d "$pristine/.git" ]; then
		say "verifying $(basename "$tarball")"
		echo "$BASE_sha256  $tarball" | sha256sum -c --quiet - ||
			die "$tarball does not match the sha256 in patches/$1/base"
		say "unpacking $BASE_package $BASE_version (one-time, cached in $CACHE/trees)"
		rm -rf "$pristine.tmp" && mkdir -p "$pristine.tmp"
		tar -xf "$tarball" -C "$pristine.tmp" --strip-components=1
		# Debian's linux-source ships the Debian patches already applied;
		# its debian/ folder is packaging, not kernel source.
		(cd "$pristine.tmp" && git init -q -b base &&
			git add -A -f . && GIT_AUTHOR_DATE="2000-01-01T00:00:00 +0000" GIT_COMMITTER_DATE="2000-01-01T00:00:00 +0000" \
			git -c user.name=span -c user.email=span@localhost \
			commit -q -m "$BASE_package $BASE_version (pristine)") >&2
		mv "$pristine.tmp" "$pristine"
	fi
	echo "$pristine"
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
