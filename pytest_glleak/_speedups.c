/* pytest_glleak._speedups: C versions of the ledger's hottest paths (optional).
 *
 * Every function here has a pure-Python twin that makes the same records (pytest_glleak/sites.py,
 * pytest_glleak/ledger/moderngl_hooks.py); pytest_glleak/speedups.py picks this module when it is built
 * and PYTEST_GLLEAK_PURE_PYTHON is not set. Three parts:
 *
 * - current_function(address): a no-argument callable for a C function returning a pointer
 *   (eglGetCurrentContext, glXGetCurrentContext), called with the GIL held, returning an int;
 * - capture(depth, frame=None, imports=False): the creation-site walk of sites.capture, with tables of
 *   recent sites and of each code object's class;
 * - Factory / Release: moderngl's Context factory methods and objects' release(), recording the
 *   object in the ledger's live table as moderngl_hooks' Python wrappers do.
 *
 * Needs CPython 3.11+ (PyFrame_GetLasti, PyFrame_GetBack); older versions use the Python twins.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#if PY_VERSION_HEX < 0x030B0000
#error "pytest_glleak._speedups needs CPython 3.11 or newer (the pure-Python code covers older versions)"
#endif

#define MAX_DEPTH 64
#define NAME_BITS 48
#define SLOT_SHIFT (NAME_BITS + 4)
#define NAME_MASK ((1ULL << NAME_BITS) - 1ULL)
/* Keys stay below 2**63 (a C long long): larger slots go through the Python twin. */
#define MAX_SLOT ((1LL << (63 - SLOT_SHIFT)) - 1)

/* --- module state (one interpreter: plain statics, set by configure_*) ---------------------------- */
static PyObject *frame_class;    /* dict: filename -> USER/LIBRARY/RUNNER/IMPORTER */
static PyObject *classify;       /* callable(filename) -> int, fills frame_class */
static PyObject *interned;       /* dict: key tuple -> site */
static PyObject *intern_site;    /* callable(key, depth, frame) -> site, on a miss */
static PyObject *capture_python; /* the Python capture, for imports=True and deep walks */
static PyObject *empty_site;     /* () */
static long user_class = 0, runner_class = 2;

static PyObject *str_dict, *str_glo, *str_stamp, *str_thread_owner, *str_thread, *str_group, *str_group_slot,
    *str_own_slot, *str_size, *str_components, *str_dtype, *str_depth, *str_samples;

/* --- current_function ---------------------------------------------------------------------------- */
typedef void *(*pointer_function)(void);

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    pointer_function function;
    pointer_function driver_context; /* Mesa's _glapi_get_context, or NULL */
} CurrentFunction;

/* The last answer of each thread, valid while the driver's own current-context pointer is the same and
 * no context was created or destroyed since (forget_contexts() bumps the generation). A driver context
 * belongs to exactly one EGL/GLX context while that context lives, so the answer cannot differ. */
typedef struct {
    pointer_function function;
    unsigned long long generation;
    void *driver;
    PyObject *handle; /* an int, owned (a thread that ends leaves one behind) */
} CurrentCache;
static unsigned long long context_generation = 1;
static _Thread_local CurrentCache current_cache;

/* The handle of the context current in the calling thread, as an int: new reference. */
static PyObject *current_handle(CurrentFunction *self) {
    if (self->driver_context == NULL) return PyLong_FromVoidPtr(self->function());
    void *driver = self->driver_context();
    CurrentCache *cache = &current_cache;
    if (driver != NULL && cache->driver == driver && cache->function == self->function &&
        cache->generation == context_generation && cache->handle != NULL)
        return Py_NewRef(cache->handle);
    PyObject *handle = PyLong_FromVoidPtr(self->function());
    if (handle != NULL && driver != NULL) {
        cache->function = self->function;
        cache->generation = context_generation;
        cache->driver = driver;
        Py_XSETREF(cache->handle, Py_NewRef(handle));
    }
    return handle;
}

static PyObject *current_call(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    if (PyVectorcall_NARGS(nargsf) != 0 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "current_function() takes no arguments");
        return NULL;
    }
    return current_handle((CurrentFunction *)self);
}

static PyObject *current_driver(CurrentFunction *self, void *closure) {
    return PyBool_FromLong(self->driver_context != NULL);
}

static PyGetSetDef current_getset[] = {
    {"driver_checked", (getter)current_driver, NULL,
     "Whether the driver's current-context pointer spares most calls to the function.", NULL},
    {NULL},
};

static PyTypeObject CurrentFunctionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pytest_glleak._speedups.CurrentFunction",
    .tp_basicsize = sizeof(CurrentFunction),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(CurrentFunction, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_getset = current_getset,
    .tp_doc = "A C function returning the current context's handle, called with the GIL held.",
};

static void *address_of(PyObject *address, const char *what) {
    void *pointer = PyLong_AsVoidPtr(address);
    if (pointer == NULL && !PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "current_function(): null %s", what);
    return pointer;
}

static PyObject *current_function(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    /* current_function(address, driver_address=None) */
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "current_function(address, driver_address=None)");
        return NULL;
    }
    void *pointer = address_of(args[0], "address");
    if (pointer == NULL) return NULL;
    void *driver = NULL;
    if (nargs == 2 && args[1] != Py_None && (driver = address_of(args[1], "driver address")) == NULL)
        return NULL;
    CurrentFunction *self = PyObject_New(CurrentFunction, &CurrentFunctionType);
    if (self == NULL) return NULL;
    self->vectorcall = current_call;
    self->function = (pointer_function)pointer;
    self->driver_context = (pointer_function)driver;
    return (PyObject *)self;
}

