#!/usr/bin/env bash
# The opencryptoki acceptance run (issue 5): unmodified opencryptoki, OpenSC, GnuTLS and
# OpenSSL's pkcs11-provider from a Debian root, on softcca's libcsulcca.so and a softcca card.
#
#   tests/acceptance/ock.sh SUITE          # SUITE: trixie (opencryptoki 3.23) | forky (3.27)
#
# Needs root (chroot, mounts) and mmdebstrap. Builds the root once into $ACCEPT_WORK (default
# target/acceptance), copies the library in, starts a card daemon outside the root whose
# socket lives inside it, configures a CCA slot, initializes the token and runs the checks.
# Every check's output is kept in $ACCEPT_WORK/logs/SUITE-CHECK.log. A failing check fails the
# run unless tests/acceptance/skip.txt lists it (with its reason); a listed check that passes
# is reported so the list can shrink.
#
# ACCEPT_SLOT=sw runs the same checks on opencryptoki's own soft token instead (to tell a
# harness problem from a softcca one); ACCEPT_KEEP=1 leaves the daemon and mounts in place.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
suite=${1:?usage: ock.sh trixie|forky}
target=${CARGO_TARGET_DIR:-$repo/target}
work=${ACCEPT_WORK:-$target/acceptance}
root=$work/roots/$suite
logs=$work/logs
mode=${ACCEPT_SLOT:-cca}
softcca=${SOFTCCA_BIN:-$target/release/softcca}
library=${SOFTCCA_LIB:-$target/release/libcsulcca.so}
mkdir -p "$work/roots" "$logs"

# The API library every PKCS#11 client is given, and the PINs (opencryptoki's default SO PIN).
module=/usr/lib/x86_64-linux-gnu/opencryptoki/libopencryptoki.so.0
so_pin=87654321
new_so_pin=76543210
user_pin=11223344
if [ "$mode" = sw ]; then slot=3; else slot=2; fi

say() { printf '[%s %s] %s\n' "$suite" "$(date +%T)" "$*"; }
in_root() { chroot "$root" "$@"; }
# The root has no procps: stop its pkcsslotd from outside, by the process's root directory.
stop_slotd() {
  local pid
  for pid in $(pgrep -x pkcsslotd || true); do
    [ "$(readlink "/proc/$pid/root")" = "$(readlink -f "$root")" ] && kill "$pid" 2>/dev/null || true
  done
}

# --- the root ------------------------------------------------------------------------------
if [ ! -x "$root/usr/sbin/pkcsslotd" ]; then
  say "building the Debian $suite root"
  rm -rf "$root"
  opts=()
  # The registry's snapshot of testing is older than its Valid-Until window.
  [ "$suite" = forky ] && opts+=(--aptopt='Acquire::Check-Valid-Until "false"')
  mmdebstrap --variant=apt "${opts[@]}" \
    --include=opencryptoki,libopencryptoki0,opensc,gnutls-bin,pkcs11-provider,openssl \
    "$suite" "$root" > "$logs/$suite-mmdebstrap.log" 2>&1
fi
in_root dpkg-query -W -f='${Package} ${Version}\n' opencryptoki opensc gnutls-bin pkcs11-provider openssl

daemon_pid=
cleanup() {
  [ -n "${ACCEPT_KEEP:-}" ] && return
  stop_slotd
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  for m in dev/shm dev proc; do umount "$root/$m" 2>/dev/null || true; done
}
trap cleanup EXIT
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
mountpoint -q "$root/dev/shm" || mount -t tmpfs tmpfs "$root/dev/shm"

# A fresh opencryptoki state every run: token directories owned by the pkcs11 group (the
# packages' scripts cannot chown inside mmdebstrap), no old token objects, no old daemon.
stop_slotd
sleep 0.2
rm -rf "$root/var/lib/opencryptoki/ccatok" "$root/var/lib/opencryptoki/swtok" \
  "$root/var/log/opencryptoki" "$root/run/opencryptoki" "$root/dev/shm/"*
mkdir -p "$root/var/lib/opencryptoki/ccatok/TOK_OBJ" "$root/var/lib/opencryptoki/swtok/TOK_OBJ" \
  "$root/var/log/opencryptoki" "$root/run/lock/opencryptoki"
