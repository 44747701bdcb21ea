#ifndef BAYESNET_RANDOM_H
#define BAYESNET_RANDOM_H

#include <stdint.h>

/// Elements [offset, offset + count) of a stream's N(0, 1) sequence as float, the values
/// `RandomStream.fillNormal` gives: Philox4x32-10 blocks with counter (pair index, step) under `key`,
/// Marsaglia's polar method on the block's two (u, v) pairs, Box-Muller on a block under `fallbackKey`
/// when both fall outside the unit disc. Same double-precision arithmetic and C library logarithm, so
/// the same bits.
void bn_fill_normal_f32(uint64_t key, uint64_t fallbackKey, uint64_t step, long offset, long count, float *out);

/// Elements [offset, offset + count) of a stream's ±1 sequence as float, the values `RandomStream.fillSigns`
/// gives: bit i mod 32 of word (i / 32) mod 4 of the Philox4x32-10 block i / 128 (counter (block, step)
/// under `key`), +1 for a clear bit.
void bn_fill_signs_f32(uint64_t key, uint64_t step, long offset, long count, float *out);

/// Inverted dropout of elements [offset, offset + count) with the bits of `Dropout`: element i of the stream
/// is kept when its uniform (`RandomStream.uniform(at:)`, 53 bits) is at least `rate`; out[i − offset] =
/// in[i − offset]·scale where kept, 0 elsewhere, added to out when `accumulate`. in may equal out.
void bn_dropout_f32(uint64_t key, uint64_t step, long offset, long count, const float *in, float *out, double rate,
                    float scale, int accumulate);

#endif
