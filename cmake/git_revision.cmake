# Writes build_info.hpp with the source tree's git revision at every build (run by the build_info target), so a
# binary records the commit it was built from, not the one of the last configure; configure_file rewrites the
# header only when its text changes, so an unchanged revision rebuilds nothing.
# Inputs: IN, OUT, SOURCE_DIR, PROJECT_VERSION, and REVISION where the tree has no .git (given at configure).
set(SEDENERGY_GIT_REVISION "${REVISION}")
if(NOT SEDENERGY_GIT_REVISION)
  execute_process(COMMAND git describe --always --dirty --abbrev=12
                  WORKING_DIRECTORY "${SOURCE_DIR}"
                  OUTPUT_VARIABLE SEDENERGY_GIT_REVISION OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
endif()
if(NOT SEDENERGY_GIT_REVISION)
  set(SEDENERGY_GIT_REVISION "unknown")
endif()
set(CMAKE_SOURCE_DIR "${SOURCE_DIR}")
configure_file("${IN}" "${OUT}" @ONLY)
