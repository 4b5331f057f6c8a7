/*
 * nextdb's optional native helpers (Node-API, so one build serves every Node
 * version >= 20). The package works without them: src/util/native.ts loads
 * this module if scripts/build-native.mjs could build it, and falls back to
 * node:fs reads and zlib.crc32 otherwise.
 *
 *   map(fd, length) -> ArrayBuffer   the first `length` bytes of an open file,
 *                                    mapped read-only (mmap, MAP_SHARED)
 *   unmap(arrayBuffer)               detaches the ArrayBuffer (every view of
 *                                    it gets length 0), then munmaps it
 *   crc32(bytes, start, end, crc)    CRC-32 (the zlib/IEEE polynomial) of
 *                                    bytes[start, end), continuing from
 *                                    `crc` (0 to start), as zlib.crc32
 *
 * Mapped files: a mapping that is never unmapped is unmapped when the
 * garbage collector frees its ArrayBuffer (the finalizer of a napi_wrap on
 * it). unmap() detaches first, so no JavaScript view can touch the memory
 * after it is gone; the mapping's bookkeeping is freed only by the
 * finalizer, which is the last to run.
 *
 * CRC-32: with PCLMULQDQ (x86-64 since 2010) the bulk of a buffer is folded
 * 64 bytes per step by carry-less multiplication (the folding method of
 * Gopal et al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ
 * Instruction", Intel, 2009); heads, tails, short buffers and other CPUs use
 * a table, 8 bytes per step (slicing-by-8). zlib.crc32 in Node runs at about
 * 1.5 GB/s here, table or not; this runs at several times that.
 */

#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define HAVE_CLMUL_PATH 1
#endif

/* ---------- mapping ---------- */

typedef struct {
  void *addr;
  size_t length;
  int live;
} mapping;

/* The wrap's finalizer: `data` is the mapping record. */
static void mapping_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  mapping *m = data;
  if (m->live) munmap(m->addr, m->length);
  free(m);
}

static napi_value throw_errno(napi_env env, const char *op, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s failed: %s", op, strerror(err));
  napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value js_map(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "map(fd, length) takes two numbers");
    return NULL;
  }
  int32_t fd;
  int64_t length;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &length) != napi_ok ||
      fd < 0 || length <= 0) {
    napi_throw_range_error(env, NULL, "map(fd, length): a descriptor and a positive length");
    return NULL;
  }
  void *addr = mmap(NULL, (size_t)length, PROT_READ, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return throw_errno(env, "mmap", errno);
  mapping *m = malloc(sizeof *m);
  if (m == NULL) {
    munmap(addr, (size_t)length);
    return throw_errno(env, "malloc", ENOMEM);
  }
  m->addr = addr;
  m->length = (size_t)length;
  m->live = 1;
  /*
   * The ArrayBuffer gets no finalizer of its own: on a refusal some runtimes have already run it (others
   * defer it), so whoever owned `m` after a failure would be unclear. The mapping belongs to the wrap
   * instead, whose finalizer runs once, when the ArrayBuffer object is collected (no view of it is left).
   */
  napi_value ab;
  if (napi_create_external_arraybuffer(env, addr, (size_t)length, NULL, NULL, &ab) != napi_ok) {
    /* Runtimes with the V8 sandbox refuse external memory, as does a length over the largest buffer. */
    munmap(addr, (size_t)length);
    free(m);
    napi_throw_error(env, "ERR_NEXTDB_NO_EXTERNAL", "this runtime refused an external ArrayBuffer of that size");
    return NULL;
  }
  if (napi_wrap(env, ab, m, mapping_finalize, NULL, NULL) != napi_ok) {
    /* Not reachable for a fresh ArrayBuffer; detach it so nothing reads the memory, then unmap. */
    napi_detach_arraybuffer(env, ab);
    munmap(addr, (size_t)length);
    free(m);
    napi_throw_error(env, NULL, "napi_wrap of a mapped ArrayBuffer failed");
    return NULL;
  }
  return ab;
}

static napi_value js_unmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  mapping *m;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_unwrap(env, argv[0], (void **)&m) != napi_ok) {
    napi_throw_type_error(env, NULL, "unmap() takes an ArrayBuffer returned by map()");
    return NULL;
  }
  if (!m->live) return NULL;
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) {
    napi_throw_error(env, NULL, "could not detach a mapped ArrayBuffer");
    return NULL;
  }
  munmap(m->addr, m->length);
  m->live = 0;
  return NULL;
}

/* ---------- CRC-32 ---------- */

static uint32_t crc_table[8][256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    crc_table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++) crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