static PyObject *forget_contexts(PyObject *module, PyObject *unused) {
    context_generation++;
    Py_RETURN_NONE;
}

/* --- capture ------------------------------------------------------------------------------------- */
/* Sites seen lately, by their frames: a hit costs no key tuple, no int objects and no hashing of
 * Python objects. Each slot's site holds its code objects, so the pointers compared stay valid; the
 * table is emptied whenever sites.py forgets its interned sites. */
#define CACHE_SLOTS 256
#define CACHE_DEPTH 8
typedef struct {
    int count;
    void *codes[CACHE_DEPTH];
    int offsets[CACHE_DEPTH];
    PyObject *site;
} CachedSite;
static CachedSite site_cache[CACHE_SLOTS];

static size_t site_slot(int count, void *const *codes, const int *offsets) {
    size_t hash = (size_t)count * 0x9E3779B97F4A7C15ULL;
    for (int index = 0; index < count; index++) {
        hash ^= ((size_t)codes[index] >> 4) + (size_t)offsets[index] * 0x100000001B3ULL;
        hash *= 0x9E3779B97F4A7C15ULL;
    }
    return (hash >> 32) % CACHE_SLOTS;
}

static void forget_cached_sites(void) {
    for (size_t index = 0; index < CACHE_SLOTS; index++) {
        site_cache[index].count = 0;
        Py_CLEAR(site_cache[index].site);
    }
}

static PyObject *forget_sites(PyObject *module, PyObject *unused) {
    forget_cached_sites();
    Py_RETURN_NONE;
}

/* Each code object's class (USER, LIBRARY, ...) as last looked up by its file name: a hit costs no dict
 * lookup. A slot holds its code object, so the pointer compared stays valid; the table is emptied when
 * sites.py recomputes its classes (forget_classes). */
#define CLASS_SLOTS 512
typedef struct {
    PyObject *code;
    long value;
} CodeClass;
static CodeClass code_classes[CLASS_SLOTS];

static PyObject *forget_classes(PyObject *module, PyObject *unused) {
    for (size_t index = 0; index < CLASS_SLOTS; index++) Py_CLEAR(code_classes[index].code);
    Py_RETURN_NONE;
}

/* The class of the code in `code`'s file; -1 with an exception on error. */
static long class_of(PyCodeObject *code) {
    CodeClass *known = &code_classes[((size_t)code >> 5) % CLASS_SLOTS];
    if (known->code == (PyObject *)code) return known->value;
    PyObject *found = PyDict_GetItemWithError(frame_class, code->co_filename);
    long value;
    if (found == NULL) {
        if (PyErr_Occurred()) return -1;
        found = PyObject_CallOneArg(classify, code->co_filename);
        if (found == NULL) return -1;
        value = PyLong_AsLong(found);
        Py_DECREF(found);
    } else {
        value = PyLong_AsLong(found);
    }
    if (value == -1 && PyErr_Occurred()) return -1;
    Py_XSETREF(known->code, Py_NewRef((PyObject *)code));
    known->value = value;
    return value;
}

/* The site of the user frames from `frame` outwards (at most `depth`), interned; new reference. */
static PyObject *capture_frames(int depth, PyFrameObject *frame) {
    void *codes[MAX_DEPTH];
    int offsets[MAX_DEPTH];
    int count = 0;
    if (depth <= 0 || frame == NULL) return Py_NewRef(empty_site);
    PyFrameObject *walked = (PyFrameObject *)Py_NewRef(frame);
    while (walked != NULL) {
        PyCodeObject *code = PyFrame_GetCode(walked);
        long value = class_of(code);
        if (value == -1) goto fail_code;
        if (value == user_class) {
            codes[count] = (void *)code;
            offsets[count] = PyFrame_GetLasti(walked);
            count++;
            if (count == depth) {
                Py_DECREF(code);
                break;
            }
        } else if (value == runner_class) {
            Py_DECREF(code);
            break;
        }
        Py_DECREF(code); /* still referenced by the frame, which the caller's stack keeps alive */
        PyFrameObject *back = PyFrame_GetBack(walked);
        Py_DECREF(walked);
        walked = back;
        continue;
    fail_code:
        Py_DECREF(code);
        Py_DECREF(walked);
        return NULL;
    }
    Py_XDECREF(walked);
    CachedSite *cached = NULL;
    if (count <= CACHE_DEPTH) {
        cached = &site_cache[site_slot(count, codes, offsets)];
        if (cached->site != NULL && cached->count == count &&
            memcmp(cached->codes, codes, sizeof(void *) * count) == 0 &&
            memcmp(cached->offsets, offsets, sizeof(int) * count) == 0)
            return Py_NewRef(cached->site);
    }
    PyObject *key = PyTuple_New(2 * count);
    if (key == NULL) return NULL;
    for (int index = 0; index < count; index++) {
        PyObject *identity = PyLong_FromVoidPtr(codes[index]);
        PyObject *offset = PyLong_FromLong(offsets[index]);
        if (identity == NULL || offset == NULL) {
            Py_XDECREF(identity);
            Py_XDECREF(offset);
            Py_DECREF(key);
            return NULL;
        }
        PyTuple_SET_ITEM(key, 2 * index, identity);
        PyTuple_SET_ITEM(key, 2 * index + 1, offset);
    }
    PyObject *site = PyDict_GetItemWithError(interned, key);
    if (site != NULL) {
        Py_INCREF(site);
    } else if (!PyErr_Occurred()) {
        PyObject *arguments[3] = {key, PyLong_FromLong(depth), (PyObject *)frame};
        if (arguments[1] != NULL) {
            site = PyObject_Vectorcall(intern_site, arguments, 3, NULL);
            Py_DECREF(arguments[1]);
        }
    }
    Py_DECREF(key);
    if (site != NULL && cached != NULL && PyTuple_CheckExact(site) && PyTuple_GET_SIZE(site) == 2 * count) {
        cached->count = count;
        memcpy(cached->codes, codes, sizeof(void *) * count);
        memcpy(cached->offsets, offsets, sizeof(int) * count);
        Py_XSETREF(cached->site, Py_NewRef(site));
    }
    return site;
}

