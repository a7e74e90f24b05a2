# ExternalProject's patch step for the pinned release (see ../../CMakeLists.txt): applies
# vendor/libssh/patches/*.patch, in name order, to the extracted tarball.
#
#   cmake -DTARBALL=... -DSOURCE_DIR=... -DPATCH=/usr/bin/patch -DPATCHES="a.patch|b.patch"
#         -DPATCHES_HASH=... -P patch.cmake
#
# ExternalProject runs this step again when its command line changes (the hash of the patches
# is on it). The tree is patched by then, so a second run starts over from the tarball.
cmake_minimum_required(VERSION 3.19)

set(marker "${SOURCE_DIR}/.pylibssh-patches")
if(EXISTS "${marker}")
  file(READ "${marker}" applied)
  if(applied STREQUAL "${PATCHES_HASH}\n")
    return()
  endif()
  set(fresh "${SOURCE_DIR}.fresh")
  file(REMOVE_RECURSE "${fresh}")
  file(ARCHIVE_EXTRACT INPUT "${TARBALL}" DESTINATION "${fresh}")
  file(GLOB top LIST_DIRECTORIES true "${fresh}/*")
  # empty the directory rather than replace it: it is this process's working directory, and
  # execute_process fails once that is gone
  file(GLOB old LIST_DIRECTORIES true "${SOURCE_DIR}/*")
  file(REMOVE_RECURSE ${old})
  file(COPY "${top}/" DESTINATION "${SOURCE_DIR}")
  file(REMOVE_RECURSE "${fresh}")
  # the tarball's timestamps are older than the objects built from the old sources: make
  # them new, so that make rebuilds everything
  file(GLOB_RECURSE sources "${SOURCE_DIR}/*")
  file(TOUCH_NOCREATE ${sources})
endif()

string(REPLACE "|" ";" PATCHES "${PATCHES}")
foreach(patch_file IN LISTS PATCHES)
  execute_process(
    COMMAND "${PATCH}" -p1 --forward --batch -i "${patch_file}"
    WORKING_DIRECTORY "${SOURCE_DIR}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${patch_file} does not apply to the libssh release (${rc}):\n${out}")
  endif()
  message(STATUS "applied ${patch_file}")
endforeach()
file(WRITE "${marker}" "${PATCHES_HASH}\n")