/* The running (pre-inverted) register over n bytes, by table. */
static uint32_t crc_by_table(uint32_t c, const uint8_t *p, size_t n) {
  while (n >= 8) {
    uint32_t lo, hi;
    memcpy(&lo, p, 4);
    memcpy(&hi, p + 4, 4);
    lo ^= c; /* little-endian hosts only: the x86-64 and arm64 Linux builds */
    c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
        crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
        crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

#ifdef HAVE_CLMUL_PATH
static int have_clmul;

/*
 * Folding constants for the bit-reflected polynomial 0x104C11DB7: x^(n) mod P
 * for the distances folded (4 x 128 bits, 128 bits, 64 bits), then P and the
 * Barrett constant floor(x^64 / P), all bit-reflected as the reflected CRC needs.
 */
#define K_FOLD4_LO 0x0154442bd4ULL
#define K_FOLD4_HI 0x01c6e41596ULL
#define K_FOLD1_LO 0x01751997d0ULL
#define K_FOLD1_HI 0x00ccaa009eULL
#define K_FOLD64 0x0163cd6124ULL
#define K_POLY 0x01db710641ULL
#define K_MU 0x01f7011641ULL

/* a * k (low or high halves as `imm` selects) folded onto b. */
__attribute__((target("pclmul,sse4.1"))) static inline __m128i fold(__m128i a, __m128i k, __m128i b) {
  __m128i lo = _mm_clmulepi64_si128(a, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(a, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), b);
}

/* The running register over n bytes, n >= 64 and a multiple of 16. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc_by_clmul(uint32_t c, const uint8_t *p, size_t n) {
  __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 0));
  __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 16));
  __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32));
  __m128i x4 = _mm_loadu_si128((const __m128i *)(p + 48));
  x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)c));
  p += 64;
  n -= 64;
  __m128i k = _mm_set_epi64x((long long)K_FOLD4_HI, (long long)K_FOLD4_LO);
  while (n >= 64) {
    x1 = fold(x1, k, _mm_loadu_si128((const __m128i *)(p + 0)));
    x2 = fold(x2, k, _mm_loadu_si128((const __m128i *)(p + 16)));
    x3 = fold(x3, k, _mm_loadu_si128((const __m128i *)(p + 32)));
    x4 = fold(x4, k, _mm_loadu_si128((const __m128i *)(p + 48)));
    p += 64;
    n -= 64;
  }
  k = _mm_set_epi64x((long long)K_FOLD1_HI, (long long)K_FOLD1_LO);
  x1 = fold(x1, k, x2);
  x1 = fold(x1, k, x3);
  x1 = fold(x1, k, x4);
  while (n >= 16) {
    x1 = fold(x1, k, _mm_loadu_si128((const __m128i *)p));
    p += 16;
    n -= 16;
  }
  /* 128 bits to 64: the low half times x^(64+32)... folded onto the high half. */
  const __m128i mask32 = _mm_setr_epi32(-1, 0, -1, 0);
  __m128i t = _mm_clmulepi64_si128(x1, k, 0x10);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
  /* 64 bits to 32 (plus 32 carried). */
  k = _mm_set_epi64x(0, (long long)K_FOLD64);
  t = _mm_srli_si128(x1, 4);
  x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k, 0x00);
  x1 = _mm_xor_si128(x1, t);
  /* Barrett reduction to the 32-bit remainder. */
  k = _mm_set_epi64x((long long)K_MU, (long long)K_POLY);
  t = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k, 0x10);
  t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), k, 0x00);
  x1 = _mm_xor_si128(x1, t);
  return (uint32_t)_mm_extract_epi32(x1, 1);
}
#endif

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
  uint32_t c = ~crc;
#ifdef HAVE_CLMUL_PATH
  if (have_clmul && n >= 64) {
    /*
     * A block read from a table is usually cold (a random page of the page cache): ask for all of its cache
     * lines at once, so their misses overlap instead of waiting for the hardware prefetcher to ramp up.
     */
    if (n <= 16384)
      for (size_t i = 0; i < n; i += 64) _mm_prefetch((const char *)p + i, _MM_HINT_T0);
    size_t bulk = n & ~(size_t)15;
    c = crc_by_clmul(c, p, bulk);
    p += bulk;
    n -= bulk;
  }
#endif
  return ~crc_by_table(c, p, n);
}

static napi_value js_crc32(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_typedarray_type type;
  size_t length;
  void *data;
  /* Offsets as int64: napi_get_value_uint32 would wrap one of 4 GiB or more into the array. */
  int64_t start, end;
  uint32_t crc = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array || napi_get_value_int64(env, argv[1], &start) != napi_ok ||
      napi_get_value_int64(env, argv[2], &end) != napi_ok ||
      (argc > 3 && napi_get_value_uint32(env, argv[3], &crc) != napi_ok)) {
    napi_throw_type_error(env, NULL, "crc32(bytes: Uint8Array, start, end, crc?)");
    return NULL;
  }
  if (start < 0 || start > end || (uint64_t)end > length) {
    napi_throw_range_error(env, NULL, "crc32: range outside the array");
    return NULL;
  }
  napi_value result;
  napi_create_uint32(env, crc32_update(crc, (const uint8_t *)data + start, (size_t)(end - start)), &result);
  return result;
}

/* Once per process: the module is initialized again in every worker thread that loads it. */
static void init_once(void) {
  crc_init();
#ifdef HAVE_CLMUL_PATH
  __builtin_cpu_init();
  have_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
}

NAPI_MODULE_INIT() {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, init_once);
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"map", js_map}, {"unmap", js_unmap}, {"crc32", js_crc32}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}
