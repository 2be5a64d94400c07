/* Windows of a capture file as `bytes` objects whose contents are the file's pages, mapped,
 * not copied (tlslens.capture.source, ChunkedInput).
 *
 * Why: the readers are compiled (tlslens.compiled) and read header fields inline only out of
 * a `bytes` object; a memoryview of a mapped file is a generic call per field. So each chunk
 * was read into a fresh `bytes`, and the kernel's copy of the file into it was a quarter of
 * a split run's processor time on a pktmon trace (every worker copies the whole file):
 * bench/RESULTS.md, the seventeenth and eighteenth sessions. A `bytes` object keeps its
 * contents inline, just after its header (CPython's PyBytesObject, ob_sval). So a window is
 * laid out as:
 *
 *     [ an anonymous page, whose last bytes are the object's header ]
 *     [ the file's whole pages from `offset`, mapped read-only and private ]
 *     [ anonymous memory: the last part-page of the window, read into it, and zeros ]
 *
 * and its type is FileWindow, a subclass of bytes (so PyBytes_Check, and compiled code's
 * inline reads, accept it) whose only change is its deallocation: it unmaps the window.
 * The byte after the contents is always a zero, as for any bytes object, and a file that
 * grows cannot change it (the last part-page is a copy).
 *
 * A mapped file that shrinks while it is read would kill the process with SIGBUS at the
 * next read of a page past its new end (as would a page the disk fails to give). A handler
 * catches a fault at an address inside a live window, maps a page of zeros over the page,
 * counts it (`shrink_faults`), and lets the read go on; the source then says so
 * (ChunkedInput.check). Any other SIGBUS, a fault elsewhere or one sent by another
 * process, gets what the handler there was before would have done (faulthandler's, or the
 * default: the end of the process). Each new window puts ours back if another replaced it.
 *
 * POSIX only (mmap, sigaction); where this module is not built, ChunkedInput reads chunks.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif

/* Where a bytes object's contents start. */
#define HEADER_BYTES offsetof(PyBytesObject, ob_sval)
/* Windows alive at once, at most: a reader holds a few dozen (an ETL trace's merge at most
 * 64 MiB of them, tlslens.capture.etl); past this, `window` returns None and the caller
 * reads the chunk instead. */
#define MAX_WINDOWS 1024

static size_t page_size;

/* The file pages of the live windows, for the SIGBUS handler: written with the GIL held,
 * read by the handler, which runs in the thread that faulted, holding it too. */
static struct {
    char *start;
    char *end;
} live[MAX_WINDOWS];
static int live_top; /* slots in use are below this */

static volatile sig_atomic_t shrink_faults;
static struct sigaction previous_action;

static size_t
round_up(size_t n)
{
    return (n + page_size - 1) / page_size * page_size;
}

/* The region a window of `length` bytes takes: a page before its contents, and after them
 * at least one byte, which is zero. */
static size_t
region_bytes(size_t length)
{
    return page_size + round_up(length + 1);
}

static void
on_sigbus(int signum, siginfo_t *info, void *context)
{
    int saved_errno = errno;
    /* A fault (si_code > 0), not a SIGBUS another process or raise() sent. */
    if (info != NULL && info->si_code > 0) {
        char *address = (char *)info->si_addr;
        for (int i = 0; i < live_top; i++) {
            if (live[i].start <= address && address < live[i].end) {
                char *page = (char *)((uintptr_t)address & ~(uintptr_t)(page_size - 1));
                /* mmap is a plain system call on the systems this builds on; it replaces
                 * the page that no longer has a file behind it with one of zeros. */
                if (mmap(page, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                         -1, 0) != MAP_FAILED) {
                    shrink_faults++;
                    errno = saved_errno;
                    return;
                }
                break;
            }
        }
    }
    /* Not a window's: what the handler before ours would do with it. */
    if (previous_action.sa_flags & SA_SIGINFO) {
        if (previous_action.sa_sigaction != NULL) {
            previous_action.sa_sigaction(signum, info, context);
            errno = saved_errno;
            return;
        }
    }
    else if (previous_action.sa_handler == SIG_IGN) {
        errno = saved_errno;
        return;
    }
    else if (previous_action.sa_handler != SIG_DFL) {
        previous_action.sa_handler(signum);
        errno = saved_errno;
        return;
    }
    /* The default: put it back, and the signal ends the process as it would have, when the
     * access faults again or (one sent) now. */
    sigaction(SIGBUS, &previous_action, NULL);
    if (info == NULL || info->si_code <= 0) {
        raise(SIGBUS);
    }
    errno = saved_errno;
}

/* Make ours the SIGBUS handler, keeping the one before it, unless it is already: checked at
 * every window, since a handler set later (faulthandler.enable(), or its disable(), which
 * puts back what it found) replaces ours. */
static int
install_handler(void)
{
    struct sigaction current;
    if (sigaction(SIGBUS, NULL, &current) != 0) {
        return -1;
    }
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_sigbus) {
        return 0;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    /* The handler reads previous_action: block the signal while it changes. */
    sigset_t bus, old;
    sigemptyset(&bus);
    sigaddset(&bus, SIGBUS);
    pthread_sigmask(SIG_BLOCK, &bus, &old);
    int failed = sigaction(SIGBUS, &action, &previous_action);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return failed ? -1 : 0;
}

static void
forget(char *start)
{
    for (int i = 0; i < live_top; i++) {
        if (live[i].start == start) {
            live[i].start = live[i].end = NULL;
            while (live_top > 0 && live[live_top - 1].start == NULL) {
                live_top--;
            }
            return;
        }
    }
}