in_root sh -c 'chgrp -R pkcs11 /var/lib/opencryptoki /var/log/opencryptoki /run/lock/opencryptoki &&
  chmod -R g+rwX /var/lib/opencryptoki /var/log/opencryptoki /run/lock/opencryptoki'
cat > "$root/etc/opencryptoki/opencryptoki.conf" <<EOF
version opencryptoki-3.27
slot 2
{
    stdll = libpkcs11_cca.so
    confname = ccatok.conf
    tokname = ccatok
    tokversion = 3.12
}
slot 3
{
    stdll = libpkcs11_sw.so
    tokversion = 3.12
}
EOF

# --- the card and the library --------------------------------------------------------------
if [ "$mode" = cca ]; then
  say "installing libcsulcca.so and starting the card (model 4769)"
  install -m 0755 "$library" "$root/usr/lib/x86_64-linux-gnu/libcsulcca.so"
  in_root ldconfig
  card_home=$root/var/lib/softcca/card
  rm -rf "$root/var/lib/softcca"
  mkdir -p "$card_home"
  mkdir -p "$root/etc/softcca"
  # The library's config file: the daemon's socket as the root sees it, and host key storage.
  cat > "$root/etc/softcca/csulcca.conf" <<EOF
socket = /var/lib/softcca/card/card.sock
EOF
  "$softcca" serve --dev --model 4769 --post-seconds 0 --home "$card_home" > "$logs/$suite-card.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 1 300); do
    "$softcca" clu st --home "$card_home" > /dev/null 2>&1 && break
    sleep 0.1
  done
  chmod 0777 "$card_home" "$card_home/card.sock" 2>/dev/null || true
  # opencryptoki 3.23 on x86 reads the s390 AP bus's files to find the adapter (3.24 dropped
  # this): a card with the CCA function bit and its serial number, and a usage domain.
  serial=$("$softcca" clu st --home "$card_home" | awk -F': *' '/Serial Number/ {print $2; exit}')
  mkdir -p "$root/sys/devices/ap/card00" "$root/sys/bus/ap"
  echo 0x10000000 > "$root/sys/devices/ap/card00/ap_functions"
  echo "${serial:-00000000}" > "$root/sys/devices/ap/card00/serialnr"
  echo 0 > "$root/sys/bus/ap/ap_domain"
fi

in_root /usr/sbin/pkcsslotd

# --- the checks ----------------------------------------------------------------------------
passed=(); failed=(); skipped=(); unexpected=()
skip_reason() { awk -v s="$suite" -v c="$1" '$1 == s && $2 == c { $1 = $2 = ""; sub(/^ +/, ""); print; exit }' "$here/skip.txt"; }
check() {
  local name=$1; shift
  local log=$logs/$suite-$name.log
  if "$@" > "$log" 2>&1; then
    if [ -n "$(skip_reason "$name")" ]; then unexpected+=("$name"); say "PASS $name (listed in skip.txt: remove it)"
    else passed+=("$name"); say "PASS $name"; fi
  else
    local why; why=$(skip_reason "$name")
    if [ -n "$why" ]; then skipped+=("$name"); say "SKIP $name: $why"
    else failed+=("$name"); say "FAIL $name (log: $log)"; tail -n 15 "$log" | sed 's/^/    /'; fi
  fi
}
p11() { in_root pkcs11-tool --module "$module" --slot "$slot" "$@"; }
p11u() { p11 --login --pin "$user_pin" "$@"; }

init_token() {
  in_root sh -c "echo softcca | pkcsconf -I -c $slot -S $so_pin" &&
    in_root pkcsconf -P -c "$slot" -S "$so_pin" -n "$new_so_pin" &&
    in_root pkcsconf -u -c "$slot" -S "$new_so_pin" -n 12345678 &&
    in_root pkcsconf -p -c "$slot" -U 12345678 -n "$user_pin" &&
    in_root pkcsconf -t -c "$slot"
}
check token-init init_token
check list-mechanisms p11 -M

check rsa-keygen p11u --keypairgen --key-type rsa:2048 --id 10 --label rsa2048
check ec-keygen p11u --keypairgen --key-type EC:prime256v1 --id 11 --label ecp256
check aes-keygen p11u --keygen --key-type AES:32 --id 12 --label aes256
check list-objects p11u -O