static int configured(void) {
    if (frame_class == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "pytest_glleak._speedups: configure_sites() was not called");
        return 0;
    }
    return 1;
}

static PyObject *capture(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    /* capture(depth, frame=None, imports=False), as sites.capture. */
    if (!configured()) return NULL;
    if (kwnames != NULL || nargs < 1 || nargs > 2) /* imports=..., and odd calls: the Python version */
        return PyObject_Vectorcall(capture_python, args, nargs, kwnames);
    long depth = PyLong_AsLong(args[0]);
    if (depth == -1 && PyErr_Occurred()) return NULL;
    if (depth <= 0) return Py_NewRef(empty_site);
    PyFrameObject *frame;
    if (nargs == 2 && args[1] != Py_None) {
        if (!PyFrame_Check(args[1])) return PyObject_Vectorcall(capture_python, args, nargs, NULL);
        frame = (PyFrameObject *)args[1];
    } else {
        frame = PyEval_GetFrame(); /* borrowed: the caller's frame (this function has none) */
    }
    if (depth > MAX_DEPTH) return PyObject_Vectorcall(capture_python, args, nargs, NULL);
    return capture_frames((int)depth, frame);
}

static PyObject *configure_sites(PyObject *module, PyObject *args) {
    PyObject *classes, *classify_function, *table, *intern_function, *python_capture;
    long user, runner;
    if (!PyArg_ParseTuple(args, "O!OO!OOll", &PyDict_Type, &classes, &classify_function, &PyDict_Type, &table,
                          &intern_function, &python_capture, &user, &runner))
        return NULL;
    Py_XSETREF(frame_class, Py_NewRef(classes));
    Py_XSETREF(classify, Py_NewRef(classify_function));
    Py_XSETREF(interned, Py_NewRef(table));
    Py_XSETREF(intern_site, Py_NewRef(intern_function));
    Py_XSETREF(capture_python, Py_NewRef(python_capture));
    user_class = user;
    runner_class = runner;
    forget_cached_sites();
    forget_classes(NULL, NULL);
    Py_RETURN_NONE;
}

/* --- moderngl: Recorder, Factory, Release -------------------------------------------------------- */
#define MAX_CLASSES 32
typedef struct {
    PyTypeObject *type;
    PyObject *kind;
    int shared;
    long long namespace_bits;
    PyObject *class_name;
    /* made and ended since the last drain(), not yet in the ledger's created / deleted counts */
    long long created, deleted;
} KindInfo;

/* What a Factory needs to record one moderngl object (moderngl_hooks.ModernglHooks builds it). */
typedef struct {
    PyObject_HEAD
    PyObject *ledger;      /* _stamp (test, phase, owner, test_thread, stack_depth), _thread_owner() */
    PyObject *current;     /* CurrentFunction or any callable */
    PyObject *kinds;       /* dict: moderngl class -> (kind, shared, namespace bits, class name); unpacked in classes */
    PyObject *contexts;    /* dict: handle -> ContextEntry */
    PyObject *register_;   /* callable(handle, None) -> ContextEntry */
    PyObject *live;        /* dict: key -> record */
    PyObject *created;     /* dict: kind -> count (counts added at drain()) */
    PyObject *deleted;     /* dict: kind -> count (counts added at drain()) */
    PyObject *next_seq;    /* the ledger's sequence: an iterator (itertools.count) or a callable */
    PyObject *record_type; /* ModernglObject */
    PyObject *attribute;   /* str: where the record is kept in the moderngl object's __dict__ */
    PyObject *suspended;   /* dict: thread ident -> depth (the plugin's own GL calls), or None */
    PyObject *errors;      /* list: exceptions raised while recording */
    PyObject *state;       /* int: LIVE */
    PyObject *ledger_dict; /* the ledger's __dict__: its per-test fields read without an MRO walk */
    PyObject *entry_type;  /* ContextEntry: group, group_slot and own_slot read at their offsets */
    PyMemberDef *slots[13];
    PyMemberDef *entry_slots[3];
    /* `kinds`, checked and unpacked once (its dict keeps every object here alive) */
    Py_ssize_t class_count;
    KindInfo classes[MAX_CLASSES];
} Recorder;

enum {
    SLOT_KEY, SLOT_KIND, SLOT_CONTEXT, SLOT_SEQ, SLOT_TEST, SLOT_PHASE, SLOT_OWNER, SLOT_SITE, SLOT_STATE,
    SLOT_THREAD, SLOT_CONFIRMED, SLOT_STORAGE, SLOT_LABEL, SLOT_COUNT
};
static const char *slot_names[SLOT_COUNT] = {"key", "kind", "context", "seq", "test", "phase", "owner",
                                             "site", "state", "thread", "confirmed", "storage", "_label"};

static int recorder_traverse(Recorder *self, visitproc visit, void *arg) {
    Py_VISIT(self->ledger);
    Py_VISIT(self->current);
    Py_VISIT(self->kinds);
    Py_VISIT(self->contexts);
    Py_VISIT(self->register_);
    Py_VISIT(self->live);
    Py_VISIT(self->created);
    Py_VISIT(self->deleted);
    Py_VISIT(self->next_seq);
    Py_VISIT(self->record_type);
    Py_VISIT(self->attribute);
    Py_VISIT(self->suspended);
    Py_VISIT(self->errors);
    Py_VISIT(self->state);
    Py_VISIT(self->ledger_dict);
    Py_VISIT(self->entry_type);
    return 0;
}

