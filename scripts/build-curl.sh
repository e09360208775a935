#!/usr/bin/env bash
# build-curl.sh SRC PREFIX HOST: builds a minimal static libcurl from Debian's
# curl source tree SRC (as `scripts/sources.sh unpack` gives it) and installs
# its library and headers into PREFIX. HOST is the GNU triplet
# (x86_64-linux-gnu, aarch64-linux-gnu).
#
# Why from source: Debian's libcurl.so pulls in about 30 shared libraries and
# its optional dependencies ship no static archives. This one speaks HTTP and
# HTTPS over OpenSSL and nothing else, and it is linked into bootstrap.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(realpath "$1") prefix=$2 host=$3
mkdir -p "$prefix"
prefix=$(realpath "$prefix")
jobs=${RNS_JOBS:-2}

# Debian's tree has the GnuTLS and NSS flavour patches applied last (its
# rules pop them for the OpenSSL build); they are taken off, then ours goes on
# (scripts/patches/, each says why). The tree is a fresh copy unpacked by
# scripts/sources.sh; the marker keeps a second run from patching twice.
if [ ! -f "$src/.rns-patched" ]; then
    for p in 99_nss.patch 90_gnutls.patch; do
        patch -s -R -p1 -d "$src" < "$src/debian/patches/$p"
    done
    for p in "$here"/patches/curl-*.patch; do
        patch -s -p1 -d "$src" < "$p"
    done
    touch "$src/.rns-patched"
fi

work=$prefix/.build
rm -rf "$work"
mkdir -p "$work"
cd "$work"

# Choices:
# - HTTP and HTTPS only; no compression, IDN, PSL, HTTP/2, SSH, LDAP, ...
# - proxy support stays: the runtime clears CURLOPT_PROXY, which a build
#   without proxies would reject as an unknown option.
# - the threaded resolver stays (the default): it costs a thread per lookup,
#   but lets the connect timeout cover DNS, so a resolver that hangs cannot
#   eat the invocation's deadline (the synchronous one ignores timeouts with
#   CURLOPT_NOSIGNAL).
# - the default CA bundle is Amazon Linux's; the program chooses its own
#   (README.md, "Configuration"), this is only libcurl's fallback.
# - no OpenSSL config file is read at start (none exists in Lambda; it saves
#   a file lookup at cold start).
# - ac_cv_func_*: nothing newer than glibc 2.34 may be picked up
#   (provided.al2023); the finished binary is checked by package.sh as well.
"$src/configure" --host="$host" --prefix="$prefix" \
    --disable-shared --enable-static --with-pic \
    --disable-dependency-tracking --disable-silent-rules \
    --enable-symbol-hiding --disable-debug --disable-curldebug \
    --with-openssl --without-gnutls --without-mbedtls --without-wolfssl \
    --without-bearssl --without-rustls --without-hyper \
    --without-zlib --without-brotli --without-zstd --without-libpsl \
    --without-libidn2 --without-nghttp2 --without-ngtcp2 --without-nghttp3 \
    --without-quiche --without-msh3 --without-librtmp --without-libssh2 \
    --without-libssh --without-wolfssh --without-libgsasl \
    --disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp \
    --disable-dict --disable-telnet --disable-tftp --disable-pop3 \
    --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
    --disable-manual --disable-libcurl-option --disable-ntlm --disable-ntlm-wb \
    --disable-tls-srp --disable-cookies --disable-alt-svc --disable-hsts \
    --disable-doh --disable-mime --disable-netrc --disable-dict \
    --disable-websockets --disable-get-easy-options --disable-openssl-auto-load-config \
    --enable-threaded-resolver --enable-ipv6 --disable-ares \
    --with-ca-bundle=/etc/pki/tls/certs/ca-bundle.crt --without-ca-path \
    --without-ca-fallback \
    ac_cv_func_arc4random=no ac_cv_func_arc4random_buf=no \
    CFLAGS="-O2 -ffunction-sections -fdata-sections -ffile-prefix-map=$src=curl -ffile-prefix-map=$work=curl" \
    > configure.log 2>&1 || { tail -n 30 configure.log >&2; exit 1; }
make -j"$jobs" -C lib V=0 > make.log 2>&1 || { tail -n 30 make.log >&2; exit 1; }
make -C lib install > /dev/null
make -C include install > /dev/null
grep -E '^  (SSL|Protocols|Features|Resolver):' configure.log || true
