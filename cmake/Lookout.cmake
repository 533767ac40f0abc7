# Helpers shared by every folder's CMakeLists.txt.

# lookout_library(NAME SOURCES... [DEPS ...]): a static library with the project's warnings.
function(lookout_library name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${L_SOURCES})
  target_compile_options(${name} PRIVATE ${LOOKOUT_WARNINGS})
  target_link_libraries(${name} PUBLIC ${L_DEPS})
endfunction()

# add_unit_test(NAME SOURCES... DEPS ... [LABELS ...] [TIMEOUT s]): a GoogleTest binary run by ctest.
function(add_unit_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_compile_options(${name} PRIVATE ${LOOKOUT_WARNINGS})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main Threads::Threads)
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "LOOKOUT_BUILD_DIR=${CMAKE_BINARY_DIR};LOOKOUT_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()
