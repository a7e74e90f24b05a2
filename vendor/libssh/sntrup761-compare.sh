#!/bin/sh
# Compares two versions of libssh's src/external/sntrup761.c (before and after a patch), for a
# change to that file: the same bytes, the time, and constant time. Not run by CI.
#
#   vendor/libssh/sntrup761-compare.sh OLD.c NEW.c [N]
#
# - N (default 3000) key pairs, encapsulations, decapsulations and decapsulations of a
#   corrupted ciphertext from the same random bytes must give the same bytes; NEW.c is built
#   twice, as it is and with -DSNTRUP761_CLONES= (no AVX2 variants, patch 0021);
# - the time of each operation, with a cheap fixed random function and with OpenSSL's
#   RAND_priv_bytes (what libssh's random function calls), 200 of each, both files in turn;
# - with valgrind, the ctgrind check: the random bytes of key generation, then the secret
#   key given to decapsulation, are marked undefined, so memcheck reports every branch and
#   memory index that depends on them (expected: KeyGen's retry when R3_recip finds g not
#   invertible, nothing else).
#
# Needs a C compiler (cc, or $CC) and OpenSSL's headers (libssl-dev); valgrind and its headers
# for the last part. To get the two files, extract the release twice and apply the patches up
# to the one before and up to the one under test (README.md, "To write one").
set -eu
[ $# -ge 2 ] || { sed -n '5p' "$0" >&2; exit 2; }
old=$(realpath "$1") new=$(realpath "$2") n=${3:-3000}
cc=${CC:-cc}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"

cat > impl.c <<'EOF'
/* one version, its three public functions renamed by NAME_(x) */
#include <stddef.h>
#include <stdint.h>
int sha512(const unsigned char *d, size_t len, unsigned char *h);
#define sntrup761_keypair NAME_(keypair)
#define sntrup761_enc NAME_(enc)
#define sntrup761_dec NAME_(dec)
#include IMPL
EOF

cat > common.h <<'EOF'
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
typedef void rf(void *ctx, size_t n, uint8_t *dst);
int sha512(const unsigned char *d, size_t len, unsigned char *h) { SHA512(d, len, h); return 0; }
/* a stream of bytes made one by one, so that calls of any lengths read the same stream */
static uint64_t s = 88172645463325252ULL;
static void rnd(void *ctx, size_t n, uint8_t *dst)
{
  (void) ctx;
  for (size_t i = 0; i < n; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; dst[i] = s >> 11; }
}
static void rnd_openssl(void *ctx, size_t n, uint8_t *dst) { (void) ctx; RAND_priv_bytes(dst, (int) n); }
#define DECLARE(v) \
  void v##_keypair(uint8_t *, uint8_t *, void *, rf *); \
  void v##_enc(uint8_t *, uint8_t *, const uint8_t *, void *, rf *); \
  void v##_dec(uint8_t *, const uint8_t *, const uint8_t *);
DECLARE(old)
DECLARE(new)
EOF

cat > cmp.c <<'EOF'
#include "common.h"
int main(int argc, char **argv)
{
  int n = atoi(argv[1]), bad = 0;
  static uint8_t pk[2][1158], sk[2][1763], c[2][1039], k[2][32], k2[2][32], k3[2][32];
  for (int it = 0; it < n; it++) {
    uint64_t seed = 0x9E3779B97F4A7C15ULL * (it + 1), after;
    uint8_t pos[3];
    size_t at;
    s = seed; old_keypair(pk[0], sk[0], NULL, rnd);
    s = seed; new_keypair(pk[1], sk[1], NULL, rnd);
    after = s;
    old_enc(c[0], k[0], pk[0], NULL, rnd);
    s = after; new_enc(c[1], k[1], pk[1], NULL, rnd);
    old_dec(k2[0], c[0], sk[0]);
    new_dec(k2[1], c[1], sk[1]);
    rnd(NULL, 3, pos);
    at = ((size_t) pos[0] << 8 | pos[1]) % sizeof c[0];
    c[0][at] ^= pos[2] | 1;
    c[1][at] ^= pos[2] | 1;
    old_dec(k3[0], c[0], sk[0]);
    new_dec(k3[1], c[1], sk[1]);
    if (memcmp(pk[0], pk[1], sizeof pk[0]) || memcmp(sk[0], sk[1], sizeof sk[0])
        || memcmp(c[0], c[1], sizeof c[0]) || memcmp(k[0], k[1], 32) || memcmp(k2[0], k2[1], 32)
        || memcmp(k3[0], k3[1], 32) || memcmp(k[1], k2[1], 32) || !memcmp(k3[1], k2[1], 32))
      bad++;
  }
  printf("  %d key pairs, encapsulations, decapsulations, corrupted decapsulations: %d differ\n", n, bad);
  return bad != 0;
}
EOF

cat > bench.c <<'EOF'
#include "common.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void run(const char *name, void (*kp)(uint8_t *, uint8_t *, void *, rf *),
                void (*enc)(uint8_t *, uint8_t *, const uint8_t *, void *, rf *),
                void (*dec)(uint8_t *, const uint8_t *, const uint8_t *), rf *random)
{
  static uint8_t pk[1158], sk[1763], c[1039], k[32], k2[32];
  int n = 200;
  double t0 = now(), t1, t2, t3;
  for (int i = 0; i < n; i++) kp(pk, sk, NULL, random);
  t1 = now();
  for (int i = 0; i < n; i++) enc(c, k, pk, NULL, random);
  t2 = now();
  for (int i = 0; i < n; i++) dec(k2, c, sk);
  t3 = now();
  printf("  %-28s key pair %.3f ms, enc %.3f ms, dec %.3f ms\n", name, (t1 - t0) / n * 1e3,
         (t2 - t1) / n * 1e3, (t3 - t2) / n * 1e3);
}
int main(void)
{
  for (int round = 0; round < 2; round++) {
    run("old, fixed random", old_keypair, old_enc, old_dec, rnd);
    run("new, fixed random", new_keypair, new_enc, new_dec, rnd);
    run("old, RAND_priv_bytes", old_keypair, old_enc, old_dec, rnd_openssl);
    run("new, RAND_priv_bytes", new_keypair, new_enc, new_dec, rnd_openssl);
  }
  return 0;
}
EOF

