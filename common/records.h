/* SPDX-License-Identifier: MIT */
/* Every trace record declared once: type code, fields in order; encoders, decoders and FORMAT.md's tables come from it. */
#ifndef PRESTANDA_RECORDS_H
#define PRESTANDA_RECORDS_H

/*
 * Included by trace.h (after the varint helpers); not on its own.
 *
 * PST_RECORDS(R) lists every record as
 *   R(NAME, name, code, table, framing, "what it is")
 * table: where docs/FORMAT.md shows it (TOP, BLOCK, THR, CPU, PROD);
 * framing: how its encoder is generated: SMALL (varints only, the length
 * fits one byte), VAR (strings or bytes: written past the largest header,
 * then moved down), HAND (a tail the generator does not write: the encoder
 * is written by hand in trace.h, the decoder still comes from here).
 *
 * PST_F_NAME(F, X) lists its payload's fields in order as
 *   F(X, kind, name, "meaning")
 * kinds: U varint; S string and B bytes (varint length, then the bytes);
 * OU, OS, OB the same, optional: older or damaged records may end before
 * them, and a reader takes 0 / absent; K PST_KIND_COUNT varints; N a count
 * of what follows; V N varints; V2 N pairs of varints; VB N byte strings
 * (checked by the reader as it takes them); IN inner records up to the end;
 * Z bytes up to the end (a compressed frame).
 * A reader ignores bytes after the last field it knows.
 */
#define PST_RECORDS(R)                                                                        \
	R(PROCESS, process, 0x01, TOP, VAR, "who was traced and how: first record of a trace") \
	R(BLOCK, block, 0x02, TOP, HAND, "one thread's flushed buffer: tid, base ts, inner records") \
	R(END, end, 0x03, TOP, SMALL, "clean end of the process image")                        \
	R(ZBLOCK, zblock, 0x04, TOP, HAND, "a BLOCK packed and compressed with zstd (`--full`)") \
	R(MODULE, module, 0x10, BLOCK, VAR, "a loaded object: bias, range, path, build id")   \
	R(STACK, stack, 0x11, BLOCK, HAND, "id, depth, return addresses innermost first")     \
	R(THREAD, thread, 0x12, BLOCK, VAR, "a thread started: tid, parent tid, name")        \
	R(TOTALS, totals, 0x13, BLOCK, HAND, "a thread's exact counters (every call, sampled or not)") \
	R(ATTACH, attach, 0x14, BLOCK, SMALL, "`prestanda attach`: the trace starts after the process did") \
	R(ALLOC, alloc, 0x20, BLOCK, SMALL, "dts, ptr, size, stack id, kind")                 \
	R(FREE, free, 0x21, BLOCK, SMALL, "dts, ptr")                                         \
	R(REALLOC, realloc, 0x22, BLOCK, SMALL, "dts, old ptr (0: none), new ptr, size, stack id") \
	R(LEAK_SCAN, leak_scan, 0x23, BLOCK, SMALL, "the reachability scan at exit or on demand: which list of blocks follows") \
	R(LEAK_PTR, leak_ptr, 0x24, BLOCK, SMALL, "one block of the scan's list, as the distance from the previous") \
	R(NET_CONN, net_conn, 0x30, BLOCK, HAND, "a connection's counters since its last record") \
	R(NET_LOOKUP, net_lookup, 0x31, BLOCK, HAND, "one name lookup: time, name, result, addresses") \
	R(REQ_SHAPE, req_shape, 0x32, BLOCK, VAR, "a request shape, declared once before its requests: id, protocol, text") \
	R(REQ, req, 0x33, BLOCK, SMALL, "one request and its reply: connection, shape, latency, bytes, hashes, stack") \
	R(REQ_AGG, req_agg, 0x34, BLOCK, HAND, "sampled mode: one interval's requests of a shape, endpoint, role, status and stack, summed") \
	R(THR_START, thr_start, 0x40, THR, SMALL, "tid, ts, parent tid, start routine, creating stack, create ts") \
	R(THR_END, thr_end, 0x41, THR, SMALL, "tid, ts, cpu ns, flags")                       \
	R(WAIT, wait, 0x42, THR, SMALL, "ts, object, kind, wait ns, stack id, flags")         \
	R(LOCK_STATS, lock_stats, 0x43, THR, SMALL, "one lock's cumulative statistics")       \
	R(THR_INFO, thr_info, 0x44, THR, SMALL, "online CPUs, locks not tracked")             \
	R(CPU_CONFIG, cpu_config, 0x50, CPU, SMALL, "source, hz, flags, stack bytes copied per sample") \
	R(SAMPLE, sample, 0x51, CPU, SMALL, "ts, pid, tid, user stack, kernel stack, count, flags") \
	R(OFFCPU, offcpu, 0x52, CPU, SMALL, "ts, pid, tid, user stack, kernel stack, count, blocked ns, flags") \
	R(PMODULE, pmodule, 0x53, CPU, VAR, "MODULE of one process: pid, bias, lo, hi, path, build id") \
	R(TASK, task, 0x54, CPU, VAR, "pid, tid, name (comm) of a sampled thread")            \
	R(KSYM, ksym, 0x55, CPU, VAR, "a kernel frame: address, symbol start, name, module")  \
	R(CPU_STATS, cpu_stats, 0x56, CPU, SMALL, "duration ns, lost samples, lost kernel stacks, lost user stacks") \
	R(USAMPLE, usample, 0x57, CPU, HAND, "the preload's sample before unwinding: ts, tid, count, flags, registers, stack copy") \
	R(SNAPSHOT, snapshot, 0x60, PROD, SMALL, "ts, counters so far and process resources") \
	R(PAUSE, pause, 0x61, PROD, SMALL, "ts, 1 paused / 0 resumed by the toggle signal")  \
	R(CAPPED, capped, 0x62, PROD, SMALL, "ts of the first event left out, the --max-size cap") \
	R(ALERT, alert, 0x63, PROD, VAR, "ts, one budget alert line as printed")              \
	R(SETTINGS, settings, 0x64, PROD, SMALL, "production settings: sample rate, interval, caps, signal")

