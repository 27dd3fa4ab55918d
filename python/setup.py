"""The package's build. Where the sedenergy repository is around python/ (pip install ./python, pip wheel ./python,
python -m build python), libsedenergy is built with CMake (its torch-free library alone: SQLite, nlohmann-json
and a C++20 compiler are all it needs) and carried inside the package, so the wheel needs nothing of the build
machine at run time but libsqlite3 and the C++ runtime. A copy of python/ alone builds a pure-Python package
that loads an installed libsedenergy (see sedenergy/_lib.py). SEDENERGY_NO_LIBRARY_BUILD=1 skips the build."""
import glob
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SONAME = "libsedenergy.so.0"


def in_repository():
    return (not os.environ.get("SEDENERGY_NO_LIBRARY_BUILD") and os.path.isfile(os.path.join(ROOT, "CMakeLists.txt"))
            and os.path.isfile(os.path.join(ROOT, "include", "sedenergy", "sedenergy.h")))


def build_library(build_dir):
    """Configures and builds libsedenergy alone; returns the path of the built library file."""
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.check_call(["cmake", "-S", ROOT, "-B", build_dir, *generator, "-DCMAKE_BUILD_TYPE=Release",
                           "-DSEDENERGY_LIBRARY_ONLY=ON"])
    subprocess.check_call(["cmake", "--build", build_dir, "--target", "sedenergy_shared", "-j", str(os.cpu_count() or 2)])
    built = [p for p in glob.glob(os.path.join(build_dir, "libsedenergy.so.*")) if not os.path.islink(p)]
    if not built:
        raise RuntimeError(f"libsedenergy was not built in {build_dir}")
    return built[0]


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        if in_repository():
            library = build_library(os.path.join(HERE, "build", "libsedenergy"))
            shutil.copyfile(library, os.path.join(self.build_lib, "sedenergy", SONAME))


class Platform(Distribution):
    """A package that carries libsedenergy is made for one platform (its wheel says so)."""

    def has_ext_modules(self):
        return in_repository()


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=Platform)