static void
window_dealloc(PyObject *self)
{
    char *contents = ((PyBytesObject *)self)->ob_sval;
    size_t length = (size_t)Py_SIZE(self);
    forget(contents);
    /* The object itself lies in the region: nothing may touch it after this. */
    munmap(contents - page_size, region_bytes(length));
}

static PyTypeObject FileWindow_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tlslens.capture._mapped.FileWindow",
    .tp_doc = PyDoc_STR("Bytes of a capture file, mapped (made only by window())."),
    .tp_itemsize = 1,
    .tp_dealloc = window_dealloc,
    /* Made only by window(): bytes' own constructor would put one on the heap, which
     * window_dealloc would then unmap. */
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
};

static PyObject *
window(PyObject *module, PyObject *args)
{
    int fd;
    long long offset;
    Py_ssize_t length;
    if (!PyArg_ParseTuple(args, "iLn:window", &fd, &offset, &length)) {
        return NULL;
    }
    if (offset < 0 || (size_t)offset % page_size != 0 || length <= 0) {
        PyErr_SetString(PyExc_ValueError, "window: the offset must be a multiple of the "
                                          "page size, the length positive");
        return NULL;
    }
    struct stat status;
    if (fstat(fd, &status) != 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (offset >= (long long)status.st_size) {
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    if (length > (long long)status.st_size - offset) {
        length = (Py_ssize_t)((long long)status.st_size - offset); /* no page past the end */
    }
    int slot = -1;
    for (int i = 0; i < MAX_WINDOWS; i++) {
        if (live[i].start == NULL) {
            slot = i;
            break;
        }
    }
    if (slot < 0 || install_handler() != 0) {
        Py_RETURN_NONE;
    }
    size_t whole = (size_t)length / page_size * page_size; /* mapped */
    size_t tail = (size_t)length - whole;                   /* read */
    size_t total = region_bytes((size_t)length);
    char *region = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    char *contents = region + page_size;
    if (whole && mmap(contents, whole, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, (off_t)offset) ==
                     MAP_FAILED) {
        int saved = errno;
        munmap(region, total);
        errno = saved;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    size_t got = 0;
    while (got < tail) {
        ssize_t n = pread(fd, contents + whole + got, tail - got, (off_t)(offset + whole + got));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) { /* a read error: the caller reads the file, and says so */
            int saved = errno;
            munmap(region, total);
            errno = saved;
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        if (n == 0) {
            break; /* the file ends sooner than it did: the window is shorter */
        }
        got += (size_t)n;
    }
    length = (Py_ssize_t)(whole + got);
    if (length == 0) {
        munmap(region, total);
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    /* A shorter window takes fewer pages than were reserved: give the rest back, so that
     * the deallocation's count of them holds. */
    size_t used = region_bytes((size_t)length);
    if (used < total) {
        munmap(region + used, total - used);
    }
    live[slot].start = contents;
    live[slot].end = contents + whole;
    if (slot >= live_top) {
        live_top = slot + 1;
    }
    PyBytesObject *self = (PyBytesObject *)(contents - HEADER_BYTES);
    PyObject_InitVar((PyVarObject *)self, &FileWindow_Type, length);
    /* No hash yet: CPython caches a bytes object's hash here (the field is deprecated since
     * 3.11 but still read), and the page's zero would read as a hash of 0. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    self->ob_shash = -1;
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    (void)module;
    return (PyObject *)self;
}

static PyObject *
faults(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromLong((long)shrink_faults);
}

static PyObject *
live_windows(PyObject *module, PyObject *unused)
{
    int count = 0;
    for (int i = 0; i < live_top; i++) {
        count += live[i].start != NULL;
    }
    (void)module;
    (void)unused;
    return PyLong_FromLong(count);
}

static PyMethodDef methods[] = {
    {"window", window, METH_VARARGS,
     PyDoc_STR("window(fd, offset, length) -> bytes | None\n\n"
               "The file's bytes [offset, offset + length), mapped; fewer where the file ends "
               "sooner (none from its end on). None when too many windows are alive.")},
    {"shrink_faults", faults, METH_NOARGS,
     PyDoc_STR("Reads of a window past the end of a file that shrank, made to read zeros.")},
    {"live_windows", live_windows, METH_NOARGS, PyDoc_STR("Windows alive now.")},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tlslens.capture._mapped",
    .m_doc = "Windows of a capture file as bytes objects over its mapped pages.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__mapped(void)
{
    long size = sysconf(_SC_PAGESIZE);
    if (size <= 0) {
        PyErr_SetString(PyExc_ImportError, "no page size");
        return NULL;
    }
    page_size = (size_t)size;
    if (HEADER_BYTES > page_size) {
        PyErr_SetString(PyExc_ImportError, "a bytes header larger than a page");
        return NULL;
    }
    FileWindow_Type.tp_base = &PyBytes_Type;
    FileWindow_Type.tp_basicsize = PyBytes_Type.tp_basicsize;
    if (PyType_Ready(&FileWindow_Type) < 0) {
        return NULL;
    }
    if (!PyType_HasFeature(&FileWindow_Type, Py_TPFLAGS_BYTES_SUBCLASS)) {
        PyErr_SetString(PyExc_ImportError, "FileWindow is not a bytes subclass");
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "PAGE_SIZE", (long)page_size) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    Py_INCREF(&FileWindow_Type);
    if (PyModule_AddObject(module, "FileWindow", (PyObject *)&FileWindow_Type) < 0) {
        Py_DECREF(&FileWindow_Type);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
