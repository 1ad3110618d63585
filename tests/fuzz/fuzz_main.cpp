// The libFuzzer entry point of every target in tests/fuzz: tests/CMakeLists.txt builds one
// program per line of targets.txt, <name>_fuzz, with HONE_FUZZ_HEADER "fuzz/<name>_target.h"
// and HONE_FUZZ_TARGET hone::fuzz::<name>_target. Build: cmake --preset fuzz, then
// cmake --build build/fuzz --target <name>_fuzz. Run (tools/fuzz.sh does it for every target):
//   build/fuzz/tests/<name>_fuzz -dict=tests/fuzz/dict/<dict> -timeout=10 -rss_limit_mb=2048 \
//       -max_total_time=600 /tmp/new-inputs tests/fuzz/corpus/<seeds>...
#include HONE_FUZZ_HEADER

#include "tensor/allocator.h"

// A memory budget well under -rss_limit_mb=2048: an input that asks for more gets the
// library's hone::Error (what a user gets) instead of a libFuzzer out-of-memory report.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hone::set_memory_budget(size_t(512) << 20);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)HONE_FUZZ_TARGET(data, size);
  return 0;
}
