// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The offsets sym/python.h reads CPython 3.11 by, against CPython's own headers (Debian's
 * libpython3.11-dev, Py_BUILD_CORE for the internal ones): a file of its own, compiled with
 * them (Makefile), for Python.h must come before any system header and defines what no other
 * file of the test should see. Without the headers it says so, and the test fails.
 */
#if __has_include(<internal/pycore_frame.h>)
#include <Python.h>
#include <internal/pycore_frame.h>
#include <internal/pycore_interp.h>
#include <internal/pycore_runtime.h>
#include <stddef.h>
#include <string.h>

#include "python_layout.h"
#include "sym/python.h"

#define SAME(ours, theirs)                                                                         \
	{                                                                                          \
#ours, (long long)(ours), (long long)(theirs)                                      \
	}

/* The state word of a string with the bits given, as the compiler lays out the bitfield. */
static long long str_state(unsigned int kind, unsigned int compact, unsigned int ascii)
{
	PyASCIIObject o;
	unsigned int word;

	memset(&o, 0, sizeof(o));
	o.state.kind = kind;
	o.state.compact = compact;
	o.state.ascii = ascii;
	o.state.ready = 1;
	memcpy(&word, (char *)&o + offsetof(PyASCIIObject, state), sizeof(word));
	return word;
}

int python_layout_checks(struct python_layout_check *out, int max)
{
	const struct python_layout_check c[] = {
		SAME(3, PY_MAJOR_VERSION),
		SAME(11, PY_MINOR_VERSION),
		SAME(PYTHON_RUNTIME_INTERPRETERS_HEAD,
		     offsetof(_PyRuntimeState, interpreters.head)),
		SAME(PYTHON_RUNTIME_TSTATE_CURRENT,
		     offsetof(_PyRuntimeState, gilstate.tstate_current)),
		SAME(PYTHON_INTERP_NEXT, offsetof(PyInterpreterState, next)),
		SAME(PYTHON_INTERP_THREADS_HEAD, offsetof(PyInterpreterState, threads.head)),
		SAME(PYTHON_TSTATE_NEXT, offsetof(PyThreadState, next)),
		SAME(PYTHON_TSTATE_INTERP, offsetof(PyThreadState, interp)),
		SAME(PYTHON_TSTATE_CFRAME, offsetof(PyThreadState, cframe)),
		SAME(PYTHON_TSTATE_THREAD_ID, offsetof(PyThreadState, thread_id)),
		SAME(PYTHON_TSTATE_NATIVE_THREAD_ID, offsetof(PyThreadState, native_thread_id)),
		SAME(PYTHON_CFRAME_CURRENT_FRAME, offsetof(_PyCFrame, current_frame)),
		SAME(PYTHON_FRAME_CODE, offsetof(_PyInterpreterFrame, f_code)),
		SAME(PYTHON_FRAME_PREVIOUS, offsetof(_PyInterpreterFrame, previous)),
		SAME(PYTHON_FRAME_PREV_INSTR, offsetof(_PyInterpreterFrame, prev_instr)),
		SAME(PYTHON_FRAME_IS_ENTRY, offsetof(_PyInterpreterFrame, is_entry)),
		SAME(PYTHON_FRAME_OWNER, offsetof(_PyInterpreterFrame, owner)),
		/* the owners python.c takes for a frame's */
		SAME(2, FRAME_OWNED_BY_FRAME_OBJECT),
		SAME(PYTHON_OBJECT_TYPE, offsetof(PyObject, ob_type)),
		SAME(PYTHON_VAROBJECT_SIZE, offsetof(PyVarObject, ob_size)),
		SAME(PYTHON_CODE_FIRSTLINENO, offsetof(PyCodeObject, co_firstlineno)),
		SAME(PYTHON_CODE_FILENAME, offsetof(PyCodeObject, co_filename)),
		SAME(PYTHON_CODE_NAME, offsetof(PyCodeObject, co_name)),
		SAME(PYTHON_CODE_QUALNAME, offsetof(PyCodeObject, co_qualname)),
		SAME(PYTHON_CODE_LINETABLE, offsetof(PyCodeObject, co_linetable)),
		SAME(PYTHON_CODE_CODE, offsetof(PyCodeObject, co_code_adaptive)),
		SAME(PYTHON_CODE_UNIT, sizeof(_Py_CODEUNIT)),
		SAME(PYTHON_BYTES_DATA, offsetof(PyBytesObject, ob_sval)),
		SAME(PYTHON_STR_LENGTH, offsetof(PyASCIIObject, length)),
		SAME(PYTHON_STR_STATE, offsetof(PyASCIIObject, state)),
		SAME(PYTHON_STR_ASCII_DATA, sizeof(PyASCIIObject)),
		SAME(PYTHON_STR_COMPACT_DATA, sizeof(PyCompactUnicodeObject)),
		SAME(PYTHON_STR_LEGACY_DATA, offsetof(PyUnicodeObject, data)),
		/* the bits of the state word python.c reads, one kind and flag at a time */
		SAME(1 << PYTHON_STR_KIND_SHIFT | PYTHON_STR_COMPACT | PYTHON_STR_ASCII |
			     PYTHON_STR_READY,
		     str_state(PyUnicode_1BYTE_KIND, 1, 1)),
		SAME(2 << PYTHON_STR_KIND_SHIFT | PYTHON_STR_COMPACT | PYTHON_STR_READY,
		     str_state(PyUnicode_2BYTE_KIND, 1, 0)),
		SAME(4 << PYTHON_STR_KIND_SHIFT | PYTHON_STR_READY,
		     str_state(PyUnicode_4BYTE_KIND, 0, 0)),
		SAME(PYTHON_STR_KIND_MASK, 7),
	};

	int n = (int)(sizeof(c) / sizeof(c[0]));

	memcpy(out, c, (size_t)(n < max ? n : max) * sizeof(c[0]));
	return n < max ? n : max;
}
#else
#include "python_layout.h"

int python_layout_checks(struct python_layout_check *out, int max)
{
	return -1;
}
#endif