/* ---- top level ---- */
#define PST_F_PROCESS(F, X)                                                            \
	F(X, U, version, "PST_VERSION; a reader opens no other")                        \
	F(X, U, pid, "the traced process")                                              \
	F(X, U, ppid, "its parent (0 from `prestanda record`)")                         \
	F(X, U, flags, "bit 0: `--full`, every event recorded; bit 1: `prestanda attach` (ATTACH follows)") \
	F(X, U, sample_bytes, "mean sampling interval in bytes without `--full`")       \
	F(X, U, start_realtime_ns, "CLOCK_REALTIME at the start")                       \
	F(X, U, start_monotonic_ns, "CLOCK_MONOTONIC at the start")                     \
	F(X, S, exe, "the executable's path")                                           \
	F(X, S, host, "the host name")
#define PST_F_BLOCK(F, X)                                                              \
	F(X, U, tid, "the thread whose buffer this is")                                 \
	F(X, U, base_ts, "the time the first event's dts counts from")                  \
	F(X, IN, records, "the inner records")
#define PST_F_ZBLOCK(F, X)                                                             \
	F(X, U, tid, "as BLOCK's")                                                      \
	F(X, U, base_ts, "as BLOCK's")                                                  \
	F(X, U, raw_len, "bytes of the BLOCK's inner records it stands for")            \
	F(X, Z, zstd, "one zstd frame of the packed records (common/zpack.h)")
#define PST_F_END(F, X)                                                                \
	F(X, U, ts, "when the image ended")                                             \
	F(X, U, reason, "0 exit, 1 exec, 2 fatal signal, 3 detached (`prestanda attach`)") \
	F(X, OU, signal, "the signal number (0 unless reason 2)")

/* ---- inside a BLOCK ---- */
#define PST_F_MODULE(F, X)                                                             \
	F(X, U, bias, "load bias (dlpi_addr)")                                          \
	F(X, U, lo, "lowest address of its PT_LOAD segments")                           \
	F(X, U, hi, "highest address of its PT_LOAD segments")                          \
	F(X, S, path, "the file; the main program's real path")                         \
	F(X, B, build_id, "the GNU build id, empty without one")
#define PST_F_STACK(F, X)                                                              \
	F(X, U, id, "unique in a trace, from 1")                                        \
	F(X, N, depth, "frames that follow")                                            \
	F(X, V, frames, "return addresses, innermost first")
