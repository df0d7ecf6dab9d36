// The gzip CRC-32 by folding (Intel, "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ
// Instruction", 2009): the message is reduced 512, then 128 bits at a time by carry-less
// multiplies with x^n mod P, which keeps it congruent modulo P; the last 16 folded bytes and the
// tail (under 16 bytes) are then run through the plain bitwise CRC. No Barrett reduction, no table.
//
// Why: zlib 1.2.13's table CRC runs at ~3.8 GB/s here (this code at ~12): 8-10 % of the CPU
// pushctl spends on a docker-archive layer of random data (docs/performance.md "Docker-archive:
// where the CPU goes").
// The value is zlib's, for any length, alignment and starting CRC (CRC32FoldedTests).

#include "CChecksum.h"

#if defined(__x86_64__)
#include <immintrin.h>

int pushctl_crc32_folded_available(void) {
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

// The reflected polynomial of gzip's CRC-32 (RFC 1952), one bit at a time: only for the last
// 16 to 31 bytes, so speed does not matter.
static uint32_t crc32_bitwise(uint32_t reg, const uint8_t *bytes, size_t length) {
    for (size_t i = 0; i < length; i++) {
        reg ^= bytes[i];
        for (int bit = 0; bit < 8; bit++) reg = (reg >> 1) ^ (0xedb88320u & (0u - (reg & 1u)));
    }
    return reg;
}

// state · x^n mod P, kept in 128 bits: the low half times one constant, the high half the other.
__attribute__((target("pclmul,sse4.1")))
static inline __m128i fold(__m128i state, __m128i constants) {
    return _mm_xor_si128(
        _mm_clmulepi64_si128(state, constants, 0x00), _mm_clmulepi64_si128(state, constants, 0x11));
}

__attribute__((target("pclmul,sse4.1")))
uint32_t pushctl_crc32_folded(uint32_t crc, const uint8_t *bytes, size_t length) {
    // The paper's constants (powers of x modulo P, bit-reflected): four lanes, each folded 64
    // bytes forward; then one lane folded 16 bytes forward. The low half of a lane is multiplied
    // by the low constant, the high half by the high one.
    const __m128i by64 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
    const __m128i by16 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);

    // zlib's starting register (~crc) acts as an XOR of the first 32 bits of the message.
    __m128i lane0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)bytes), _mm_cvtsi32_si128((int)~crc));
    __m128i lane1 = _mm_loadu_si128((const __m128i *)(bytes + 16));
    __m128i lane2 = _mm_loadu_si128((const __m128i *)(bytes + 32));
    __m128i lane3 = _mm_loadu_si128((const __m128i *)(bytes + 48));
    size_t at = 64;
    for (; at + 64 <= length; at += 64) {
        lane0 = _mm_xor_si128(fold(lane0, by64), _mm_loadu_si128((const __m128i *)(bytes + at)));
        lane1 = _mm_xor_si128(fold(lane1, by64), _mm_loadu_si128((const __m128i *)(bytes + at + 16)));
        lane2 = _mm_xor_si128(fold(lane2, by64), _mm_loadu_si128((const __m128i *)(bytes + at + 32)));
        lane3 = _mm_xor_si128(fold(lane3, by64), _mm_loadu_si128((const __m128i *)(bytes + at + 48)));
    }
    __m128i state = _mm_xor_si128(fold(lane0, by16), lane1);
    state = _mm_xor_si128(fold(state, by16), lane2);
    state = _mm_xor_si128(fold(state, by16), lane3);
    for (; at + 16 <= length; at += 16) {
        state = _mm_xor_si128(fold(state, by16), _mm_loadu_si128((const __m128i *)(bytes + at)));
    }
    // The folded 16 bytes stand for everything before the tail; a zero register over them and the
    // tail gives the CRC's register, and zlib's result is its complement.
    uint8_t folded[16];
    _mm_storeu_si128((__m128i *)folded, state);
    uint32_t reg = crc32_bitwise(0, folded, sizeof folded);
    return ~crc32_bitwise(reg, bytes + at, length - at);
}

#else

int pushctl_crc32_folded_available(void) { return 0; }

uint32_t pushctl_crc32_folded(uint32_t crc, const uint8_t *bytes, size_t length) {
    (void)bytes;
    (void)length;
    return crc;
}

#endif
