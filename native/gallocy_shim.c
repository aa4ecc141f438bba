/*
 * gallocy native page-fault shim (Linux x86-64). See gallocy_shim.h.
 *
 * Fault path (signal handler, async-signal-safe calls only):
 *   1. claim only SEGV_ACCERR faults inside the application mapping of the
 *      live heap; chain everything else to the previous handler;
 *   2. abort with a message if the faulting thread is the main JS thread or
 *      the fault-service thread (they serve faults: waiting would deadlock);
 *   3. read the page's generation, then its recorded protection: if it
 *      already allows the access (resolved meanwhile), return and retry;
 *   4. mark the request pending and, if it is new for this page, write an
 *      8-byte record to the pipe;
 *   5. FUTEX_WAIT on the generation read in step 3 until it changes, return:
 *      the access retries, and faults again if the page is still protected.
 *
 * Deadlines (the "gallocy-leases" thread): it sleeps on a condition variable
 * (CLOCK_MONOTONIC) until the soonest deadline or until a sooner one is set,
 * then closes every open page whose deadline passed. Every protection change
 * (gs_resolve, gs_set_deadline, the thread, shutdown) happens under the
 * heap's lock, and each one rereads the deadline and the clock under it: so a
 * page renewed meanwhile is not closed for its old deadline, and a page is
 * never opened past its deadline. The signal handler takes no lock.
 */
#define _GNU_SOURCE
#include "gallocy_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#if !defined(__linux__) || !defined(__x86_64__)
#error "gallocy_shim supports Linux x86-64 only"
#endif

#define GS_EXPORT __attribute__((visibility("default")))

typedef struct gs_heap {
  uint8_t *app;
  uint8_t *shadow;
  size_t size;
  size_t page_size;
  size_t pages;
  int rfd;
  int wfd;
  _Atomic uint32_t *gen;    /* futex words, one per page */
  _Atomic uint8_t *prot;    /* GS_PROT_* as last set */
  _Atomic uint8_t *pending; /* bit 0: read request sent, bit 1: write */
  atomic_int closed;
  atomic_int inflight; /* handlers between the closed check and write() */
  _Atomic uint64_t *deadline; /* CLOCK_MONOTONIC us the page must be closed at; 0: none */
  pthread_mutex_t lock;       /* see "Deadlines" above */
  pthread_cond_t wake;        /* the deadline thread sleeps on it */
  int sync_ready;             /* lock and wake were initialised */
  pthread_t thread;
  int has_thread;
  /* Under lock: */
  int stop;                /* the deadline thread must end */
  int enforcing;           /* deadlines in force (gs_enforce_deadlines) */
  uint64_t sleeping_until; /* the deadline thread's wake-up time; 0 while it scans */
  uint64_t soonest_set;    /* the soonest deadline set since its scan began */
} gs_heap;

static _Atomic(gs_heap *) g_heap;
static atomic_int g_main_tid;
static atomic_int g_service_tid;
static struct sigaction g_prev;
static atomic_int g_installed;
static atomic_uint_fast64_t g_faults;
static atomic_uint_fast64_t g_requests;
static atomic_uint_fast64_t g_expired;

static pid_t gs_tid(void) { return (pid_t)syscall(SYS_gettid); }

