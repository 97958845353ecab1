# Install rules: headers, the two libraries, a CMake package (find_package(tapeloop CONFIG)) and
# pkg-config files. Static and shared builds install side by side into one prefix: each exports
# its own targets file, and tapeloopConfig.cmake picks one (docs/library.md).
include(CMakePackageConfigHelpers)

set(TAPELOOP_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/tapeloop")
if(BUILD_SHARED_LIBS)
  set(TAPELOOP_LINKAGE shared)
else()
  set(TAPELOOP_LINKAGE static)
endif()

set(TAPELOOP_INSTALLED_TARGETS tapeloop tapeloop_models)
if(TARGET tapeloop_distributed)
  list(APPEND TAPELOOP_INSTALLED_TARGETS tapeloop_distributed)
  set(TAPELOOP_HEADER_EXCLUDES)
else()
  # Without MPI, no headers of the part that was not built.
  set(TAPELOOP_HEADER_EXCLUDES PATTERN "distributed" EXCLUDE PATTERN "distributed.hpp" EXCLUDE)
endif()
# An installed library that needs libtapeloop finds it beside itself: a program's RUNPATH does
# not serve the libraries it loads, so a program that calls only tapeloop::distributed (or only
# the models) would otherwise not start from a prefix outside the loader's path.
set_target_properties(${TAPELOOP_INSTALLED_TARGETS} PROPERTIES INSTALL_RPATH "$ORIGIN")
install(TARGETS ${TAPELOOP_INSTALLED_TARGETS} EXPORT tapeloop-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY lib/include/ ops/include/ models/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp"
        ${TAPELOOP_HEADER_EXCLUDES})
install(EXPORT tapeloop-targets NAMESPACE tapeloop::
        FILE tapeloop-${TAPELOOP_LINKAGE}-targets.cmake DESTINATION ${TAPELOOP_CMAKE_DIR})

configure_package_config_file(lib/cmake/tapeloopConfig.cmake.in
  "${PROJECT_BINARY_DIR}/tapeloopConfig.cmake" INSTALL_DESTINATION ${TAPELOOP_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/tapeloopConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/tapeloopConfig.cmake"
              "${PROJECT_BINARY_DIR}/tapeloopConfigVersion.cmake"
        DESTINATION ${TAPELOOP_CMAKE_DIR})

# pkg-config: a static library lists what its final link needs in Libs.private/Requires.private.
if(TAPELOOP_THREADS STREQUAL "tbb")
  set(TAPELOOP_PC_REQUIRES_PRIVATE "tbb openblas")
else()
  set(TAPELOOP_PC_REQUIRES_PRIVATE "openblas")
endif()
foreach(pc tapeloop tapeloop-models)
  configure_file(lib/cmake/${pc}.pc.in "${PROJECT_BINARY_DIR}/${pc}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/${pc}.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