static int recorder_clear(Recorder *self) {
    Py_CLEAR(self->ledger);
    Py_CLEAR(self->current);
    Py_CLEAR(self->kinds);
    Py_CLEAR(self->contexts);
    Py_CLEAR(self->register_);
    Py_CLEAR(self->live);
    Py_CLEAR(self->created);
    Py_CLEAR(self->deleted);
    Py_CLEAR(self->next_seq);
    Py_CLEAR(self->record_type);
    Py_CLEAR(self->attribute);
    Py_CLEAR(self->suspended);
    Py_CLEAR(self->errors);
    Py_CLEAR(self->state);
    Py_CLEAR(self->ledger_dict);
    Py_CLEAR(self->entry_type);
    return 0;
}

static void recorder_dealloc(Recorder *self) {
    PyObject_GC_UnTrack(self);
    recorder_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The object slot `name` of `type` (a __slots__ member), or NULL with an exception. */
static PyMemberDef *object_slot(PyTypeObject *type, const char *name) {
    PyObject *descriptor = PyObject_GetAttrString((PyObject *)type, name);
    if (descriptor == NULL) return NULL;
    PyMemberDef *member = NULL;
    if (PyObject_TypeCheck(descriptor, &PyMemberDescr_Type) &&
        ((PyMemberDescrObject *)descriptor)->d_member->type == T_OBJECT_EX)
        member = ((PyMemberDescrObject *)descriptor)->d_member;
    else
        PyErr_Format(PyExc_TypeError, "Recorder(): %s.%s is not an object slot", type->tp_name, name);
    Py_DECREF(descriptor); /* the type keeps it alive */
    return member;
}

static int recorder_init(Recorder *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"ledger",   "current",     "kinds",     "contexts", "register", "live",
                               "created",  "deleted",     "next_seq",  "record_type", "attribute",
                               "suspended", "errors", "state", "entry_type", NULL};
    PyObject *values[15];
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO!O!OO!O!O!OO!UOO!OO!", keywords, &values[0], &values[1],
                                     &PyDict_Type, &values[2], &PyDict_Type, &values[3], &values[4],
                                     &PyDict_Type, &values[5], &PyDict_Type, &values[6], &PyDict_Type,
                                     &values[7], &values[8], &PyType_Type, &values[9], &values[10],
                                     &values[11], &PyList_Type, &values[12], &values[13], &PyType_Type,
                                     &values[14]))
        return -1;
    if (values[11] != Py_None && !PyDict_Check(values[11])) {
        PyErr_SetString(PyExc_TypeError, "Recorder(): suspended must be a dict or None");
        return -1;
    }
    for (int index = 0; index < SLOT_COUNT; index++) {
        if ((self->slots[index] = object_slot((PyTypeObject *)values[9], slot_names[index])) == NULL) return -1;
    }
    static const char *entry_names[3] = {"group", "group_slot", "own_slot"};
    for (int index = 0; index < 3; index++) {
        if ((self->entry_slots[index] = object_slot((PyTypeObject *)values[14], entry_names[index])) == NULL)
            return -1;
    }
    PyObject *classes = values[2];
    if (PyDict_GET_SIZE(classes) > MAX_CLASSES) {
        PyErr_SetString(PyExc_ValueError, "Recorder(): too many classes in kinds");
        return -1;
    }
    Py_ssize_t position = 0, count = 0;
    PyObject *type, *info;
    self->class_count = 0; /* until self->kinds holds the dict the entries point into */
    while (PyDict_Next(classes, &position, &type, &info)) {
        if (!PyType_Check(type) || !PyTuple_Check(info) || PyTuple_GET_SIZE(info) != 4 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(info, 0)) || !PyUnicode_Check(PyTuple_GET_ITEM(info, 3))) {
            PyErr_SetString(PyExc_TypeError, "Recorder(): kinds maps classes to (kind, shared, bits, class name)");
            return -1;
        }
        KindInfo *entry = &self->classes[count++];
        entry->created = entry->deleted = 0;
        entry->type = (PyTypeObject *)type;
        entry->kind = PyTuple_GET_ITEM(info, 0);
        entry->class_name = PyTuple_GET_ITEM(info, 3);
        entry->shared = PyObject_IsTrue(PyTuple_GET_ITEM(info, 1));
        entry->namespace_bits = PyLong_AsLongLong(PyTuple_GET_ITEM(info, 2));
        if (entry->shared < 0 || (entry->namespace_bits == -1 && PyErr_Occurred())) return -1;
        if (entry->namespace_bits < 0) {
            PyErr_SetString(PyExc_ValueError, "Recorder(): negative namespace bits");
            return -1;
        }
    }
    PyObject *ledger_dict = PyObject_GetAttr(values[0], str_dict);
    if (ledger_dict == NULL) return -1;
    if (!PyDict_Check(ledger_dict)) {
        Py_DECREF(ledger_dict);
        PyErr_SetString(PyExc_TypeError, "Recorder(): the ledger must have a __dict__");
        return -1;
    }
    Py_XSETREF(self->ledger_dict, ledger_dict);
    Py_XSETREF(self->ledger, Py_NewRef(values[0]));
    Py_XSETREF(self->current, Py_NewRef(values[1]));
    Py_XSETREF(self->kinds, Py_NewRef(values[2]));
    self->class_count = count;
    Py_XSETREF(self->contexts, Py_NewRef(values[3]));
    Py_XSETREF(self->register_, Py_NewRef(values[4]));
    Py_XSETREF(self->live, Py_NewRef(values[5]));
    Py_XSETREF(self->created, Py_NewRef(values[6]));
    Py_XSETREF(self->deleted, Py_NewRef(values[7]));
    Py_XSETREF(self->next_seq, Py_NewRef(values[8]));
    Py_XSETREF(self->record_type, Py_NewRef(values[9]));
    Py_XSETREF(self->attribute, Py_NewRef(values[10]));
    Py_XSETREF(self->suspended, Py_NewRef(values[11]));
    Py_XSETREF(self->errors, Py_NewRef(values[12]));
    Py_XSETREF(self->state, Py_NewRef(values[13]));
    Py_XSETREF(self->entry_type, Py_NewRef(values[14]));
    return 0;
}

