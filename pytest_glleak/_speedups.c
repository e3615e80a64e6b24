/* pytest_glleak._speedups: optional C versions of the ledger's hot paths (placeholder). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT, "pytest_glleak._speedups", "C versions of the ledger's hot paths.", -1, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&speedups_module); }
