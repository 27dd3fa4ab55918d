"""Loading libsedenergy through ctypes, and the few calls the package makes through its C API.

Where the library is looked for, in order:
  1. the SEDENERGY_LIBRARY environment variable (a file path);
  2. inside this package (pip install ./python and its wheel carry one: python/setup.py);
  3. the lib folders of this Python's prefix (a venv into which `cmake --install --prefix $VIRTUAL_ENV` put it);
  4. the dynamic loader's own search (ldconfig's cache, LD_LIBRARY_PATH): libsedenergy.so.0;
  5. /usr/local/lib and /usr/lib (CMake's default prefix before ldconfig has run).
"""
import ctypes
import json
import math
import os
import sys
import sysconfig
import threading

from .errors import LibraryNotFound, SedenergyError

SONAME = "libsedenergy.so.0"
_lock = threading.Lock()
_lib = None


def _candidates():
    env = os.environ.get("SEDENERGY_LIBRARY")
    if env:
        return [env], True
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    prefixes = [sys.prefix] + ([sys.base_prefix] if sys.base_prefix != sys.prefix else [])
    paths = [os.path.join(os.path.dirname(os.path.abspath(__file__)), SONAME)]
    for prefix in prefixes:
        for sub in ("lib", "lib64", os.path.join("lib", multiarch) if multiarch else None):
            if sub:
                paths.append(os.path.join(prefix, sub, SONAME))
    paths.append(SONAME)  # the loader's search
    paths += ["/usr/local/lib/" + SONAME, "/usr/local/lib64/" + SONAME]
    return paths, False


def _declare(lib):
    c = ctypes
    sigs = {
        "sed_version": ([], c.c_char_p),
        "sed_last_error": ([], c.c_char_p),
        "sed_string_free": ([c.c_void_p], None),
        "sed_meter_open_json": ([c.c_char_p], c.c_void_p),
        "sed_meter_info_json": ([c.c_void_p], c.c_void_p),
        "sed_window_begin": ([c.c_void_p, c.c_char_p], c.c_int),
        "sed_window_end_json": ([c.c_void_p, c.c_int], c.c_void_p),
        "sed_window_read_json": ([c.c_void_p, c.c_int], c.c_void_p),
        "sed_meter_close": ([c.c_void_p], None),
        "sed_emissions_append": ([c.c_char_p, c.c_char_p, c.c_char_p], c.c_int),
        "sed_emissions_update": ([c.c_char_p, c.c_char_p, c.c_char_p], c.c_int),
        "sed_emissions_row_json": ([c.c_char_p, c.c_char_p], c.c_void_p),
        "sed_store_window": ([c.c_char_p, c.c_char_p, c.c_char_p], c.c_longlong),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = res


def library():
    """The loaded library (loaded once). Raises LibraryNotFound saying what was tried and how to fix it."""
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        paths, from_env = _candidates()
        errors = []
        for path in paths:
            if os.sep in path and not os.path.exists(path):
                errors.append(f"{path}: no such file")
                continue
            try:
                lib = ctypes.CDLL(path)
                _declare(lib)
            except (OSError, AttributeError) as e:
                errors.append(f"{path}: {e}")
                continue
            _lib = lib
            return lib
        how = ("SEDENERGY_LIBRARY points to a file that cannot be loaded" if from_env else
               "install the package with `pip install ./python` in the sedenergy repository (it builds the library "
               "into the package), or "
               "`cmake --install build --prefix \"$VIRTUAL_ENV\"`, or set SEDENERGY_LIBRARY=/path/to/" + SONAME)
        raise LibraryNotFound(f"cannot load {SONAME}; {how}. Tried:\n  " + "\n  ".join(errors))


def _error(lib, what):
    return SedenergyError(f"{what}: {lib.sed_last_error().decode('utf-8', 'replace')}")


def _take_string(lib, ptr, what):
    if not ptr:
        raise _error(lib, what)
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        lib.sed_string_free(ptr)


def _check_finite(value, name=""):
    """Refuses NaN and infinities by the option's name: JSON has no spelling for them, and no option takes one."""
    if isinstance(value, float) and not math.isfinite(value):
        raise SedenergyError(f"{name or 'value'}: {value!r} is not a finite number")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{name}.{k}" if name else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(v, f"{name}[{i}]")


def _text(value):
    _check_finite(value)
    return json.dumps(value).encode()


def version():
    return library().sed_version().decode()


def meter_open(options):
    lib = library()
    handle = lib.sed_meter_open_json(_text(options))
    if not handle:
        raise _error(lib, "cannot open the meter")
    return handle


def meter_info(handle):
    lib = library()
    return json.loads(_take_string(lib, lib.sed_meter_info_json(handle), "meter info"))


def window_begin(handle, name):
    lib = library()
    wid = lib.sed_window_begin(handle, name.encode())
    if wid < 0:
        raise _error(lib, f"cannot begin window '{name}'")
    return wid


def window_end(handle, wid, name):
    lib = library()
    return json.loads(_take_string(lib, lib.sed_window_end_json(handle, wid), f"cannot end window '{name}'"))


def window_read(handle, wid, name):
    """The open window's record so far; the window stays open."""
    lib = library()
    return json.loads(_take_string(lib, lib.sed_window_read_json(handle, wid), f"cannot read window '{name}'"))


def meter_close(handle):
    library().sed_meter_close(handle)


def emissions_row(window, context):
    lib = library()
    out = json.loads(_take_string(lib, lib.sed_emissions_row_json(_text(window), _text(context)), "emissions row"))
    return [(c, out["row"][c]) for c in out["columns"]]


def emissions_append(path, window, context, replace_run_row=False):
    """Appends the window's row; replace_run_row: in place of the row the same run wrote before (a flush)."""
    lib = library()
    write = lib.sed_emissions_update if replace_run_row else lib.sed_emissions_append
    if write(os.fsencode(path), _text(window), _text(context)) != 0:
        raise _error(lib, f"cannot write to {path}")


def store_window(db_path, run, window):
    lib = library()
    if lib.sed_store_window(os.fsencode(db_path), _text(run), _text(window)) <= 0:
        raise _error(lib, f"cannot record the window in {db_path}")