#define PST_F_THREAD(F, X)                                                             \
	F(X, U, tid, "the thread")                                                      \
	F(X, U, parent_tid, "the process for a thread, 0 for the main thread")          \
	F(X, U, start_ts, "when it was first seen")                                     \
	F(X, S, name, "its name (comm)")
#define PST_F_TOTALS(F, X)                                                             \
	F(X, U, tid, "the thread")                                                      \
	F(X, U, alloc_calls, "every allocation call")                                   \
	F(X, U, free_calls, "every free of a non-NULL pointer")                         \
	F(X, U, alloc_bytes, "bytes asked for")                                         \
	F(X, K, by_kind, "calls by ALLOC.kind")                                          \
	F(X, N, nbuckets, "histogram buckets that follow")                              \
	F(X, V, hist, "calls by size: bucket 0 size 0, bucket b [2^(b-1), 2^b)")   \
	F(X, OU, tflags, "1: temporary was counted (older traces stop before it)")      \
	F(X, OU, temporary, "frees of the thread's last allocation, nothing freed since")
#define PST_F_ATTACH(F, X)                                                             \
	F(X, U, since_start_ns, "ns from the process's start to the trace's (PROCESS.start_monotonic_ns)")
#define PST_F_ALLOC(F, X)                                                              \
	F(X, U, dts, "time since the previous event of the block")                      \
	F(X, U, ptr, "the block")                                                       \
	F(X, U, size, "bytes (calloc: the product)")                                    \
	F(X, U, stack_id, "STACK of the call")                                           \
	F(X, U, kind, "0 malloc, 1 calloc, 2 realloc, 3 aligned")
#define PST_F_FREE(F, X)                                                               \
	F(X, U, dts, "time since the previous event of the block")                      \
	F(X, U, ptr, "the block")
#define PST_F_REALLOC(F, X)                                                            \
	F(X, U, dts, "time since the previous event of the block")                      \
	F(X, U, old_ptr, "the recorded block moved")                                    \
	F(X, U, new_ptr, "where it is now")                                             \
	F(X, U, size, "its new size")                                                   \
	F(X, U, stack_id, "STACK of the call")
#define PST_F_LEAK_SCAN(F, X)                                                          \
	F(X, U, ts, "when the scan ended (on demand: when it copied the live blocks)")                                              \
	F(X, U, flags, "bit 0: the list names the reachable blocks, else the lost ones; bit 1: on demand")  \
	F(X, U, blocks, "live blocks the scan knew")                                    \
	F(X, U, listed, "LEAK_PTR records that follow, in address order")               \
	F(X, U, running, "other threads not stopped: their whole stacks scanned")       \
	F(X, U, unknown, "threads whose stacks are not known: not scanned")             \
	F(X, U, scan_ns, "time the scan took")
#define PST_F_LEAK_PTR(F, X)                                                           \
	F(X, U, delta, "the block's address minus the previous one listed (first: minus 0)")
#define PST_F_NET_CONN(F, X)                                                           \
	F(X, U, conn_id, "the connection, unique in a trace")                           \
	F(X, U, kind, "0 TCP/IPv4, 1 TCP/IPv6, 2 Unix")                                 \
	F(X, U, role, "0 client, 1 server")                                             \
	F(X, U, flags, "0x1 FIRST, 0x2 CLOSED, 0x4 SHUTDOWN")                           \
	F(X, B, endpoint, "remote (client) or listening (server) address")              \
	F(X, U, open_ts, "connect called, or accept returned")                          \
	F(X, U, connect_ns, "until established (client)")                               \
	F(X, U, connect_err, "0, the connect's errno, 65535 abandoned")                 \
	F(X, U, end_ts, "closed, or the snapshot's time")                               \
	F(X, U, bytes_sent, "bytes sent")                                               \
	F(X, U, send_calls, "send calls")                                               \
	F(X, U, send_ns, "time inside them")                                            \
	F(X, U, bytes_recv, "bytes received")                                           \
	F(X, U, recv_calls, "receive calls")                                            \
	F(X, U, recv_ns, "time inside them")                                            \
	F(X, U, small_sends, "sends of fewer than 512 bytes")                           \
	F(X, U, requests, "request/response turns completed")                           \
	F(X, U, bursts, "runs of sends ended by a receive")                             \
	F(X, U, burst_sends, "sends in them")                                           \
	F(X, U, max_burst, "the longest")                                               \
	F(X, N, nhist, "histogram pairs that follow")                                   \
	F(X, V2, hist, "(bucket, count) of request latencies, non-zero buckets only")