/* ledger.<name>, new reference: from its __dict__ (one lookup), else by the usual attribute lookup. */
static PyObject *ledger_field(Recorder *self, PyObject *name) {
    PyObject *value = PyDict_GetItemWithError(self->ledger_dict, name);
    if (value != NULL) return Py_NewRef(value);
    if (PyErr_Occurred()) return NULL;
    return PyObject_GetAttr(self->ledger, name);
}

/* entry.<slot>, new reference (a ContextEntry's slot at its offset, else by attribute). */
static PyObject *entry_field(Recorder *self, PyObject *entry, int index, PyObject *name) {
    if (Py_TYPE(entry) == (PyTypeObject *)self->entry_type) {
        PyObject *value = *(PyObject **)((char *)entry + self->entry_slots[index]->offset);
        if (value != NULL) return Py_NewRef(value);
    }
    return PyObject_GetAttr(entry, name);
}

/* A slot's value, borrowed (NULL: unset). */
static inline PyObject *slot_get(PyObject *record, PyMemberDef *member) {
    return *(PyObject **)((char *)record + member->offset);
}

/* Set a fresh record's slot, stealing `value` (NULL: an error already set). */
static inline int slot_steal(PyObject *record, PyMemberDef *member, PyObject *value) {
    if (value == NULL) return -1;
    PyObject **address = (PyObject **)((char *)record + member->offset);
    Py_XSETREF(*address, value);
    return 0;
}

/* obj.name, or NULL without an exception where it has none (no AttributeError is made). */
static inline int lookup_attribute(PyObject *object, PyObject *name, PyObject **result) {
#if PY_VERSION_HEX >= 0x030D0000
    return PyObject_GetOptionalAttr(object, name, result);
#else
    return _PyObject_LookupAttr(object, name, result);
#endif
}

static int add_count(PyObject *table, PyObject *kind, long long amount) {
    PyObject *count = PyDict_GetItemWithError(table, kind);
    if (count == NULL) {
        if (PyErr_Occurred()) return -1;
        count = PyLong_FromLongLong(amount);
    } else if (PyLong_CheckExact(count)) {
        long long value = PyLong_AsLongLong(count);
        if (value == -1 && PyErr_Occurred()) return -1;
        count = PyLong_FromLongLong(value + amount);
    } else {
        PyObject *step = PyLong_FromLongLong(amount);
        if (step == NULL) return -1;
        count = PyNumber_Add(count, step);
        Py_DECREF(step);
    }
    if (count == NULL) return -1;
    int result = PyDict_SetItem(table, kind, count);
    Py_DECREF(count);
    return result;
}

static inline KindInfo *kind_of(Recorder *self, PyTypeObject *type) {
    for (Py_ssize_t index = 0; index < self->class_count; index++) {
        if (self->classes[index].type == type) return &self->classes[index];
    }
    return NULL;
}

/* Add the counts made since the last drain to the ledger's created / deleted tables. */
static PyObject *recorder_drain(Recorder *self, PyObject *unused) {
    for (Py_ssize_t index = 0; index < self->class_count; index++) {
        KindInfo *info = &self->classes[index];
        if (info->created) {
            if (add_count(self->created, info->kind, info->created) < 0) return NULL;
            info->created = 0;
        }
        if (info->deleted) {
            if (add_count(self->deleted, info->kind, info->deleted) < 0) return NULL;
            info->deleted = 0;
        }
    }
    Py_RETURN_NONE;
}

