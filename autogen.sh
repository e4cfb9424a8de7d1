#!/bin/sh
# Regenerates the build system: ./autogen.sh && ./configure && make check
set -e
cd "$(dirname "$0")"
if ! pkg-config --exists varnishapi; then
	echo "autogen.sh: varnishapi not found (apt-get install libvarnishapi-dev)" >&2
	exit 1
fi
datarootdir=$(pkg-config --variable=datarootdir varnishapi)
mkdir -p m4
aclocal -I m4 -I "$datarootdir/aclocal"
libtoolize --copy --force
autoheader
automake --add-missing --copy --foreign
autoconf
