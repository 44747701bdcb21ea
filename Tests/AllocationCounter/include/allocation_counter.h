#ifndef BAYESNET_ALLOCATION_COUNTER_H
#define BAYESNET_ALLOCATION_COUNTER_H

/// Starts counting heap allocations (malloc, calloc, realloc, memalign and friends) made on the calling
/// thread. Counting is per thread, so tests running at the same time on other threads do not disturb it.
void bn_allocation_count_begin(void);
/// Stops counting on the calling thread and returns the allocations counted since the matching begin.
long bn_allocation_count_end(void);

#endif
