# Helpers shared by every CMakeLists.txt of the project.

# trialog_library(NAME SRCS a.cc b.cc DEPS lib1 lib2)
# A static library of our own code with the project's warnings.
function(trialog_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${TRIALOG_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# trialog_binary(NAME SRCS main.cc DEPS lib1)
function(trialog_binary name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_compile_options(${name} PRIVATE ${TRIALOG_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()

# Every test binary labelled "unit" (the default), so a build can make just
# those: `cmake --build B --target trialog_unit_tests && ctest -L unit`
# (scripts/test.sh does that under the sanitizers).
if(NOT TARGET trialog_unit_tests)
  add_custom_target(trialog_unit_tests)
endif()

# trialog_test(NAME SRCS x_test.cc DEPS lib1 [LABELS unit|integration])
# A GoogleTest binary registered with ctest. Tests find the shared vectors
# through TRIALOG_VECTORS_DIR and the built binaries through
# TRIALOG_BINARY_DIR.
function(trialog_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_compile_options(${name} PRIVATE ${TRIALOG_WARNINGS})
  target_compile_definitions(${name} PRIVATE
      TRIALOG_VECTORS_DIR="${TRIALOG_VECTORS_DIR}"
      TRIALOG_BINARY_DIR="${PROJECT_BINARY_DIR}"
      TRIALOG_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  if("unit" IN_LIST ARG_LABELS)
    add_dependencies(trialog_unit_tests ${name})
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
      PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()
