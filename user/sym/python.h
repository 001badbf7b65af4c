/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * CPython 3.11's frames read from outside, as py-spy reads them: _PyRuntime (an exported
 * variable) leads to each interpreter's thread states, a thread state to its chain of
 * _PyInterpreterFrames, a frame to its code object, which names the function, its file and,
 * through its location table, the line of the instruction the frame was at. No debug data
 * is needed: the structures' offsets are fixed for a release build of 3.11 (x86-64, not a
 * debug build, whose objects carry two more pointers), and each is checked against CPython's
 * own headers by the unit test (tests/unit/sym/python_layout.c). What is read is believed
 * only when its type is: a code object's ob_type is PyCode_Type, a string's PyUnicode_Type.
 */
#ifndef STRAND_PYTHON_H
#define STRAND_PYTHON_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/* CPython 3.11's layout, x86-64 (Include/internal/pycore_runtime.h, pycore_interp.h,
 * pycore_frame.h, Include/cpython/pystate.h, code.h, unicodeobject.h, bytesobject.h). */
#define PYTHON_RUNTIME_INTERPRETERS_HEAD 40  /* _PyRuntimeState.interpreters.head */
#define PYTHON_RUNTIME_TSTATE_CURRENT	 576 /* _PyRuntimeState.gilstate.tstate_current */
#define PYTHON_INTERP_NEXT		 0   /* PyInterpreterState.next */
#define PYTHON_INTERP_THREADS_HEAD	 16  /* PyInterpreterState.threads.head */
#define PYTHON_TSTATE_NEXT		 8   /* PyThreadState.next */
#define PYTHON_TSTATE_INTERP		 16  /* PyThreadState.interp */
#define PYTHON_TSTATE_CFRAME		 56  /* PyThreadState.cframe */
#define PYTHON_TSTATE_THREAD_ID		 152 /* PyThreadState.thread_id: pthread_self() */
#define PYTHON_TSTATE_NATIVE_THREAD_ID	 160 /* PyThreadState.native_thread_id: the tid */
#define PYTHON_CFRAME_CURRENT_FRAME	 8   /* _PyCFrame.current_frame */
#define PYTHON_FRAME_CODE		 32  /* _PyInterpreterFrame.f_code */
#define PYTHON_FRAME_PREVIOUS		 48  /* _PyInterpreterFrame.previous */
#define PYTHON_FRAME_PREV_INSTR		 56  /* _PyInterpreterFrame.prev_instr */
#define PYTHON_FRAME_IS_ENTRY		 68  /* _PyInterpreterFrame.is_entry (bool) */
#define PYTHON_FRAME_OWNER		 69  /* _PyInterpreterFrame.owner (char) */
#define PYTHON_OBJECT_TYPE		 8   /* PyObject.ob_type */
#define PYTHON_VAROBJECT_SIZE		 16  /* PyVarObject.ob_size */
#define PYTHON_CODE_FIRSTLINENO		 72  /* PyCodeObject.co_firstlineno (int) */
#define PYTHON_CODE_FILENAME		 112 /* PyCodeObject.co_filename */
#define PYTHON_CODE_NAME		 120 /* PyCodeObject.co_name */
#define PYTHON_CODE_QUALNAME		 128 /* PyCodeObject.co_qualname */
#define PYTHON_CODE_LINETABLE		 136 /* PyCodeObject.co_linetable */
#define PYTHON_CODE_CODE		 184 /* PyCodeObject.co_code_adaptive */
#define PYTHON_BYTES_DATA		 32  /* PyBytesObject.ob_sval */
#define PYTHON_STR_LENGTH		 16  /* PyASCIIObject.length */
#define PYTHON_STR_STATE		 32  /* PyASCIIObject.state (a 32-bit bitfield) */
#define PYTHON_STR_ASCII_DATA		 48  /* sizeof(PyASCIIObject): a compact ASCII string's */
#define PYTHON_STR_COMPACT_DATA		 72  /* sizeof(PyCompactUnicodeObject): other compact's */
#define PYTHON_STR_LEGACY_DATA		 72  /* PyUnicodeObject.data: a non-compact string's */
/* PyASCIIObject.state's bits, as gcc lays the bitfield out on x86-64 (interned:2, kind:3,
 * compact:1, ascii:1, ready:1, from the lowest bit) */
#define PYTHON_STR_KIND_SHIFT 2
#define PYTHON_STR_KIND_MASK  7
#define PYTHON_STR_COMPACT    (1u << 5)
#define PYTHON_STR_ASCII      (1u << 6)
#define PYTHON_STR_READY      (1u << 7)
/* sizeof(_Py_CODEUNIT) */
#define PYTHON_CODE_UNIT 2

struct python;

/* pid's CPython 3.11: its executable or a mapped libpython3*.so exports _PyRuntime and
 * Py_Version, and the process's Py_Version is 3.11.x (a release build). NULL otherwise (no
 * Python, another version, memory that cannot be read). */
struct python *python__open(pid_t pid);
void python__free(struct python *p);

/* Where in the process _PyRuntime.gilstate.tstate_current is: the thread state of the
 * thread that holds the GIL. */
uint64_t python__tstate_current_addr(const struct python *p);

/* One frame of the interpreter's chain as read from memory (or sent by the kernel): its code
 * object, its prev_instr, and whether it is the first frame of its C-level
 * _PyEval_EvalFrameDefault call (_PyInterpreterFrame.is_entry). */
struct python_raw_frame {
	uint64_t code;
	uint64_t instr;
	bool entry;
};

#define PYTHON_NAME_MAX 256
#define PYTHON_FILE_MAX 512

/* A Python frame in words (UTF-8, cut at a character's boundary when too long). */
struct python_frame {
	char name[PYTHON_NAME_MAX]; /* co_qualname: "Handler.do_GET" */
	char file[PYTHON_FILE_MAX]; /* co_filename as the program named it */
	int line;		    /* 0 when the table says none */
};

/* The frame of code object `code` at instruction pointer `instr` (prev_instr; 0: unknown).
 * A code object's names and line table are read once and kept by its address (it lives as
 * long as its function) until python__free. 0; -EINVAL when what was read is no code
 * object (or its names no strings); -errno when it cannot be read. */
int python__frame(struct python *p, uint64_t code, uint64_t instr, struct python_frame *out);

/* The frame chain of the thread whose kernel tid is tid, innermost first, at most max:
 * every interpreter's thread states searched for native_thread_id == tid, then its frames
 * from cframe->current_frame through previous (those of no code skipped). The count;
 * -ESRCH when no thread state has that tid; -errno when it cannot be read. */
int python__thread_frames(struct python *p, pid_t tid, struct python_raw_frame *out, int max);

/* The line of code unit instr_index (counted from co_code_adaptive; -1: before the first,
 * as a frame not yet started is) in a 3.11 location table t[0..n) (co_linetable's bytes,
 * perhaps cut short: what is read stops there), from co_firstlineno; 0 when it says none. */
int python__line_of(const uint8_t *t, size_t n, int firstlineno, int instr_index);

#endif /* STRAND_PYTHON_H */
