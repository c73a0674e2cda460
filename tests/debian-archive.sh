# shellcheck shell=sh
# Sourced by the test scripts (sh): where this machine gets Debian from, read from its own apt
# configuration, so no archive host is written into the project.
#
#   debian_archive_uri   prints the URI of the Debian archive the machine's apt sources use
#                        (SVMD_DEBIAN_MIRROR overrides it); fails when apt names none.
#
# `apt-cache policy` lists one line per package index, " PRIO URI SUITE/COMPONENT ARCH
# Packages", followed by its "release" line (o=Debian, n=bookworm, ...). The security archive
# is a separate one that carries only its own suites, so it is skipped; so are local indexes
# (the dpkg status file, file: and cdrom: sources).

debian_archive_uri() {
	if [ -n "${SVMD_DEBIAN_MIRROR:-}" ]; then
		echo "$SVMD_DEBIAN_MIRROR"
		return 0
	fi
	_uri=$(LC_ALL=C apt-cache policy 2>/dev/null | awk '
		$1 ~ /^-?[0-9]+$/ && $2 ~ /^(https?|mirror\+https?|mirror\+file):/ && $NF == "Packages" {
			uri = $2; suite = $3; next
		}
		uri != "" && $1 == "release" {
			if ($0 ~ /o=Debian,/ && suite !~ /security/ && uri !~ /security/) {
				print uri
				exit
			}
			uri = ""
		}')
	if [ -z "$_uri" ]; then
		echo "no Debian archive in this machine's apt sources (apt-cache policy);" \
			"set SVMD_DEBIAN_MIRROR to one" >&2
		return 1
	fi
	echo "$_uri"
}