cat > ct.c <<'EOF'
#include <valgrind/memcheck.h>
#include "common.h"
static int secret;
static void rnd_secret(void *ctx, size_t n, uint8_t *dst)
{
  rnd(ctx, n, dst);
  if (secret)
    VALGRIND_MAKE_MEM_UNDEFINED(dst, n);
}
int main(int argc, char **argv)
{
  static uint8_t pk[1158], sk[1763], c[1039], k[32], k2[32];
  int decapsulation = argv[1][0] == 'd';
  void (*kp)(uint8_t *, uint8_t *, void *, rf *) = argv[2][0] == 'o' ? old_keypair : new_keypair;
  void (*enc)(uint8_t *, uint8_t *, const uint8_t *, void *, rf *) = argv[2][0] == 'o' ? old_enc : new_enc;
  void (*dec)(uint8_t *, const uint8_t *, const uint8_t *) = argv[2][0] == 'o' ? old_dec : new_dec;
  (void) argc;
  secret = !decapsulation;
  kp(pk, sk, NULL, rnd_secret);
  VALGRIND_MAKE_MEM_DEFINED(pk, sizeof pk);
  VALGRIND_MAKE_MEM_DEFINED(sk, sizeof sk);
  secret = 0;
  enc(c, k, pk, NULL, rnd_secret);
  if (decapsulation) {
    VALGRIND_MAKE_MEM_UNDEFINED(sk, sizeof sk);
    dec(k2, c, sk);
  }
  return 0;
}
EOF

build() {  # build OBJECT FILE PREFIX [CFLAGS...]
  obj=$1 file=$2 prefix=$3
  shift 3
  $cc -O3 -g -w "$@" -c -DIMPL="\"$file\"" -DNAME_\(x\)="${prefix}_##x" impl.c -o "$obj"
}
build old.o "$old" old
build new.o "$new" new
build new-plain.o "$new" new -DSNTRUP761_CLONES=
$cc -O2 cmp.c old.o new.o -lcrypto -o cmp
$cc -O2 cmp.c old.o new-plain.o -lcrypto -o cmp-plain
$cc -O2 bench.c old.o new.o -lcrypto -o bench

status=0
echo "same bytes, $new as it is:"
./cmp "$n" || status=1
echo "same bytes, $new with -DSNTRUP761_CLONES=:"
./cmp-plain "$n" || status=1
echo "time:"
./bench

if command -v valgrind >/dev/null && [ -f /usr/include/valgrind/memcheck.h ]; then
  $cc -O2 -g ct.c old.o new.o -lcrypto -o ct
  for version in old new; do
    for part in keypair dec; do
      echo "ctgrind, $version $part (branches and indices that depend on the secret):"
      found=$(valgrind -q --error-limit=no ./ct "$part" "$version" 2>&1 \
        | grep -A1 -E 'Conditional jump|Use of uninitialised' | grep -E 'at 0x' \
        | sed 's/^==[0-9]*== *at 0x[0-9A-F]*: */  /' | sort | uniq -c)
      echo "${found:-  none}"
    done
  done
else
  echo "ctgrind: skipped (no valgrind or no valgrind/memcheck.h)"
fi
exit $status