static long futex_wait(_Atomic uint32_t *addr, uint32_t expected) {
  return syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static long futex_wake_all(_Atomic uint32_t *addr) {
  return syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* ---- async-signal-safe output -------------------------------------------------------- */

static size_t put_str(char *buf, size_t at, size_t cap, const char *s) {
  while (*s && at + 1 < cap) buf[at++] = *s++;
  return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, uint64_t v, unsigned base) {
  char tmp[32];
  size_t n = 0;
  const char *digits = "0123456789abcdef";
  do {
    tmp[n++] = digits[v % base];
    v /= base;
  } while (v && n < sizeof tmp);
  while (n && at + 1 < cap) buf[at++] = tmp[--n];
  return at;
}

static void write_all(int fd, const char *buf, size_t len) {
  while (len) {
    ssize_t w = write(fd, buf, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    buf += w;
    len -= (size_t)w;
  }
}

static void die_on_service_thread(const char *who, uint32_t page, int is_write, uintptr_t addr) {
  char msg[512];
  size_t n = 0;
  n = put_str(msg, n, sizeof msg, "gallocy: fatal: the ");
  n = put_str(msg, n, sizeof msg, who);
  n = put_str(msg, n, sizeof msg, " touched protected heap page ");
  n = put_num(msg, n, sizeof msg, page, 10);
  n = put_str(msg, n, sizeof msg, is_write ? " (write" : " (read");
  n = put_str(msg, n, sizeof msg, " at 0x");
  n = put_num(msg, n, sizeof msg, addr, 16);
  n = put_str(msg, n, sizeof msg,
              "); the main JS thread and the fault-service thread must never touch the "
              "shared heap (it would deadlock waiting for itself); aborting\n");
  write_all(2, msg, n);
  abort();
}

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- chaining ------------------------------------------------------------------------ */

static void chain(int sig, siginfo_t *info, void *uc) {
  struct sigaction *p = &g_prev;
  if (p->sa_flags & SA_SIGINFO) {
    if (p->sa_sigaction) {
      p->sa_sigaction(sig, info, uc);
      return;
    }
  } else if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
    p->sa_handler(sig);
    return;
  }
  /* Default (or ignore, which a synchronous fault cannot honour): restore the
   * default action. A synchronous fault re-executes the instruction and dies
   * with SIGSEGV; a sent signal is re-raised (blocked until we return). */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, NULL);
  if (info == NULL || info->si_code <= 0) raise(sig);
}

/* ---- the handler --------------------------------------------------------------------- */

static int satisfies(int prot, int is_write) {
  return is_write ? prot == GS_PROT_WRITE : prot != GS_PROT_NONE;
}

static void gs_handler(int sig, siginfo_t *info, void *ucv) {
  int saved_errno = errno;
  gs_heap *h = atomic_load_explicit(&g_heap, memory_order_acquire);
  uintptr_t addr = (uintptr_t)(info ? info->si_addr : NULL);
  if (h == NULL || info == NULL || info->si_code != SEGV_ACCERR || addr < (uintptr_t)h->app ||
      addr >= (uintptr_t)h->app + h->size) {
    errno = saved_errno;
    chain(sig, info, ucv);
    return;
  }
  ucontext_t *uc = (ucontext_t *)ucv;
  int is_write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
  uint32_t page = (uint32_t)((addr - (uintptr_t)h->app) / h->page_size);

  pid_t tid = gs_tid();
  if (tid == atomic_load(&g_main_tid)) die_on_service_thread("main JS thread", page, is_write, addr);
  if (tid == atomic_load(&g_service_tid))
    die_on_service_thread("fault-service thread", page, is_write, addr);

  atomic_fetch_add(&g_faults, 1);
  uint32_t g = atomic_load_explicit(&h->gen[page], memory_order_acquire);
  if (atomic_load(&h->closed) || satisfies(atomic_load(&h->prot[page]), is_write)) {
    errno = saved_errno;
    return; /* resolved meanwhile (or shutting down): retry the access */
  }

  uint8_t bit = is_write ? 2 : 1;
  uint8_t old = atomic_fetch_or(&h->pending[page], bit);
  /* A pending write request covers a read; a pending read does not cover a write. */
  int send = is_write ? !(old & 2) : old == 0;
  if (send) {
    atomic_fetch_add(&h->inflight, 1);
    if (!atomic_load(&h->closed)) {
      gs_record rec = {page, (uint32_t)(is_write ? GS_ACCESS_WRITE : GS_ACCESS_READ)};
      write_all(h->wfd, (const char *)&rec, sizeof rec); /* 8 < PIPE_BUF: atomic */
      atomic_fetch_add(&g_requests, 1);
    }
    atomic_fetch_sub(&h->inflight, 1);
  }

  while (atomic_load_explicit(&h->gen[page], memory_order_acquire) == g && !atomic_load(&h->closed)) {
    futex_wait(&h->gen[page], g); /* EAGAIN if already changed, EINTR on signals */
  }
  errno = saved_errno;
}

static int install_handler(void) {
  int expected = 0;
  if (!atomic_compare_exchange_strong(&g_installed, &expected, 1)) return 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = gs_handler;
  /* SA_ONSTACK: use an alternate stack where the thread has one (as V8's and
   * Node's own handlers do); SA_RESTART: syscalls interrupted on other threads
   * restart. SIGSEGV stays blocked while a thread waits inside the handler. */
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &g_prev) != 0) {
    int e = errno;
    atomic_store(&g_installed, 0);
    return -e;
  }
  return 0;
}

/* ---- protection and deadlines -------------------------------------------------------- */

