/** This thread's V8 heap: bytes in use, and the young generation's committed, touched pages. */
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

export interface HeapReading {
  usedBytes: number;
  /**
   * New space (both semi-spaces) and new large objects, physically committed. V8 grows it during an allocation burst
   * (up to a fixed cap per thread) and shrinks it only when a later collection sees little allocation, so its size
   * depends on the recent past, not on what the thread holds.
   */
  youngGenerationBytes: number;
}

export function readHeap(): HeapReading {
  let young = 0;
  for (const s of getHeapSpaceStatistics()) {
    if (s.space_name === 'new_space' || s.space_name === 'new_large_object_space') young += s.physical_space_size;
  }
  return { usedBytes: getHeapStatistics().used_heap_size, youngGenerationBytes: young };
}