/* Record `made` (a moderngl object just returned by a factory); 0: recorded or nothing to record. */
static int record_made(Recorder *self, PyObject *made, PyFrameObject *frame) {
    KindInfo *info = kind_of(self, Py_TYPE(made));
    if (info == NULL) return 0; /* not a class the ledger records */
    unsigned long thread = PyThread_get_thread_ident();
    if (self->suspended != Py_None && PyDict_GET_SIZE(self->suspended)) {
        PyObject *ident = PyLong_FromUnsignedLong(thread);
        if (ident == NULL) return -1;
        int inside = PyDict_Contains(self->suspended, ident);
        Py_DECREF(ident);
        if (inside) return inside < 0 ? -1 : 0; /* the plugin's own call */
    }
    int status = -1;
    PyObject *entry = NULL, *record = NULL, *context = NULL, *handle = NULL, *name = NULL, *stamp = NULL;
    if (lookup_attribute(made, str_glo, &name) < 0) return -1;
    if (name == NULL || !PyLong_CheckExact(name)) {
        Py_XDECREF(name);
        return 0;
    }
    long long glo = PyLong_AsLongLong(name);
    if (glo == -1 && PyErr_Occurred()) goto done;
    if (glo <= 0) {
        status = 0;
        goto done;
    }
    handle = Py_TYPE(self->current) == &CurrentFunctionType ? current_handle((CurrentFunction *)self->current)
                                                            : PyObject_CallNoArgs(self->current);
    if (handle == NULL) goto done;
    if (handle == Py_None) {
        Py_SETREF(handle, PyLong_FromLong(0));
        if (handle == NULL) goto done;
    }
    entry = PyDict_GetItemWithError(self->contexts, handle);
    if (entry != NULL) {
        Py_INCREF(entry);
    } else {
        if (PyErr_Occurred()) goto done;
        PyObject *arguments[2] = {handle, Py_None};
        entry = PyObject_Vectorcall(self->register_, arguments, 2, NULL);
        if (entry == NULL) goto done;
    }
    PyObject *slot_object;
    if (info->shared) {
        context = entry_field(self, entry, 0, str_group);
        slot_object = entry_field(self, entry, 1, str_group_slot);
    } else {
        context = Py_NewRef(handle);
        slot_object = entry_field(self, entry, 2, str_own_slot);
    }
    if (context == NULL || slot_object == NULL) {
        Py_XDECREF(slot_object);
        goto done;
    }
    long long slot = PyLong_AsLongLong(slot_object);
    Py_DECREF(slot_object);
    if (slot == -1 && PyErr_Occurred()) goto done;
    if (slot < 0 || slot > MAX_SLOT) {
        PyErr_SetString(PyExc_OverflowError, "Recorder: key out of range");
        goto done;
    }
    long long key_value =
        info->namespace_bits | (slot << SLOT_SHIFT) | (long long)((unsigned long long)glo & NAME_MASK);

    /* The ledger's (test, phase, owner, test_thread, stack_depth), read in one lookup. */
    stamp = ledger_field(self, str_stamp);
    if (stamp == NULL) goto done;
    if (!PyTuple_CheckExact(stamp) || PyTuple_GET_SIZE(stamp) != 5) {
        PyErr_SetString(PyExc_TypeError, "Recorder: the ledger's _stamp must be a 5-tuple");
        goto done;
    }
    long depth = PyLong_AsLong(PyTuple_GET_ITEM(stamp, 4));
    if (depth == -1 && PyErr_Occurred()) goto done;
    PyObject *site = depth > 0 && depth <= MAX_DEPTH ? capture_frames((int)depth, frame) : NULL;
    if (depth > MAX_DEPTH) {
        PyObject *arguments[2] = {PyLong_FromLong(depth), frame ? (PyObject *)frame : Py_None};
        if (arguments[0] == NULL) goto done;
        site = PyObject_Vectorcall(capture_python, arguments, 2, NULL);
        Py_DECREF(arguments[0]);
    } else if (depth <= 0) {
        site = Py_NewRef(empty_site);
    }
    if (site == NULL) goto done;

    PyTypeObject *record_type = (PyTypeObject *)self->record_type;
    record = record_type->tp_alloc(record_type, 0);
    if (record == NULL) {
        Py_DECREF(site);
        goto done;
    }
    PyMemberDef **slots = self->slots;
    if (slot_steal(record, slots[SLOT_SITE], site) < 0) goto done;
    PyObject *test_thread = PyTuple_GET_ITEM(stamp, 3);
    unsigned long test_ident = PyLong_AsUnsignedLong(test_thread);
    if (test_ident == (unsigned long)-1 && PyErr_Occurred()) goto done;
    if (thread == test_ident) {
        slot_steal(record, slots[SLOT_TEST], Py_NewRef(PyTuple_GET_ITEM(stamp, 0)));
        slot_steal(record, slots[SLOT_PHASE], Py_NewRef(PyTuple_GET_ITEM(stamp, 1)));
        slot_steal(record, slots[SLOT_OWNER], Py_NewRef(PyTuple_GET_ITEM(stamp, 2)));
        slot_steal(record, slots[SLOT_THREAD], Py_NewRef(test_thread));
    } else {
        PyObject *pair = PyObject_CallMethodNoArgs(self->ledger, str_thread_owner);
        if (pair == NULL) goto done;
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            Py_DECREF(pair);
            PyErr_SetString(PyExc_TypeError, "Recorder: _thread_owner() must return (owner, test)");
            goto done;
        }
        slot_steal(record, slots[SLOT_OWNER], Py_NewRef(PyTuple_GET_ITEM(pair, 0)));
        slot_steal(record, slots[SLOT_TEST], Py_NewRef(PyTuple_GET_ITEM(pair, 1)));
        Py_DECREF(pair);
        if (slot_steal(record, slots[SLOT_PHASE], Py_NewRef(str_thread)) < 0 ||
            slot_steal(record, slots[SLOT_THREAD], PyLong_FromUnsignedLong(thread)) < 0)
            goto done;
    }
    PyObject *seq = PyIter_Check(self->next_seq) ? PyIter_Next(self->next_seq) : PyObject_CallNoArgs(self->next_seq);
    if (seq == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "Recorder: the sequence ended");
        goto done;
    }
    if (slot_steal(record, slots[SLOT_SEQ], seq) < 0) goto done;
    PyObject *storage = PyTuple_New(6);
    if (storage == NULL) goto done;
    PyTuple_SET_ITEM(storage, 0, Py_NewRef(info->class_name));
    PyObject *storage_keys[5] = {str_size, str_components, str_dtype, str_depth, str_samples};
    for (int index = 0; index < 5; index++) {
        PyObject *value = NULL;
        if (lookup_attribute(made, storage_keys[index], &value) < 0) {
            Py_DECREF(storage);
            goto done;
        }
        PyTuple_SET_ITEM(storage, index + 1, value ? value : Py_NewRef(Py_None));
    }
    PyObject *key = PyLong_FromLongLong(key_value);
    if (slot_steal(record, slots[SLOT_STORAGE], storage) < 0 || slot_steal(record, slots[SLOT_KEY], key) < 0 ||
        slot_steal(record, slots[SLOT_KIND], Py_NewRef(info->kind)) < 0 ||
        slot_steal(record, slots[SLOT_CONTEXT], Py_NewRef(context)) < 0 ||
        slot_steal(record, slots[SLOT_STATE], Py_NewRef(self->state)) < 0 ||
        slot_steal(record, slots[SLOT_CONFIRMED], Py_NewRef(Py_None)) < 0 ||
        slot_steal(record, slots[SLOT_LABEL], Py_NewRef(Py_None)) < 0)
        goto done;
    /* One lookup when the name is new. A name the ledger thought alive came back: the old object is
     * gone; it is deleted first, so that the new record goes to the end of the table, which keeps
     * records in creation order. */
    PyObject *found = PyDict_SetDefault(self->live, key, record);
    if (found == NULL) goto done;
    if (found != record) {
        PyObject *old = Py_NewRef(found);
        int replaced = PyDict_DelItem(self->live, key) < 0 ? -1 : PyDict_SetItem(self->live, key, record);
        Py_DECREF(old);
        if (replaced < 0) goto done;
    }
    info->created++;
    if (PyObject_SetAttr(made, self->attribute, record) < 0) goto done;
    status = 0;