static int prot_flags(int prot) {
  switch (prot) {
    case GS_PROT_NONE: return PROT_NONE;
    case GS_PROT_READ: return PROT_READ;
    case GS_PROT_WRITE: return PROT_READ | PROT_WRITE;
    default: return -1;
  }
}

/* Under the lock. */
static int protect_locked(gs_heap *h, uint32_t page, int prot) {
  if (mprotect(h->app + (size_t)page * h->page_size, h->page_size, prot_flags(prot)) != 0) return -errno;
  /* Order matters: protection, then the recorded protection, then pending,
   * then the generation; a handler reads the generation before the
   * recorded protection, so it either sees the new protection or waits on a
   * generation that is about to change. */
  atomic_store(&h->prot[page], (uint8_t)prot);
  atomic_store(&h->pending[page], 0);
  atomic_fetch_add_explicit(&h->gen[page], 1, memory_order_release);
  futex_wake_all(&h->gen[page]);
  return 0;
}

/* Under the lock. */
static int past_deadline_locked(gs_heap *h, uint32_t page) {
  uint64_t d = atomic_load(&h->deadline[page]);
  return h->enforcing && d != 0 && now_us() >= d;
}

static void die_unenforced(uint32_t page, int err) {
  char msg[256];
  size_t n = 0;
  n = put_str(msg, n, sizeof msg, "gallocy: fatal: cannot close heap page ");
  n = put_num(msg, n, sizeof msg, page, 10);
  n = put_str(msg, n, sizeof msg, " at its lease deadline (mprotect: errno ");
  n = put_num(msg, n, sizeof msg, (uint64_t)err, 10);
  n = put_str(msg, n, sizeof msg, "); its threads would read past the lease; aborting\n");
  write_all(2, msg, n);
  abort();
}

/* Under the lock: closes the page if it is open past its deadline. */
static void expire_locked(gs_heap *h, uint32_t page) {
  if (atomic_load(&h->closed) || atomic_load(&h->prot[page]) == GS_PROT_NONE || !past_deadline_locked(h, page)) return;
  int rc = protect_locked(h, page, GS_PROT_NONE);
  if (rc != 0) die_unenforced(page, -rc);
  atomic_fetch_add(&g_expired, 1);
}

/* Closes every open page whose deadline passed; returns the soonest deadline
 * still ahead (UINT64_MAX: none). The scan reads without the lock; each close
 * rechecks under it. */
static uint64_t expire_due(gs_heap *h) {
  uint64_t now = now_us();
  uint64_t next = UINT64_MAX;
  for (size_t p = 0; p < h->pages; p++) {
    uint64_t d = atomic_load_explicit(&h->deadline[p], memory_order_relaxed);
    if (d == 0) continue;
    if (d > now) {
      if (d < next) next = d;
      continue;
    }
    if (atomic_load(&h->prot[p]) == GS_PROT_NONE) continue;
    pthread_mutex_lock(&h->lock);
    expire_locked(h, (uint32_t)p);
    pthread_mutex_unlock(&h->lock);
  }
  return next;
}

static void *deadline_thread(void *arg) {
  gs_heap *h = arg;
  pthread_mutex_lock(&h->lock);
  while (!h->stop) {
    h->sleeping_until = 0;
    h->soonest_set = UINT64_MAX;
    int on = h->enforcing;
    pthread_mutex_unlock(&h->lock);
    uint64_t next = on ? expire_due(h) : UINT64_MAX;
    pthread_mutex_lock(&h->lock);
    /* A deadline set during the scan may be sooner than any the scan saw. */
    if (h->soonest_set < next) next = h->soonest_set;
    if (h->stop) break;
    h->sleeping_until = next;
    if (next == UINT64_MAX) {
      pthread_cond_wait(&h->wake, &h->lock);
    } else {
      struct timespec ts = {(time_t)(next / 1000000u), (long)(next % 1000000u) * 1000};
      pthread_cond_timedwait(&h->wake, &h->lock, &ts);
    }
  }
  pthread_mutex_unlock(&h->lock);
  return NULL;
}

/* The thread starts with every signal blocked: they are the JS threads' to handle. */
static int start_deadline_thread(gs_heap *h) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&h->thread, NULL, deadline_thread, h);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) return -rc;
  pthread_setname_np(h->thread, "gallocy-leases"); /* here, so it has its name before gs_init returns */
  h->has_thread = 1;
  return 0;
}