#define PST_F_NET_LOOKUP(F, X)                                                         \
	F(X, U, ts, "when the call started")                                            \
	F(X, U, duration_ns, "how long it took")                                        \
	F(X, U, function, "0 getaddrinfo, 1 gethostbyname")                             \
	F(X, U, result, "0, or the error made positive")                                \
	F(X, S, name, "the name looked up (at most 255 bytes)")                         \
	F(X, N, naddrs, "addresses that follow")                                        \
	F(X, VB, addrs, "distinct addresses, 4 or 16 bytes each")

#define PST_F_REQ_SHAPE(F, X)                                                          \
	F(X, U, id, "the shape's id in this trace, from 1")                               \
	F(X, U, protocol, "1 PostgreSQL, 2 Redis, 3 memcached, 4 HTTP")                    \
	F(X, S, text, "normalised: SQL with $n for literals, command and key pattern, method and path") \
	F(X, OS, sample, "one request as sent, literals kept (only with --request-values)")
#define PST_F_REQ(F, X)                                                                \
	F(X, U, ts, "when the request's first byte went (client) or came (server)")      \
	F(X, U, conn_id, "its connection (NET_CONN)")                                     \
	F(X, U, shape_id, "REQ_SHAPE; 0: the shape table was full")                       \
	F(X, U, latency_ns, "request's first byte to the reply's first byte")             \
	F(X, U, req_bytes, "bytes of the request")                                        \
	F(X, U, reply_bytes, "bytes of the reply")                                        \
	F(X, U, stack_id, "STACK of the call that sent (client) or read (server) it")     \
	F(X, U, params, "32-bit hash of the request's bytes (its parameters)")            \
	F(X, U, reply, "32-bit hash of the reply (HTTP: its body)")                       \
	F(X, U, key, "32-bit hash of the cache key (Redis, memcached), else 0")           \
	F(X, U, flags, "1 error, 2 hit, 4 miss, 8 cache write, 16 no reply, 32 unanswered, 64 cache read, 128 kept as a sample: also counted in a REQ_AGG") \
	F(X, U, status, "HTTP status, else 0")
#define PST_F_REQ_AGG(F, X)                                                            \
	F(X, U, ts, "the end of the interval (the flush before a SNAPSHOT)")              \
	F(X, U, tid, "the thread that sent (client) or read (server) them")               \
	F(X, U, conn_id, "one of their connections (NET_CONN: endpoint and role)")        \
	F(X, U, shape_id, "REQ_SHAPE")                                                    \
	F(X, U, stack_id, "STACK of the call that sent or read them")                     \
	F(X, U, status, "HTTP status, else 0")                                            \
	F(X, U, count, "requests in the interval, exact")                                 \
	F(X, U, errors, "of them errors (REQ.flags 1)")                                   \
	F(X, U, hits, "cache reads that found their value")                               \
	F(X, U, misses, "cache reads that found nothing")                                 \
	F(X, U, writes, "cache writes")                                                   \
	F(X, U, noreply, "sent with no reply expected")                                   \
	F(X, U, unanswered, "the connection ended before the reply")                      \
	F(X, U, kept, "of count, the ones also written as REQ samples (flag 128)")        \
	F(X, U, req_bytes, "bytes of the requests")                                       \
	F(X, U, reply_bytes, "bytes of the replies")                                      \
	F(X, U, wait_ns, "latencies summed, requests with a reply only")                  \
	F(X, U, max_ns, "the longest latency since the start (not only this interval)")  \
	F(X, N, nhist, "histogram pairs that follow")                                     \
	F(X, V2, hist, "(bucket, count) of latencies, non-zero only: common/reqhist.h, 16 buckets per power of two")

/* ---- threads and locks ---- */
#define PST_F_THR_START(F, X)                                                          \
	F(X, U, tid, "the new thread")                                                  \
	F(X, U, ts, "when it started")                                                  \
	F(X, U, parent_tid, "the thread that created it")                               \
	F(X, U, start_routine, "code address it runs")                                  \
	F(X, U, stack_id, "STACK of the pthread_create call")                           \
	F(X, U, create_ts, "when pthread_create was called")