rsa_ops() {
  local t=/tmp/softcca-accept
  rm -rf "$root$t"; mkdir -p "$root$t"
  head -c 1000 /dev/urandom > "$root$t/msg"
  p11u --sign --id 10 --mechanism SHA256-RSA-PKCS -i $t/msg -o $t/sig &&
    p11u --verify --id 10 --mechanism SHA256-RSA-PKCS -i $t/msg --signature-file $t/sig &&
    p11u --sign --id 10 --mechanism SHA256-RSA-PKCS-PSS -i $t/msg -o $t/pss &&
    p11u --verify --id 10 --mechanism SHA256-RSA-PKCS-PSS -i $t/msg --signature-file $t/pss &&
    head -c 32 /dev/urandom > "$root$t/secret" &&
    p11u --read-object --type pubkey --id 10 -o $t/rsa.pub.der &&
    in_root openssl pkeyutl -encrypt -pubin -keyform DER -inkey $t/rsa.pub.der -in $t/secret -out $t/secret.enc &&
    p11u --decrypt --id 10 --mechanism RSA-PKCS -i $t/secret.enc -o $t/secret.dec &&
    cmp "$root$t/secret" "$root$t/secret.dec"
}
check rsa-sign-verify-decrypt rsa_ops

ec_ops() {
  local t=/tmp/softcca-accept
  p11u --sign --id 11 --mechanism ECDSA-SHA256 -i $t/msg -o $t/ecsig &&
    p11u --verify --id 11 --mechanism ECDSA-SHA256 -i $t/msg --signature-file $t/ecsig
}
check ec-sign-verify ec_ops

aes_ops() {
  local t=/tmp/softcca-accept
  local iv=000102030405060708090a0b0c0d0e0f
  p11u --encrypt --id 12 --mechanism AES-CBC-PAD --iv $iv -i $t/msg -o $t/msg.aes &&
    p11u --decrypt --id 12 --mechanism AES-CBC-PAD --iv $iv -i $t/msg.aes -o $t/msg.back &&
    cmp "$root$t/msg" "$root$t/msg.back"
}
check aes-encrypt-decrypt aes_ops

check pkcs11-tool-test p11u --test
check pkcs11-tool-test-ec p11u --test-ec --session-rw --id 20 --key-type EC:prime256v1

p11tool_ops() {
  in_root p11tool --provider "$module" --list-tokens &&
    in_root env GNUTLS_PIN=$user_pin p11tool --provider "$module" --login --list-privkeys "pkcs11:token=softcca" &&
    in_root env GNUTLS_PIN=$user_pin p11tool --provider "$module" --login --test-sign "pkcs11:token=softcca;object=rsa2048" &&
    in_root env GNUTLS_PIN=$user_pin p11tool --provider "$module" --login --test-sign "pkcs11:token=softcca;object=ecp256"
}
check p11tool p11tool_ops

openssl_conf() {
  cat > "$root/tmp/softcca-accept/openssl.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
default = default_sect
pkcs11 = pkcs11_sect
[default_sect]
activate = 1
[pkcs11_sect]
module = /usr/lib/x86_64-linux-gnu/ossl-modules/pkcs11.so
pkcs11-module-path = $module
pkcs11-module-token-pin = $user_pin
activate = 1
EOF
}
# Sign through the token with pkcs11-provider; verify outside it with the public key OpenSSL
# exported from the token.
openssl_sign() {
  local t=/tmp/softcca-accept key=$1
  openssl_conf &&
    in_root env OPENSSL_CONF=$t/openssl.cnf openssl pkey -pubin -in "pkcs11:token=softcca;object=$key;type=public" -out $t/$key.pub &&
    in_root env OPENSSL_CONF=$t/openssl.cnf openssl dgst -sha256 -sign "pkcs11:token=softcca;object=$key;type=private" -out $t/$key.sig $t/msg &&
    in_root openssl dgst -sha256 -verify $t/$key.pub -signature $t/$key.sig $t/msg
}
check openssl-provider-rsa openssl_sign rsa2048
check openssl-provider-ec openssl_sign ecp256

say "passed: ${#passed[@]}  failed: ${#failed[@]}  skipped (skip.txt): ${#skipped[@]}  listed but passing: ${#unexpected[@]}"
[ "${#failed[@]}" -eq 0 ]