static void stop_deadline_thread(gs_heap *h) {
  if (!h->has_thread) return;
  pthread_mutex_lock(&h->lock);
  h->stop = 1;
  pthread_cond_signal(&h->wake);
  pthread_mutex_unlock(&h->lock);
  pthread_join(h->thread, NULL);
  h->has_thread = 0;
}

/* ---- API ----------------------------------------------------------------------------- */

GS_EXPORT int gs_init(size_t size, size_t page_size) {
  gs_heap *cur = atomic_load(&g_heap);
  if (cur != NULL && !atomic_load(&cur->closed)) return -EBUSY;
  long sys = sysconf(_SC_PAGESIZE);
  if (sys <= 0) sys = 4096;
  if (page_size == 0 || page_size % (size_t)sys != 0) return -EINVAL;
  if (size == 0 || size % page_size != 0) return -EINVAL;
  size_t pages = size / page_size;
  if (pages > UINT32_MAX) return -E2BIG;

  gs_heap *h = calloc(1, sizeof *h);
  if (!h) return -ENOMEM;
  h->size = size;
  h->page_size = page_size;
  h->pages = pages;
  h->rfd = h->wfd = -1;
  h->gen = calloc(pages, sizeof *h->gen);
  h->prot = calloc(pages, sizeof *h->prot);
  h->pending = calloc(pages, sizeof *h->pending);
  h->deadline = calloc(pages, sizeof *h->deadline);
  int err = 0;
  int memfd = -1;
  if (!h->gen || !h->prot || !h->pending || !h->deadline) {
    err = -ENOMEM;
    goto fail;
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines are on it */
  if (pthread_mutex_init(&h->lock, NULL) != 0 || pthread_cond_init(&h->wake, &ca) != 0) {
    pthread_condattr_destroy(&ca);
    err = -ENOMEM;
    goto fail;
  }
  pthread_condattr_destroy(&ca);
  h->sync_ready = 1;
  h->enforcing = 1;
  memfd = (int)syscall(SYS_memfd_create, "gallocy-heap", MFD_CLOEXEC);
  if (memfd < 0) {
    err = -errno;
    goto fail;
  }
  if (ftruncate(memfd, (off_t)size) != 0) {
    err = -errno;
    goto fail;
  }
  void *app = mmap(NULL, size, PROT_NONE, MAP_SHARED, memfd, 0);
  if (app == MAP_FAILED) {
    err = -errno;
    goto fail;
  }
  h->app = app;
  void *shadow = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (shadow == MAP_FAILED) {
    err = -errno;
    goto fail;
  }
  h->shadow = shadow;
  close(memfd); /* the mappings keep the memory alive */
  memfd = -1;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    err = -errno;
    goto fail;
  }
  h->rfd = fds[0];
  h->wfd = fds[1];

  pid_t tid = gs_tid();
  atomic_store(&g_main_tid, tid);
  atomic_store(&g_service_tid, tid);
  err = install_handler();
  if (err != 0) goto fail;
  err = start_deadline_thread(h);
  if (err != 0) goto fail;
  /* An older, shut-down heap is left mapped (read-write) and its bookkeeping
   * is kept: workers may still hold views of it or be leaving its handler. */
  atomic_store_explicit(&g_heap, h, memory_order_release);
  return h->rfd;

fail:
  if (memfd >= 0) close(memfd);
  if (h->rfd >= 0) close(h->rfd);
  if (h->wfd >= 0) close(h->wfd);
  if (h->app) munmap(h->app, size);
  if (h->shadow) munmap(h->shadow, size);
  free(h->gen);
  free(h->prot);
  free(h->pending);
  free(h->deadline);
  if (h->sync_ready) {
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->wake);
  }
  free(h);
  return err;
}

GS_EXPORT void *gs_app_base(void) {
  gs_heap *h = atomic_load(&g_heap);
  return h ? h->app : NULL;
}
GS_EXPORT void *gs_shadow_base(void) {
  gs_heap *h = atomic_load(&g_heap);
  return h ? h->shadow : NULL;
}
GS_EXPORT size_t gs_size(void) {
  gs_heap *h = atomic_load(&g_heap);
  return h ? h->size : 0;
}
GS_EXPORT size_t gs_page_size(void) {
  gs_heap *h = atomic_load(&g_heap);
  return h ? h->page_size : 0;
}
GS_EXPORT size_t gs_pages(void) {
  gs_heap *h = atomic_load(&g_heap);
  return h ? h->pages : 0;
}