#define PST_F_THR_END(F, X)                                                            \
	F(X, U, tid, "the thread")                                                      \
	F(X, U, ts, "when it ended")                                                    \
	F(X, U, cpu_ns, "its CPU time")                                                 \
	F(X, U, flags, "bit 0: still running at the process's end; bit 1: runnable_ns known") \
	F(X, OU, runnable_ns, "time runnable but not running (the kernel's run delay)")
#define PST_F_WAIT(F, X)                                                               \
	F(X, U, ts, "when the wait ended")                                              \
	F(X, U, object, "the lock's address (0 for a join)")                            \
	F(X, U, kind, "0 mutex .. 6 join (enum pst_wait_kind)")                         \
	F(X, U, wait_ns, "how long")                                                    \
	F(X, U, stack_id, "the waiter's STACK")                                         \
	F(X, U, flags, "bit 0: ended without the object")
#define PST_F_LOCK_STATS(F, X)                                                         \
	F(X, U, object, "the lock's address")                                           \
	F(X, U, kind, "as WAIT.kind, 2 for any rwlock")                                 \
	F(X, U, first_stack, "STACK of its first use")                                  \
	F(X, U, first_ts, "time of its first use")                                      \
	F(X, U, acquisitions, "exact acquisitions")                                     \
	F(X, U, reads, "of them for reading (rwlock)")                                  \
	F(X, U, contended, "acquisitions that waited")                                  \
	F(X, U, wait_ns, "total wait")                                                  \
	F(X, U, max_wait_ns, "longest wait")                                            \
	F(X, U, max_wait_stack, "STACK of the longest wait")
#define PST_F_THR_INFO(F, X)                                                           \
	F(X, U, online_cpus, "CPUs online")                                             \
	F(X, U, untracked_locks, "locks the preload's table had no room for")

/* ---- CPU samples ---- */
#define PST_F_CPU_CONFIG(F, X)                                                         \
	F(X, U, source, "0 preload, 1 eBPF")                                            \
	F(X, U, hz, "samples per second")                                               \
	F(X, U, flags, "0x1 on-CPU, 0x2 off-CPU, 0x4 wall, 0x8 DWARF, 0x10 host-wide")  \
	F(X, U, stack_bytes, "stack bytes copied per sample")
#define PST_F_SAMPLE(F, X)                                                             \
	F(X, U, ts, "time (eBPF: the end of the interval)")                             \
	F(X, U, pid, "the process")                                                     \
	F(X, U, tid, "the thread")                                                      \
	F(X, U, user_stack, "STACK id, 0 for none")                                     \
	F(X, U, kernel_stack, "STACK id, 0 for none")                                   \
	F(X, U, count, "samples it stands for")                                         \
	F(X, U, flags, "0x1 user truncated, 0x2 kernel lost, 0x4 DWARF, 0x8 blocked")
#define PST_F_OFFCPU(F, X)                                                             \
	F(X, U, ts, "time")                                                             \
	F(X, U, pid, "the process")                                                     \
	F(X, U, tid, "the thread")                                                      \
	F(X, U, user_stack, "STACK id, 0 for none")                                     \
	F(X, U, kernel_stack, "STACK id, 0 for none")                                   \
	F(X, U, count, "waits it stands for")                                           \
	F(X, U, blocked_ns, "time blocked in all")                                      \
	F(X, U, flags, "as SAMPLE's")
#define PST_F_PMODULE(F, X)                                                            \
	F(X, U, pid, "the process")                                                     \
	F(X, U, bias, "load bias")                                                      \
	F(X, U, lo, "lowest mapped address")                                            \
	F(X, U, hi, "highest mapped address")                                           \
	F(X, S, path, "the file")                                                       \
	F(X, OB, build_id, "the GNU build id, empty without one")
#define PST_F_TASK(F, X)                                                               \
	F(X, U, pid, "the process")                                                     \
	F(X, U, tid, "the thread")                                                      \
	F(X, S, name, "its comm")
#define PST_F_KSYM(F, X)                                                               \
	F(X, U, address, "a kernel frame's address")                                    \
	F(X, U, symbol_start, "start of the symbol holding it")                         \
	F(X, S, name, "the symbol")                                                     \
	F(X, OS, module, "its module, \"\" for the kernel image")
