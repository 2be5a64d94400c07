/* The events of an ETL trace's buffers brought into the processor's cache before the reader
 * walks them (tlslens.capture.etl, EtlReader._released): a hint, never a reader. Nothing it
 * reads is given to anyone; the trace is read, and checked, only by etl.py. Wrong or
 * hostile bytes make it stop early, and cost only speed; any start and stop are taken, and
 * clipped to the bytes.
 *
 * Why: a split worker reads every event of a trace larger than the caches, and the place of
 * each event is known only from the header of the one before. So the reader waited for
 * memory at every event: 58% of its walk's samples were the first read of an event's header,
 * most of the rest the reads of its fields and of the packet's IP and TCP headers a few
 * lines later (perf, a split run of bench's bulk-pktmon.etl: a pktmon trace logs every packet
 * twice, so it has twice a pcap's records to wait for). A trace holds many buffers, each its
 * own chain of events (one per processor, [GC-BUF] in etl.py), so the chains of the buffers
 * of a window are walked here side by side: the processor waits for a dozen events at a time,
 * not one, and the first 256 bytes of each (the event header, the provider's fields, and the
 * packet's link, IP and TCP headers, which the walk and the share test read) are asked for
 * ahead. bench/RESULTS.md, the nineteenth session, has the numbers.
 *
 * A compiled (mypyc) walk cannot do this: it has no prefetch, and a read it makes early lets
 * the processor run only a few hundred instructions ahead while it waits, less than the work
 * of an event (bench/RESULTS.md, eighteenth session).
 *
 * The format, as etl.py reads it ([GC-BUF], [GC-HDR] in its docstring): a buffer starts with
 * a 0x48-byte header, BufferSize (u32 at 0x00), Offset (u32 at 0x30, the bytes in use),
 * BufferFlag (u16 at 0x34; 0x40: compressed, its events are not in the file as they are);
 * its events follow, each 8-byte aligned, each starting with a u16 size (at offset 4 for the
 * trace header types 0x01-0x04, 0x10 and 0x11, the third byte) and a marker byte whose high
 * two bits are set.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#define BUFFER_HEADER_BYTES 0x48
#define BUFFER_FLAG_COMPRESSED 0x40
/* A buffer larger than this is taken as damage, and the walk stops there (etl.py's
 * `_plausible_buffer` bounds it by the limits' block size, 16 MiB by default; this bound only
 * keeps a damaged size from skipping far). */
#define MAX_BUFFER_BYTES (32u << 20)
/* Buffers walked side by side, at most (a window of more is walked in groups): a 1 MiB
 * window holds 16 of the usual 64 KiB. */
#define MAX_CHAINS 64
/* Bytes of each event asked for ahead (its first line is read to find the next event). */
#define AHEAD_BYTES 256
#define LINE_BYTES 64

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)(address))
#endif

static inline uint64_t
u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v; /* a big-endian host reads sizes wrong: it may stop early or prefetch the
                 wrong lines, within the bounds all the same, and loses only speed */
}

static inline uint32_t
u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint16_t
u16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The size of the event whose first eight bytes are `word`, or 0 when they are not an event
 * header (the walk of its buffer stops, as etl.py's does). */
static inline Py_ssize_t
event_size(uint64_t word)
{
    unsigned htype = (unsigned)(word >> 16) & 0xFF;
    unsigned marker = (unsigned)(word >> 24) & 0xFF;
    if ((marker & 0xC0) != 0xC0) {
        return 0;
    }
    unsigned size = (unsigned)word & 0xFFFF;
    if ((htype >= 0x01 && htype <= 0x04) || htype == 0x10 || htype == 0x11) {
        size = (unsigned)(word >> 32) & 0xFFFF;
    }
    return size < 8 ? 0 : (Py_ssize_t)size;
}

/* Walk the events of `chains` buffers, b[next[i]:end[i]], one event of each in turn: their
 * first reads are independent, so the processor waits for them together. Returns the events
 * found. */
static long
walk_side_by_side(const unsigned char *b, Py_ssize_t *next, const Py_ssize_t *end, int chains)
{
    long events = 0;
    int walking = chains;
    while (walking > 0) {
        walking = 0;
        for (int i = 0; i < chains; i++) {
            Py_ssize_t p = next[i];
            if (p > end[i] - 8) {
                continue;
            }
            Py_ssize_t size = event_size(u64(b + p));
            if (size == 0 || size > end[i] - p) { /* not an event, or cut: the walk ends */
                next[i] = end[i];
                continue;
            }
            for (Py_ssize_t ahead = LINE_BYTES; ahead < AHEAD_BYTES; ahead += LINE_BYTES) {
                if (p + ahead < end[i]) {
                    PREFETCH(b + p + ahead);
                }
            }
            next[i] = p + ((size + 7) & ~(Py_ssize_t)7);
            events++;
            walking++;
        }
    }
    return events;
}

static PyObject *
etl_events(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "etl_events(data: bytes, start: int, stop: int)");
        return NULL;
    }
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t length = PyBytes_GET_SIZE(args[0]);
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t stop = PyLong_AsSsize_t(args[2]);
    if (stop == -1 && PyErr_Occurred()) {
        return NULL;
    }
    /* 0 <= pos, 0 <= stop <= length: no arithmetic below can overflow. */
    if (stop > length) {
        stop = length;
    }
    if (stop < 0) {
        stop = 0;
    }
    if (pos < 0) {
        pos = 0;
    }

    /* The buffers from `pos`, MAX_CHAINS at a time, each uncompressed one's events walked
     * as b[next[n]:end[n]], until one is not plausible or the window ends. */
    Py_ssize_t next[MAX_CHAINS];
    Py_ssize_t end[MAX_CHAINS];
    long events = 0;
    int more = 1;
    while (more) {
        int chains = 0;
        while (chains < MAX_CHAINS) {
            if (pos > stop - BUFFER_HEADER_BYTES) {
                more = 0;
                break;
            }
            uint32_t size = u32(b + pos);
            if (size < BUFFER_HEADER_BYTES || size > MAX_BUFFER_BYTES) {
                more = 0;
                break;
            }
            if (!(u16(b + pos + 0x34) & BUFFER_FLAG_COMPRESSED)) {
                uint32_t used = u32(b + pos + 0x30);
                if (used > size) {
                    used = size;
                }
                Py_ssize_t last = pos + (Py_ssize_t)used;
                next[chains] = pos + BUFFER_HEADER_BYTES;
                end[chains] = last < stop ? last : stop;
                chains++;
            }
            pos += size;
        }
        events += walk_side_by_side(b, next, end, chains);
    }
    return PyLong_FromLong(events);
}

static PyMethodDef methods[] = {
    {"etl_events", (PyCFunction)(void (*)(void))etl_events, METH_FASTCALL,
     PyDoc_STR("etl_events(data, start, stop, /)\n--\n\n"
               "Bring the events of the ETL buffers in data[start:stop] into the cache, "
               "from the buffer at start until one is not plausible; returns how many "
               "events were found.")},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tlslens.capture._prefetch",
    .m_doc = "ETL events brought into the cache ahead of the reader (see _prefetch.c).",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__prefetch(void)
{
    return PyModuleDef_Init(&module_def);
}