done:
    Py_XDECREF(stamp);
    Py_XDECREF(record);
    Py_XDECREF(context);
    Py_XDECREF(entry);
    Py_XDECREF(handle);
    Py_DECREF(name);
    return status;
}

/* An error while recording never reaches the user's call: it is kept in the recorder's errors. */
static void keep_error(Recorder *recorder) {
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *value = PyErr_GetRaisedException();
#else
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (value != NULL && traceback != NULL) PyException_SetTraceback(value, traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);
#endif
    if (value != NULL && PyList_GET_SIZE(recorder->errors) < 100) {
        if (PyList_Append(recorder->errors, value) < 0) PyErr_Clear();
    }
    Py_XDECREF(value);
}

static PyMethodDef recorder_methods[] = {
    {"drain", (PyCFunction)recorder_drain, METH_NOARGS,
     "Add the objects made and ended since the last drain to the ledger's created / deleted counts."},
    {NULL},
};

static PyTypeObject RecorderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pytest_glleak._speedups.Recorder",
    .tp_basicsize = sizeof(Recorder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)recorder_init,
    .tp_traverse = (traverseproc)recorder_traverse,
    .tp_methods = recorder_methods,
    .tp_clear = (inquiry)recorder_clear,
    .tp_dealloc = (destructor)recorder_dealloc,
    .tp_doc = "What moderngl's factory and release wrappers need to keep the ledger's live table.",
};

/* A wrapped method: Factory(original, recorder) or Release(original, recorder). */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *original;
    Recorder *recorder;
} Wrapper;

static int wrapper_traverse(Wrapper *self, visitproc visit, void *arg) {
    Py_VISIT(self->original);
    Py_VISIT(self->recorder);
    return 0;
}

static int wrapper_clear(Wrapper *self) {
    Py_CLEAR(self->original);
    Py_CLEAR(self->recorder);
    return 0;
}

static void wrapper_dealloc(Wrapper *self) {
    PyObject_GC_UnTrack(self);
    wrapper_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *factory_call(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Wrapper *wrapper = (Wrapper *)self;
    PyObject *made = PyObject_Vectorcall(wrapper->original, args, nargsf, kwnames);
    if (made == NULL) return NULL;
    if (record_made(wrapper->recorder, made, PyEval_GetFrame()) < 0) keep_error(wrapper->recorder);
    return made;
}

static PyObject *release_call(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Wrapper *wrapper = (Wrapper *)self;
    Recorder *recorder = wrapper->recorder;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *record = NULL;
    /* The record stays on the released object (removing the attribute costs more than the rest of the
     * bookkeeping): a second release() finds it no longer in the live table and does nothing. */
    if (nargs >= 1 && lookup_attribute(args[0], recorder->attribute, &record) < 0) PyErr_Clear();
    PyObject *result = PyObject_Vectorcall(wrapper->original, args, nargsf, kwnames);
    if (result == NULL || record == NULL || !PyObject_TypeCheck(record, (PyTypeObject *)recorder->record_type)) {
        Py_XDECREF(record);
        return result;
    }
    PyObject *key = slot_get(record, recorder->slots[SLOT_KEY]);
    PyObject *kind = slot_get(record, recorder->slots[SLOT_KIND]);
    if (key != NULL && kind != NULL) {
        PyObject *found = PyDict_GetItemWithError(recorder->live, key);
        if (found == record) {
            KindInfo *info = kind_of(recorder, Py_TYPE(args[0]));
            if (PyDict_DelItem(recorder->live, key) < 0)
                keep_error(recorder);
            else if (info != NULL && info->kind == kind)
                info->deleted++;
            else if (add_count(recorder->deleted, kind, 1) < 0)
                keep_error(recorder);
        } else if (found == NULL && PyErr_Occurred()) {
            keep_error(recorder);
        }
    }
    Py_DECREF(record);
    return result;
}

static PyObject *wrapper_get(PyObject *self, PyObject *instance, PyObject *owner) {
    if (instance == NULL || instance == Py_None) return Py_NewRef(self);
    return PyMethod_New(self, instance);
}

static PyObject *wrapper_wrapped(Wrapper *self, void *closure) { return Py_NewRef(self->original); }

static PyObject *wrapper_attribute(Wrapper *self, void *closure) {
    return PyObject_GetAttrString(self->original, (const char *)closure);
}

static PyGetSetDef wrapper_getset[] = {
    {"__wrapped__", (getter)wrapper_wrapped, NULL, "The method this one wraps.", NULL},
    {"__name__", (getter)wrapper_attribute, NULL, NULL, "__name__"},
    {"__qualname__", (getter)wrapper_attribute, NULL, NULL, "__qualname__"},
    {"__doc__", (getter)wrapper_attribute, NULL, NULL, "__doc__"},
    {NULL},
};

static PyObject *wrapper_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *original;
    PyObject *recorder;
    if (!PyArg_ParseTuple(args, "OO!", &original, &RecorderType, &recorder)) return NULL;
    if (!PyCallable_Check(original)) {
        PyErr_SetString(PyExc_TypeError, "the wrapped method must be callable");
        return NULL;
    }
    Wrapper *self = (Wrapper *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->original = Py_NewRef(original);
    self->recorder = (Recorder *)Py_NewRef(recorder);
    return (PyObject *)self;
}

static PyObject *factory_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    Wrapper *self = (Wrapper *)wrapper_new(type, args, kwargs);
    if (self != NULL) self->vectorcall = factory_call;
    return (PyObject *)self;
}