#define PST_F_CPU_STATS(F, X)                                                          \
	F(X, U, duration_ns, "length of the recording")                                 \
	F(X, U, lost_events, "samples whose stack copy was lost")                       \
	F(X, OU, lost_kernel_stacks, "kernel stacks not taken")                         \
	F(X, OU, lost_user_stacks, "user stacks not taken")
#define PST_F_USAMPLE(F, X)                                                            \
	F(X, U, ts, "time")                                                             \
	F(X, U, tid, "the thread")                                                      \
	F(X, U, count, "1 plus the timer's overruns")                                   \
	F(X, U, flags, "as SAMPLE's (0x8 only)")                                        \
	F(X, N, nregs, "registers that follow")                                         \
	F(X, V, regs, "x86-64 DWARF registers 0..nregs-1")                              \
	F(X, B, stack, "bytes copied from the stack pointer up")

/* ---- snapshots and production mode ---- */
#define PST_F_SNAPSHOT(F, X)                                                           \
	F(X, U, ts, "time")                                                             \
	F(X, U, alloc_calls, "allocation calls since the start")                        \
	F(X, U, free_calls, "free calls since the start")                               \
	F(X, U, alloc_bytes, "bytes allocated since the start")                         \
	F(X, U, rss_bytes, "resident set")                                              \
	F(X, U, open_fds, "open descriptors")                                           \
	F(X, U, threads, "threads")                                                     \
	F(X, U, cpu_ns, "process CPU time")
#define PST_F_PAUSE(F, X)                                                              \
	F(X, U, ts, "time")                                                             \
	F(X, U, paused, "1: recording paused, 0: resumed")
#define PST_F_CAPPED(F, X)                                                             \
	F(X, U, ts, "base time of the first block left out")                            \
	F(X, U, cap_bytes, "the --max-size cap")
#define PST_F_ALERT(F, X)                                                              \
	F(X, U, ts, "time")                                                             \
	F(X, B, text, "one budget alert line, without its \"prestanda: \" prefix")
#define PST_F_SETTINGS(F, X)                                                           \
	F(X, U, wait_rate_ppm, "WAIT records kept per million")                         \
	F(X, U, metrics_ms, "SNAPSHOT interval")                                        \
	F(X, U, max_size, "trace size cap, 0: none")                                    \
	F(X, U, max_memory, "the preload's memory cap")                                 \
	F(X, U, toggle_signal, "0: none")

/* ---- the type codes ---- */
#define PST_REC_ENUM_(N, n, code, table, framing, doc) PST_REC_##N = code,
enum pst_record_type { PST_RECORDS(PST_REC_ENUM_) };

/* ---- decoded records: numbers, and spans that point into the payload ---- */

/* A run of fields inside a payload: a tail's elements, checked by the
 * decoder (V, V2) or by the one who takes them (VB, IN). */
struct pst_tail {
	const uint8_t *p, *end;
};

#define PST_MEMBER_U(n) uint64_t n;
#define PST_MEMBER_OU(n) uint64_t n;
#define PST_MEMBER_N(n) uint64_t n;
#define PST_MEMBER_S(n) const char *n; size_t n##_len; /* not NUL-terminated */
#define PST_MEMBER_OS(n) const char *n; size_t n##_len; /* NULL when absent */
#define PST_MEMBER_B(n) const uint8_t *n; size_t n##_len;
#define PST_MEMBER_OB(n) const uint8_t *n; size_t n##_len; /* NULL when absent */
#define PST_MEMBER_K(n) uint64_t n[PST_KIND_COUNT];
#define PST_MEMBER_V(n) struct pst_tail n;
#define PST_MEMBER_V2(n) struct pst_tail n;
#define PST_MEMBER_VB(n) struct pst_tail n;
#define PST_MEMBER_IN(n) struct pst_tail n;
#define PST_MEMBER_Z(n) struct pst_tail n;
#define PST_MEMBER_(X, kind, n, doc) PST_MEMBER_##kind(n)
#define PST_REC_STRUCT_(N, n, code, table, framing, doc)                                \
	struct pst_rec_##n {                                                           \
		PST_F_##N(PST_MEMBER_, _)                                              \
	};
PST_RECORDS(PST_REC_STRUCT_)