GS_EXPORT int gs_resolve(uint32_t page, int prot) {
  gs_heap *h = atomic_load(&g_heap);
  if (!h) return -ENODEV;
  if (atomic_load(&h->closed)) return -EPIPE;
  if (page >= h->pages) return -ERANGE;
  if (prot_flags(prot) < 0) return -EINVAL;
  pthread_mutex_lock(&h->lock);
  int rc = -EPIPE;
  if (!atomic_load(&h->closed)) {
    if (prot != GS_PROT_NONE && past_deadline_locked(h, page)) prot = GS_PROT_NONE;
    rc = protect_locked(h, page, prot);
  }
  pthread_mutex_unlock(&h->lock);
  return rc;
}

GS_EXPORT int gs_set_deadline(uint32_t page, uint64_t us) {
  gs_heap *h = atomic_load(&g_heap);
  if (!h) return -ENODEV;
  if (page >= h->pages) return -ERANGE;
  pthread_mutex_lock(&h->lock);
  int rc = -EPIPE;
  if (!atomic_load(&h->closed)) {
    rc = 0;
    atomic_store(&h->deadline[page], us);
    if (us != 0) {
      if (us < h->soonest_set) h->soonest_set = us;
      if (us < h->sleeping_until) pthread_cond_signal(&h->wake);
      expire_locked(h, page); /* already passed: closed before this returns */
    }
  }
  pthread_mutex_unlock(&h->lock);
  return rc;
}

GS_EXPORT uint64_t gs_now_us(void) { return now_us(); }

GS_EXPORT void gs_enforce_deadlines(int on) {
  gs_heap *h = atomic_load(&g_heap);
  if (!h) return;
  pthread_mutex_lock(&h->lock);
  h->enforcing = on != 0;
  h->soonest_set = 0; /* look again at once */
  pthread_cond_signal(&h->wake);
  pthread_mutex_unlock(&h->lock);
}

GS_EXPORT int gs_invalidate(uint32_t page) { return gs_resolve(page, GS_PROT_NONE); }
GS_EXPORT int gs_downgrade(uint32_t page) { return gs_resolve(page, GS_PROT_READ); }

GS_EXPORT int gs_protection(uint32_t page) {
  gs_heap *h = atomic_load(&g_heap);
  if (!h) return -ENODEV;
  if (page >= h->pages) return -ERANGE;
  return atomic_load(&h->prot[page]);
}

GS_EXPORT uint32_t gs_generation(uint32_t page) {
  gs_heap *h = atomic_load(&g_heap);
  if (!h || page >= h->pages) return 0;
  return atomic_load(&h->gen[page]);
}

GS_EXPORT void gs_shutdown(void) {
  gs_heap *h = atomic_load(&g_heap);
  if (!h) return;
  int expected = 0;
  if (!atomic_compare_exchange_strong(&h->closed, &expected, 1)) return;
  stop_deadline_thread(h); /* before the pages open, or it could close one again */
  pthread_mutex_lock(&h->lock);
  mprotect(h->app, h->size, PROT_READ | PROT_WRITE);
  for (size_t p = 0; p < h->pages; p++) {
    atomic_store(&h->prot[p], GS_PROT_WRITE);
    atomic_store(&h->pending[p], 0);
    atomic_fetch_add_explicit(&h->gen[p], 1, memory_order_release);
    futex_wake_all(&h->gen[p]);
  }
  pthread_mutex_unlock(&h->lock);
  /* No handler may be left between its closed check and its write(). */
  while (atomic_load(&h->inflight) != 0) sched_yield();
  if (h->wfd >= 0) {
    close(h->wfd);
    h->wfd = -1;
  }
  /* The read end belongs to the reader (the JS side closes it). */
}

GS_EXPORT uint64_t gs_fault_count(void) { return atomic_load(&g_faults); }
GS_EXPORT uint64_t gs_request_count(void) { return atomic_load(&g_requests); }
GS_EXPORT uint64_t gs_expired_count(void) { return atomic_load(&g_expired); }
GS_EXPORT void gs_set_service_thread(void) { atomic_store(&g_service_tid, gs_tid()); }
GS_EXPORT int32_t gs_gettid(void) { return (int32_t)gs_tid(); }
GS_EXPORT double gs_thread_cpu_ms(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return -1;
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