static PyObject *release_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    Wrapper *self = (Wrapper *)wrapper_new(type, args, kwargs);
    if (self != NULL) self->vectorcall = release_call;
    return (PyObject *)self;
}

#define WRAPPER_TYPE(NAME, NEW, DOC)                                                                      \
    {                                                                                                     \
        PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pytest_glleak._speedups." NAME,                         \
        .tp_basicsize = sizeof(Wrapper), .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |             \
                                                     Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_METHOD_DESCRIPTOR, \
        .tp_vectorcall_offset = offsetof(Wrapper, vectorcall), .tp_call = PyVectorcall_Call,              \
        .tp_new = NEW, .tp_traverse = (traverseproc)wrapper_traverse, .tp_clear = (inquiry)wrapper_clear,  \
        .tp_dealloc = (destructor)wrapper_dealloc, .tp_descr_get = wrapper_get, .tp_getset = wrapper_getset, \
        .tp_doc = DOC,                                                                                    \
    }

static PyTypeObject FactoryType = WRAPPER_TYPE("Factory", factory_new,
                                               "Factory(original, recorder): a moderngl Context method that "
                                               "records the object it returns.");
static PyTypeObject ReleaseType = WRAPPER_TYPE("Release", release_new,
                                               "Release(original, recorder): a moderngl object's release() "
                                               "that ends its record.");

/* --- module -------------------------------------------------------------------------------------- */
static PyMethodDef speedups_methods[] = {
    {"current_function", (PyCFunction)(void (*)(void))current_function, METH_FASTCALL,
     "current_function(address, driver_address=None) -> a no-argument callable for the C function at "
     "address (returns a pointer, as an int); with the address of Mesa's _glapi_get_context, it asks the "
     "function only when the driver's current context changed or forget_contexts() was called."},
    {"forget_contexts", forget_contexts, METH_NOARGS,
     "A context was created or destroyed: every thread's remembered current context is asked again."},
    {"capture", (PyCFunction)(void (*)(void))capture, METH_FASTCALL | METH_KEYWORDS,
     "capture(depth, frame=None, imports=False) -> site: pytest_glleak.sites.capture in C."},
    {"forget_sites", forget_sites, METH_NOARGS, "Empty the table of recent sites (sites.py forgot its own)."},
    {"forget_classes", forget_classes, METH_NOARGS,
     "Empty the table of code objects' classes (sites.py recomputed the library and runner directories)."},
    {"configure_sites", configure_sites, METH_VARARGS,
     "configure_sites(frame_class, classify, interned, intern, capture, USER, RUNNER): the tables of "
     "pytest_glleak.sites."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT, "pytest_glleak._speedups", "C versions of the ledger's hottest paths.", -1,
    speedups_methods,
};

static int intern_strings(void) {
#define INTERN(VARIABLE, TEXT) \
    if ((VARIABLE = PyUnicode_InternFromString(TEXT)) == NULL) return -1;
    INTERN(str_dict, "__dict__")
    INTERN(str_glo, "_glo")
    INTERN(str_stamp, "_stamp")
    INTERN(str_thread_owner, "_thread_owner")
    INTERN(str_thread, "thread")
    INTERN(str_group, "group")
    INTERN(str_group_slot, "group_slot")
    INTERN(str_own_slot, "own_slot")
    INTERN(str_size, "_size")
    INTERN(str_components, "_components")
    INTERN(str_dtype, "_dtype")
    INTERN(str_depth, "_depth")
    INTERN(str_samples, "_samples")
#undef INTERN
    return 0;
}

PyMODINIT_FUNC PyInit__speedups(void) {
    if (intern_strings() < 0) return NULL;
    if (empty_site == NULL && (empty_site = PyTuple_New(0)) == NULL) return NULL;
    PyTypeObject *types[] = {&CurrentFunctionType, &RecorderType, &FactoryType, &ReleaseType};
    for (size_t index = 0; index < sizeof(types) / sizeof(types[0]); index++) {
        if (PyType_Ready(types[index]) < 0) return NULL;
    }
    PyObject *module = PyModule_Create(&speedups_module);
    if (module == NULL) return NULL;
    if (PyModule_AddObjectRef(module, "Recorder", (PyObject *)&RecorderType) < 0 ||
        PyModule_AddObjectRef(module, "Factory", (PyObject *)&FactoryType) < 0 ||
        PyModule_AddObjectRef(module, "Release", (PyObject *)&ReleaseType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