/* A varint length and that many bytes: their start, or NULL past end. */
static inline const uint8_t *pst_get_span(const uint8_t **p, const uint8_t *end, size_t *n)
{
	const uint8_t *s;
	uint64_t len;

	if (pst_get_varint(p, end, &len) || len > (uint64_t)(end - *p))
		return NULL;
	s = *p;
	*n = (size_t)len;
	*p += len;
	return s;
}

/* Step over count tail elements of per varints each; -1 when they overrun.
 * Every varint takes a byte at least: a count past that is refused first. */
static inline int pst_tail_walk(const uint8_t **p, const uint8_t *end, uint64_t count,
				unsigned per, struct pst_tail *t)
{
	uint64_t v;

	if (count > (uint64_t)(end - *p) / per)
		return -1;
	t->p = *p;
	for (uint64_t i = 0; i < count * per; i++)
		if (pst_get_varint(p, end, &v))
			return -1;
	t->end = *p;
	return 0;
}

/* The next varint of a tail the decoder checked (V, V2). */
static inline uint64_t pst_tail_u(struct pst_tail *t)
{
	uint64_t v = 0;

	pst_get_varint(&t->p, t->end, &v);
	return v;
}

/* The next byte string of a VB tail: its start, or NULL when it overruns. */
static inline const uint8_t *pst_tail_bytes(struct pst_tail *t, size_t *n)
{
	return pst_get_span(&t->p, t->end, n);
}

/*
 * pst_dec_NAME(payload, end, &rec): 0, or -1 when a field overruns the
 * payload or is not a valid varint. Optional fields missing or damaged
 * read as 0 or NULL; V and V2 tails are checked whole. GET is the varint
 * reader: pst_dec_alloc_fast and the other events take the hot path's.
 */
#define PST_DEC_U(n, GET) if (GET(&p, end, &r->n)) return -1;
#define PST_DEC_OU(n, GET) if (p == end || GET(&p, end, &r->n)) r->n = 0;
#define PST_DEC_N(n, GET) if (GET(&p, end, &r->n)) return -1; cnt_ = r->n;
#define PST_DEC_S(n, GET) if (!(r->n = (const char *)pst_get_span(&p, end, &r->n##_len))) return -1;
#define PST_DEC_B(n, GET) if (!(r->n = pst_get_span(&p, end, &r->n##_len))) return -1;
#define PST_DEC_OS(n, GET) if (!(r->n = (const char *)pst_get_span(&p, end, &r->n##_len))) r->n##_len = 0;
#define PST_DEC_OB(n, GET) if (!(r->n = pst_get_span(&p, end, &r->n##_len))) r->n##_len = 0;
#define PST_DEC_K(n, GET)                                                              \
	for (unsigned i_ = 0; i_ < PST_KIND_COUNT; i_++)                               \
		if (GET(&p, end, &r->n[i_]))                                           \
			return -1;
#define PST_DEC_V(n, GET) if (pst_tail_walk(&p, end, cnt_, 1, &r->n)) return -1;
#define PST_DEC_V2(n, GET) if (pst_tail_walk(&p, end, cnt_, 2, &r->n)) return -1;
#define PST_DEC_VB(n, GET) r->n = (struct pst_tail){ p, end };
#define PST_DEC_IN(n, GET) r->n = (struct pst_tail){ p, end };
#define PST_DEC_Z(n, GET) r->n = (struct pst_tail){ p, end };
#define PST_DEC_(GET, kind, n, doc) PST_DEC_##kind(n, GET)
#define PST_REC_DEC_(N, n, code, table, framing, doc)                                   \
	static inline int pst_dec_##n(const uint8_t *p, const uint8_t *end,            \
				      struct pst_rec_##n *r)                           \
	{                                                                              \
		uint64_t cnt_ = 0;                                                     \
		PST_F_##N(PST_DEC_, pst_get_varint)                                    \
		(void)cnt_;                                                            \
		return 0;                                                              \
	}
PST_RECORDS(PST_REC_DEC_)

/*
 * The varint reader of the events' hot path, where bytes up to lim (past
 * end) may be read: a varint of up to 8 bytes is decoded from one 8-byte
 * load without a branch per byte (the bytes past it are masked off). Same
 * result and checks as pst_get_varint.
 */
