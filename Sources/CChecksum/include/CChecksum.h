#ifndef PUSHCTL_CCHECKSUM_H
#define PUSHCTL_CCHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/// Nonzero when this CPU has the carry-less multiply (PCLMULQDQ) `pushctl_crc32_folded` needs.
int pushctl_crc32_folded_available(void);

/// The gzip CRC-32 (zlib's `crc32(crc, bytes, length)`, same value) of at least 64 bytes, folded
/// 64 bytes at a time with carry-less multiplies. Only where `pushctl_crc32_folded_available()`.
uint32_t pushctl_crc32_folded(uint32_t crc, const uint8_t *bytes, size_t length);

#endif
