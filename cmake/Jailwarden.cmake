# Helpers shared by every layer's CMakeLists.txt.

# jw_add_layer(NAME [DEPS layer...] [LIBS target...] [SOURCES file...])
# Builds the static library jw_<NAME> (alias jailwarden::<NAME>) from
# SOURCES, or, when none are given, from every *.cc directly in the calling
# directory. DEPS are other layers (by name); LIBS are external targets.
function(jw_add_layer name)
  cmake_parse_arguments(ARG "" "" "DEPS;LIBS;SOURCES" ${ARGN})
  if(ARG_SOURCES)
    set(srcs ${ARG_SOURCES})
  else()
    file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  endif()
  add_library(jw_${name} STATIC ${srcs})
  add_library(jailwarden::${name} ALIAS jw_${name})
  target_include_directories(jw_${name} PUBLIC
    ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/generated
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  foreach(dep IN LISTS ARG_DEPS)
    target_link_libraries(jw_${name} PUBLIC jw_${dep})
  endforeach()
  target_link_libraries(jw_${name} PUBLIC ${ARG_LIBS})
  set_property(GLOBAL APPEND PROPERTY JW_LAYERS jw_${name})
endfunction()

# jw_add_test(NAME [SERIAL] [DEPS layer...] [LIBS target...] [SOURCES file...])
# One gtest binary NAME_test per layer from every *_test.cc in the calling
# directory (or SOURCES), registered with gtest_discover_tests. SERIAL: its
# tests run alone (RUN_SERIAL), for tests that compare global host state.
function(jw_add_test name)
  cmake_parse_arguments(ARG "SERIAL" "" "DEPS;LIBS;SOURCES;LABELS" ${ARGN})
  if(ARG_SOURCES)
    set(srcs ${ARG_SOURCES})
  else()
    file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
  endif()
  add_executable(${name}_test ${srcs})
  target_include_directories(${name}_test PRIVATE ${PROJECT_SOURCE_DIR}/src
                             ${PROJECT_SOURCE_DIR}/tests)
  foreach(dep IN LISTS ARG_DEPS)
    target_link_libraries(${name}_test PRIVATE jw_${dep})
  endforeach()
  target_link_libraries(${name}_test PRIVATE ${ARG_LIBS} GTest::gtest GTest::gmock
                        GTest::gtest_main)
  target_compile_definitions(${name}_test PRIVATE
    JW_TESTDATA_DIR="${PROJECT_SOURCE_DIR}/tests/testdata"
    JW_BINARY_DIR="${PROJECT_BINARY_DIR}")
  set(props)
  if(ARG_LABELS)
    list(APPEND props LABELS "${ARG_LABELS}")
  endif()
  if(ARG_SERIAL)
    list(APPEND props RUN_SERIAL TRUE)
  endif()
  if(props)
    gtest_discover_tests(${name}_test DISCOVERY_TIMEOUT 60 PROPERTIES ${props})
  else()
    gtest_discover_tests(${name}_test DISCOVERY_TIMEOUT 60)
  endif()
endfunction()
