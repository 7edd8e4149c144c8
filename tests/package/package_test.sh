#!/usr/bin/env bash
# The Debian package as an admin gets it: builds the .deb with cpack from
# BUILD_DIR, runs lintian on it and fails on any E: line, checks the
# conffiles, changelog, copyright, maintainer and the minimal policy, and
# renders each man page with `man -l`.
#
#   package_test.sh BUILD_DIR
#
# Exit 0 pass, 1 fail, 77 skip (a missing tool; a failure under CI=true).
set -uo pipefail

build=${1:?usage: package_test.sh BUILD_DIR}
skip() {
  echo "SKIP: $1"
  if [[ ${CI:-} == true ]]; then echo "(CI=true: a skip is a failure)"; exit 1; fi
  exit 77
}
for tool in cpack lintian dpkg-deb man gzip; do
  command -v $tool >/dev/null || skip "$tool not found (scripts/install-deps.sh installs it)"
done

tmp=$(mktemp -d /tmp/jw-package-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok: $*"; }

# 1. Build. cpack's `preinstall` step builds what is out of date first.
if ! (cd "$build" && timeout 900 cpack -G DEB -B "$tmp/out") >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log"; echo "FAIL: cpack -G DEB"; exit 1
fi
deb=$(ls "$tmp"/out/jailwarden_*.deb 2>/dev/null | head -1)
[[ -f $deb ]] || { cat "$tmp/cpack.log"; echo "FAIL: no .deb in $tmp/out"; exit 1; }
ok "built $(basename "$deb")"

# 2. lintian: no E: lines; overrides only with a written reason.
timeout 600 lintian --info --display-level '>=pedantic' "$deb" >"$tmp/lintian.txt" 2>&1
echo "--- lintian $(basename "$deb")"; cat "$tmp/lintian.txt"; echo "---"
if grep -q '^E: ' "$tmp/lintian.txt"; then bad "lintian reports errors"; else ok "lintian: no E: lines"; fi
dpkg-deb -x "$deb" "$tmp/root"
dpkg-deb -e "$deb" "$tmp/control"
overrides=$tmp/root/usr/share/lintian/overrides/jailwarden
if [[ -f $overrides ]]; then
  # Every override line follows a comment (its reason).
  awk '/^#/ {c=1; next} /^[[:space:]]*$/ {next} {if (!c) {print; bad=1} c=0} END {exit bad}' \
    "$overrides" >"$tmp/unexplained" || bad "lintian overrides without a reason: $(cat "$tmp/unexplained")"
fi

# 3. Control fields, conffiles, documents.
control=$tmp/control/control
grep -q '^Maintainer: jailwarden maintainers <maintainers@jailwarden.org>$' "$control" ||
  bad "maintainer field: $(grep ^Maintainer "$control")"
grep -q 'localhost' "$control" && bad "control mentions localhost"
[[ $(sed -n '/^Description:/,$p' "$control" | wc -l) -ge 6 ]] || bad "long description too short"
for f in /etc/jailwarden/jailwarden.yaml /etc/default/jailwarden; do
  grep -qx "$f" "$tmp/control/conffiles" || bad "$f is not a conffile"
  [[ -f $tmp/root$f ]] || bad "$f is not in the package"
done
doc=$tmp/root/usr/share/doc/jailwarden
head -1 "$doc/copyright" | grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' ||
  bad "copyright is not machine-readable"
grep -q '^License: BSD-2-Clause' "$doc/copyright" || bad "copyright: no BSD-2-Clause"
zcat "$doc/changelog.Debian.gz" | head -1 | grep -q "^jailwarden ($(sed -n 's/^Version: //p' "$control"))" ||
  bad "changelog's first version is not the package's"
[[ -f $doc/examples/jailwarden.yaml ]] || bad "demo policy not in examples/"
ok "control, conffiles, copyright, changelog checked"

# 4. The conffile policy is valid and defines no jails; the postinst does
# not write to /etc (dpkg keeps the admin's edits of a conffile).
policy=$tmp/root/etc/jailwarden/jailwarden.yaml
"$tmp/root/usr/bin/jailwarden" validate "$policy" || bad "the packaged policy does not validate"
grep -Eq '^jails: \{\}$' "$policy" || bad "the packaged policy has jails"
grep -q '/etc' <(grep -v '^#' "$tmp/control/postinst") && bad "postinst writes to /etc"

# 5. Man pages: compressed, and `man -l` renders each without a warning.
pages=$(cd "$tmp/root" && ls usr/share/man/man*/*.gz 2>/dev/null)
for want in usr/share/man/man8/jailwarden.8.gz usr/share/man/man5/jailwarden.yaml.5.gz \
    usr/share/man/man8/jailwarden-oci.8.gz; do
  grep -qx "$want" <<<"$pages" || bad "$want missing"
done
for p in $pages; do
  out=$(MANWIDTH=80 man --warnings -l "$tmp/root/$p" 2>"$tmp/man.err" | col -b)
  if [[ -s $tmp/man.err ]]; then bad "man -l $p warns: $(cat "$tmp/man.err")"; fi
  name=$(basename "$p" .gz); name=${name%.*}
  grep -q "^NAME" <<<"$out" && grep -q "$name" <<<"$out" && [[ $(wc -l <<<"$out") -gt 40 ]] ||
    bad "man -l $p rendered $(wc -l <<<"$out") lines"
  echo "ok: man -l $p: $(wc -l <<<"$out") lines"
done

echo "--- files in the package"
(cd "$tmp/root" && find . -type f -o -type l | sort)
exit $fail
