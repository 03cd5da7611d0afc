#!/usr/bin/env bash
# Source this. `quiet CMD...` runs CMD with real-time (SCHED_FIFO) priority when
# allowed, so that a benchmark on a shared machine is not timed against other
# people's compilers: its threads preempt ordinary processes. The kernel still
# leaves 5% of each second to others (sched_rt_runtime_us), which is why the
# benchmarks report medians of short repeats. Without the right to use chrt it
# runs CMD normally and says so.
quiet() {
  if chrt -f 10 true 2> /dev/null; then
    echo "# $(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg); running with chrt -f 10" >&2
    chrt -f 10 "$@"
  else
    echo "# $(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg); chrt not permitted: timings share the CPU" >&2
    "$@"
  fi
}
