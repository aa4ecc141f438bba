/*
 * gallocy native page-fault shim.
 *
 * A memfd heap mapped twice: the application mapping (pages protected
 * none / read / read-write) and a shadow mapping (always read-write).
 * A SIGSEGV handler turns access faults inside the application mapping into
 * 8-byte requests on a pipe and parks the faulting thread on a per-page
 * futex until the page's generation changes. Everything else is chained to
 * the previously installed handler (Node's WebAssembly trap handler).
 *
 * Each page may also carry a deadline on CLOCK_MONOTONIC: a thread of the
 * shim's own ("gallocy-leases") closes every page whose deadline passed, so a
 * lease ends on time even while the JS main thread is stuck, and no page is
 * opened past its deadline.
 *
 * One heap per process at a time. Linux x86-64 only.
 */
#ifndef GALLOCY_SHIM_H
#define GALLOCY_SHIM_H

#include <stddef.h>
#include <stdint.h>

#define GS_PROT_NONE 0
#define GS_PROT_READ 1
#define GS_PROT_WRITE 2 /* read-write */

#define GS_ACCESS_READ 0
#define GS_ACCESS_WRITE 1

/* A request written to the pipe: little-endian, 8 bytes. */
typedef struct gs_record {
  uint32_t page;
  uint32_t access; /* GS_ACCESS_READ or GS_ACCESS_WRITE */
} gs_record;

/* Map a heap of `size` bytes split in pages of `page_size` bytes (a multiple
 * of the system page size), every page protected none, install the handler,
 * and record the calling thread as the main thread (and, until
 * gs_set_service_thread says otherwise, the fault-service thread).
 * Returns the pipe's read fd (>= 0) or -errno. */
int gs_init(size_t size, size_t page_size);
void *gs_app_base(void);
void *gs_shadow_base(void);
size_t gs_size(void);
size_t gs_page_size(void);
size_t gs_pages(void);

/* Set the application page's protection (GS_PROT_*), clear its pending
 * requests, bump its generation and wake every thread parked on it. A page
 * whose deadline has passed is protected none whatever prot says.
 * Returns 0 or -errno. */
int gs_resolve(uint32_t page, int prot);
int gs_invalidate(uint32_t page);  /* gs_resolve(page, GS_PROT_NONE) */
int gs_downgrade(uint32_t page);   /* gs_resolve(page, GS_PROT_READ) */
int gs_protection(uint32_t page);  /* GS_PROT_* or -errno */
uint32_t gs_generation(uint32_t page);

/* The page may stay open until CLOCK_MONOTONIC reads `us` (microseconds, as
 * gs_now_us reads it); from then on it is protected none (as gs_resolve would
 * do it) until a later deadline is set. A deadline already passed closes the
 * page before this returns. 0: no deadline. Returns 0 or -errno. */
int gs_set_deadline(uint32_t page, uint64_t us);
/* CLOCK_MONOTONIC in microseconds. */
uint64_t gs_now_us(void);
/* on = 0 suspends deadlines (nothing is closed for them, gs_resolve opens
 * past them) until on = 1 again: only to show what a heap without them does. */
void gs_enforce_deadlines(int on);

/* Stop the deadline thread, open every page read-write, stop sending
 * requests, wake every waiter and close the pipe's write end. The mappings
 * stay mapped (read-write) until the process exits, so views held by workers
 * never crash. Idempotent. */
void gs_shutdown(void);

uint64_t gs_fault_count(void);   /* faults claimed by the handler */
uint64_t gs_request_count(void); /* records written to the pipe */
uint64_t gs_expired_count(void); /* pages closed because their deadline passed */
/* Record the calling thread as the fault-service thread (it must never
 * touch the heap: the shim aborts instead of deadlocking). */
void gs_set_service_thread(void);
/* The calling thread's kernel thread id. */
int32_t gs_gettid(void);
/* CPU time the calling thread has used, in milliseconds (CLOCK_THREAD_CPUTIME_ID); -1 on failure. */
double gs_thread_cpu_ms(void);

#endif
