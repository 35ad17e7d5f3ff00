# What a module exports (README, "Layout"): every header under src/ is
# reachable through the src/ include directory, so two kinds are fenced off
# here, and configuring fails when a file reaches past the fence:
#   - src/<module>/internal/*.h belong to <module>: only files in
#     src/<module>/ may include them;
#   - test support (tests/support/, only on test targets' include path) is
#     never included by production code (src/ files other than *_test.cc,
#     apps/).
function(mpc_check_headers)
  file(GLOB_RECURSE sources RELATIVE ${PROJECT_SOURCE_DIR}
    ${PROJECT_SOURCE_DIR}/src/*.h ${PROJECT_SOURCE_DIR}/src/*.cc
    ${PROJECT_SOURCE_DIR}/apps/*.cc
    ${PROJECT_SOURCE_DIR}/bench/*.h ${PROJECT_SOURCE_DIR}/bench/*.cc
    ${PROJECT_SOURCE_DIR}/fuzz/*.h ${PROJECT_SOURCE_DIR}/fuzz/*.cc
    ${PROJECT_SOURCE_DIR}/tests/*.h ${PROJECT_SOURCE_DIR}/tests/*.cc)
  list(FILTER sources EXCLUDE REGEX "node_modules/")
  foreach(source ${sources})
    file(STRINGS ${PROJECT_SOURCE_DIR}/${source} includes REGEX "^#include \"")
    foreach(line ${includes})
      if(line MATCHES "^#include \"([a-z0-9_]+)/internal/")
        set(owner ${CMAKE_MATCH_1})
        if(NOT source MATCHES "^src/${owner}/")
          message(FATAL_ERROR "headers: ${source} includes an internal header of ${owner} (${line}); "
                              "src/${owner}/internal/ is ${owner}'s own, see cmake/Headers.cmake")
        endif()
      endif()
      if(line MATCHES "^#include \"support/" AND (source MATCHES "^apps/" OR
         (source MATCHES "^src/" AND NOT source MATCHES "_test\\.cc$")))
        message(FATAL_ERROR "headers: ${source} is production code and includes test support (${line}); "
                            "see cmake/Headers.cmake")
      endif()
    endforeach()
  endforeach()
endfunction()