static inline int pst_get_varint_fast(const uint8_t **p, const uint8_t *end, const uint8_t *lim,
				      uint64_t *v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint8_t *q = *p;
	uint64_t x, stop;
	unsigned n;

	if (q < end && *q < 0x80) {
		*v = *q;
		*p = q + 1;
		return 0;
	}
	if (lim - q >= 8) {
		memcpy(&x, q, 8);
		stop = ~x & 0x8080808080808080ull; /* bytes that end a varint */
		if (stop) {
			n = ((unsigned)__builtin_ctzll(stop) >> 3) + 1;
			if (n > (size_t)(end - q))
				return -1;
			x &= stop ^ (stop - 1);
			*v = (x & 0x7f) | ((x >> 1) & 0x3f80) | ((x >> 2) & 0x1fc000) |
			     ((x >> 3) & 0xfe00000) | ((x >> 4) & 0x7f0000000ull) |
			     ((x >> 5) & 0x3f800000000ull) | ((x >> 6) & 0x1fc0000000000ull) |
			     ((x >> 7) & 0xfe000000000000ull);
			*p = q + n;
			return 0;
		}
	}
#else
	(void)lim;
#endif
	return pst_get_varint(p, end, v);
}

#define PST_GET_FAST_(pp, e, v) pst_get_varint_fast(pp, e, lim, v)
#define PST_REC_DEC_FAST_(N, n)                                                         \
	static inline int pst_dec_##n##_fast(const uint8_t *p, const uint8_t *end,     \
					     const uint8_t *lim, struct pst_rec_##n *r) \
	{                                                                              \
		uint64_t cnt_ = 0;                                                     \
		PST_F_##N(PST_DEC_, PST_GET_FAST_)                                     \
		(void)cnt_;                                                            \
		return 0;                                                              \
	}
PST_REC_DEC_FAST_(ALLOC, alloc)
PST_REC_DEC_FAST_(FREE, free)
PST_REC_DEC_FAST_(REALLOC, realloc)

/*
 * Encoders of the SMALL and VAR records: pst_enc_NAME(p, fields in order)
 * writes one whole framed record at p and returns its end. A string (S) is
 * passed NUL-terminated, bytes (B) as pointer and length. The caller makes
 * room: the record's *_MAX in trace.h, or pst_var_rec_max.
 */
#define PST_PARAM_U(n) , uint64_t n
#define PST_PARAM_OU(n) , uint64_t n
#define PST_PARAM_S(n) , const char *n
#define PST_PARAM_OS(n) , const char *n
#define PST_PARAM_B(n) , const void *n, size_t n##_len
#define PST_PARAM_OB(n) , const void *n, size_t n##_len
#define PST_PARAM_(X, kind, n, doc) PST_PARAM_##kind(n)
#define PST_PUT_U(n) q = pst_put_varint(q, n);
#define PST_PUT_OU(n) q = pst_put_varint(q, n);
#define PST_PUT_S(n) q = pst_put_bytes(q, n, strlen(n));
#define PST_PUT_OS(n) q = pst_put_bytes(q, n, strlen(n));
#define PST_PUT_B(n) q = pst_put_bytes(q, n, n##_len);
#define PST_PUT_OB(n) q = pst_put_bytes(q, n, n##_len);
#define PST_PUT_(X, kind, n, doc) PST_PUT_##kind(n)
#define PST_ENC_SMALL_(N, n)                                                            \
	static inline uint8_t *pst_enc_##n(uint8_t *p PST_F_##N(PST_PARAM_, _))        \
	{                                                                              \
		uint8_t *q = p + 2;                                                    \
		p[0] = PST_REC_##N;                                                    \
		PST_F_##N(PST_PUT_, _)                                                 \
		return pst_frame_small(p, q);                                          \
	}
#define PST_ENC_VAR_(N, n)                                                              \
	static inline uint8_t *pst_enc_##n(uint8_t *p PST_F_##N(PST_PARAM_, _))        \
	{                                                                              \
		uint8_t *q = p + 1 + PST_VARINT_MAX;                                   \
		PST_F_##N(PST_PUT_, _)                                                 \
		return pst_frame_var(p, PST_REC_##N, q);                               \
	}
#define PST_ENC_HAND_(N, n)
#define PST_REC_ENC_(N, n, code, table, framing, doc) PST_ENC_##framing##_(N, n)

#endif
